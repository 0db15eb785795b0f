"""Schedule: run a scenario on a cron schedule (in a time zone) or at a fixed interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.sdk import App, ScheduleTrigger, load_sample


class ScheduleInput(BaseModel):
    """When to run."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["cron", "interval"] = Field(
        "interval", description="cron: a cron expression; interval: every N minutes."
    )
    cron: str | None = Field(
        None,
        description="Cron expression (minute hour day month weekday), e.g. '0 9 * * 1-5'.",
        examples=["0 9 * * 1-5"],
    )
    timezone: str = Field(
        "UTC", description="IANA time zone the cron expression is read in, e.g. 'Europe/Paris'."
    )
    interval_minutes: int = Field(
        15, ge=1, le=60 * 24 * 31, description="Minutes between runs in interval mode."
    )

    @model_validator(mode="after")
    def _check(self) -> ScheduleInput:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"Unknown time zone '{self.timezone}'. Use an IANA name such as 'Europe/Paris'."
            ) from None
        if self.mode == "cron":
            if not self.cron:
                raise ValueError("A cron expression is required in cron mode.")
            if not croniter.is_valid(self.cron):
                raise ValueError(
                    f"'{self.cron}' is not a valid cron expression (minute hour day month weekday)."
                )
        return self


class ScheduleOutput(BaseModel):
    """The tick that started the run."""

    scheduled_for: str = Field(
        description="The planned fire time, ISO 8601 in the schedule's time zone."
    )
    timezone: str = Field(description="The schedule's time zone.")


def next_fire(inputs: ScheduleInput, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware, UTC)."""
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    if inputs.mode == "interval":
        step = timedelta(minutes=inputs.interval_minutes)
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        periods = (after - epoch) // step + 1
        return epoch + periods * step
    zone = ZoneInfo(inputs.timezone)
    it = croniter(inputs.cron, after.astimezone(zone))
    hourly = "*" in (inputs.cron or "").split()[1]
    while True:
        result: datetime = it.get_next(datetime)
        # a local time that repeats when clocks go back (fold=1) fires once, as cron does
        if result.astimezone(zone).fold == 0 or hourly:
            return result.astimezone(UTC)


every = ScheduleTrigger(
    key="every",
    name="On a schedule",
    description="Starts the scenario at fixed intervals or on a cron schedule in your time zone.",
    input=ScheduleInput,
    output=ScheduleOutput,
    sample=load_sample(__file__, "every"),
    next_fire=next_fire,
)

app = App(
    key="schedule",
    name="Schedule",
    description="Run scenarios on a timetable.",
    category="Built-in",
    icon="schedule",
    triggers=(every,),
    builtin=True,
)
