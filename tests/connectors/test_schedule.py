"""The schedule trigger: next fire times (intervals, cron in a time zone) and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from connectors.schedule import ScheduleInput, ScheduleOutput, app, every, next_fire

PARIS = ZoneInfo("Europe/Paris")


def fires(inputs: ScheduleInput, after: datetime, count: int) -> list[datetime]:
    times = []
    for _ in range(count):
        after = next_fire(inputs, after)
        times.append(after)
    return times


# -- interval -----------------------------------------------------------------------


def test_interval_fires_on_fixed_boundaries_strictly_after() -> None:
    inputs = ScheduleInput(mode="interval", interval_minutes=15)
    assert next_fire(inputs, datetime(2026, 3, 29, 1, 7, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, 15, tzinfo=UTC
    )
    assert next_fire(inputs, datetime(2026, 3, 29, 1, 15, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    assert next_fire(inputs, datetime(2026, 3, 29, 1, 14, 59, 999999, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, 15, tzinfo=UTC
    )


def test_interval_reads_naive_times_as_utc_and_accepts_other_zones() -> None:
    inputs = ScheduleInput(mode="interval", interval_minutes=60)
    assert next_fire(inputs, datetime(2026, 3, 29, 1, 7)) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    paris_time = datetime(2026, 3, 29, 3, 7, tzinfo=PARIS)  # 01:07 UTC
    assert next_fire(inputs, paris_time) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


def test_interval_is_unaffected_by_dst() -> None:
    inputs = ScheduleInput(mode="interval", interval_minutes=60)
    times = fires(inputs, datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4)
    assert all(b - a == timedelta(hours=1) for a, b in zip(times, times[1:], strict=False))


# -- cron across DST in Europe/Paris ------------------------------------------------


def test_daily_cron_keeps_local_time_across_spring_forward() -> None:
    inputs = ScheduleInput(mode="cron", cron="0 9 * * *", timezone="Europe/Paris")
    times = fires(inputs, datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    assert [t.astimezone(PARIS).isoformat() for t in times] == [
        "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00",
        "2026-03-30T09:00:00+02:00",
    ]
    assert [t.hour for t in times] == [8, 7, 7]  # in UTC
    assert all(t.tzinfo == UTC for t in times)


def test_daily_cron_keeps_local_time_across_fall_back() -> None:
    inputs = ScheduleInput(mode="cron", cron="0 9 * * 1-5", timezone="Europe/Paris")
    times = fires(inputs, datetime(2026, 10, 22, 12, tzinfo=UTC), 3)
    assert [t.astimezone(PARIS).isoformat() for t in times] == [
        "2026-10-23T09:00:00+02:00",  # Friday
        "2026-10-26T09:00:00+01:00",  # Monday, after the change on Sunday
        "2026-10-27T09:00:00+01:00",
    ]


def test_a_time_skipped_by_spring_forward_fires_once_right_after_the_gap() -> None:
    inputs = ScheduleInput(mode="cron", cron="30 2 * * *", timezone="Europe/Paris")
    times = fires(inputs, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    local = [t.astimezone(PARIS) for t in times]
    assert local[0].date().isoformat() == "2026-03-29"
    assert local[0].hour == 3  # 02:30 does not exist that night
    assert local[1].isoformat() == "2026-03-30T02:30:00+02:00"


def test_hourly_cron_fires_every_real_hour_through_fall_back() -> None:
    inputs = ScheduleInput(mode="cron", cron="0 * * * *", timezone="Europe/Paris")
    times = fires(inputs, datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4)
    assert [t.strftime("%H:%M") for t in times] == [
        "00:00",
        "01:00",
        "02:00",
        "03:00",
    ]  # UTC: no gap, no double


def test_a_time_repeated_by_fall_back_fires_once() -> None:
    inputs = ScheduleInput(mode="cron", cron="30 2 * * *", timezone="Europe/Paris")
    times = fires(inputs, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    days = [t.astimezone(PARIS).date().isoformat() for t in times]
    assert days == ["2026-10-25", "2026-10-26"]


def test_cron_in_utc_by_default() -> None:
    inputs = ScheduleInput(mode="cron", cron="*/20 * * * *")
    assert next_fire(inputs, datetime(2026, 1, 1, 10, 5)) == datetime(
        2026, 1, 1, 10, 20, tzinfo=UTC
    )


# -- validation ---------------------------------------------------------------------


def _message(**data: object) -> str:
    with pytest.raises(ValidationError) as info:
        ScheduleInput.model_validate(data)
    return str(info.value.errors()[0]["msg"])


def test_invalid_cron_is_explained() -> None:
    assert _message(mode="cron", cron="61 * * * *") == (
        "Value error, '61 * * * *' is not a valid cron expression (minute hour day month weekday)."
    )
    assert "not a valid cron expression" in _message(mode="cron", cron="every monday")


def test_cron_mode_needs_an_expression() -> None:
    assert _message(mode="cron") == "Value error, A cron expression is required in cron mode."


def test_unknown_time_zone_is_explained() -> None:
    expected = (
        "Value error, Unknown time zone 'Mars/Olympus'. Use an IANA name such as 'Europe/Paris'."
    )
    assert _message(mode="cron", cron="0 9 * * *", timezone="Mars/Olympus") == expected
    assert "Unknown time zone" in _message(timezone="../../etc/passwd")


def test_interval_bounds_and_unknown_fields() -> None:
    assert "greater than or equal to 1" in _message(interval_minutes=0)
    assert "Extra inputs are not permitted" in _message(every="day")


def test_schedule_app_shape() -> None:
    assert app.trigger("every") is every
    assert every.trigger_type == "schedule"
    assert every.next_fire is next_fire
    ScheduleOutput.model_validate(every.sample)
    assert not app.needs_connection
