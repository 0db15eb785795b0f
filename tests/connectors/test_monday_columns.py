"""monday.com column values: every type of the builder
table, and the readable texts of webhook values."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.monday.columns import (
    READ_ONLY,
    ColumnValueError,
    build_column_values,
    column_value,
    value_text,
)
from connectors.sdk import InvalidInputError

TABLE: list[tuple[str, Any, Any]] = [
    ("text", "Launch plan", "Launch plan"),
    ("name", "Renamed item", "Renamed item"),
    ("long_text", "Several\nlines", {"text": "Several\nlines"}),
    ("numbers", 42, "42"),
    ("numbers", "4.5", "4.5"),
    ("status", "Approved", {"label": "Approved"}),
    ("status", 3, {"index": 3}),
    ("dropdown", "Blog, News", {"labels": ["Blog", "News"]}),
    ("dropdown", ["Blog"], {"labels": ["Blog"]}),
    ("dropdown", [1, 2], {"ids": [1, 2]}),
    ("date", "2026-11-25", {"date": "2026-11-25"}),
    ("date", "2026-11-25T14:30:00Z", {"date": "2026-11-25", "time": "14:30:00"}),
    ("date", "2026-11-25T16:30:00+02:00", {"date": "2026-11-25", "time": "14:30:00"}),
    ("date", "2026-11-25 09:15", {"date": "2026-11-25", "time": "09:15:00"}),
    ("date", date(2026, 1, 2), {"date": "2026-01-02"}),
    (
        "date",
        datetime(2026, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
        {"date": "2026-01-03", "time": "01:30:00"},
    ),
    (
        "people",
        "123, 456",
        {"personsAndTeams": [{"id": 123, "kind": "person"}, {"id": 456, "kind": "person"}]},
    ),
    (
        "people",
        [123, "team:789"],
        {"personsAndTeams": [{"id": 123, "kind": "person"}, {"id": 789, "kind": "team"}]},
    ),
    ("person", 5, {"personsAndTeams": [{"id": 5, "kind": "person"}]}),
    ("email", "ada@example.com", {"email": "ada@example.com", "text": "ada@example.com"}),
    ("link", "https://example.com", {"url": "https://example.com", "text": "https://example.com"}),
    ("phone", "+33612345678", {"phone": "+33612345678"}),
    ("checkbox", True, {"checked": "true"}),
    ("checkbox", "yes", {"checked": "true"}),
    ("checkbox", False, None),
    ("checkbox", "no", None),
    ("rating", "4", {"rating": 4}),
    ("hour", "14:30", {"hour": 14, "minute": 30}),
    ("timeline", "2026-01-01/2026-01-31", {"from": "2026-01-01", "to": "2026-01-31"}),
    ("timeline", ["2026-01-01", "2026-01-31"], {"from": "2026-01-01", "to": "2026-01-31"}),
    (
        "week",
        "2026-01-05/2026-01-11",
        {"week": {"startDate": "2026-01-05", "endDate": "2026-01-11"}},
    ),
    ("tags", [12, 34], {"tag_ids": [12, 34]}),
    ("board_relation", "111, 222", {"item_ids": [111, 222]}),
    ("dependency", [111], {"item_ids": [111]}),
    ("world_clock", "Europe/Paris", {"timezone": "Europe/Paris"}),
    (
        "location",
        "48.85,2.35,Paris, France",
        {"lat": "48.85", "lng": "2.35", "address": "Paris, France"},
    ),
    (
        "country",
        {"countryCode": "FR", "countryName": "France"},
        {"countryCode": "FR", "countryName": "France"},
    ),
    ("status", {"index": 1}, {"index": 1}),
    ("text", None, ""),
    ("numbers", None, ""),
    ("status", None, {}),
]


@pytest.mark.parametrize(
    ("column_type", "given", "sent"), TABLE, ids=[f"{t}-{g!r}" for t, g, _ in TABLE]
)
def test_each_column_type_gets_its_shape(column_type: str, given: Any, sent: Any) -> None:
    assert column_value(column_type, given) == sent


ERRORS: list[tuple[str, Any, str]] = [
    ("numbers", "twelve", "not a number"),
    ("numbers", True, "give a number"),
    ("date", "tomorrow", "not a date"),
    ("people", "ada", "user IDs"),
    ("people", "robot:1", "user IDs"),
    ("email", "nope", "not an e-mail"),
    ("checkbox", "maybe", "not yes/no"),
    ("rating", "five", "whole number"),
    ("hour", "half past two", "not a time"),
    ("timeline", "2026-01-01", "two dates"),
    ("tags", ["news"], "numeric IDs"),
    ("location", "north,south", "latitude,longitude"),
    ("country", "FR", "JSON object"),
    ("formula", "1+1", "cannot be written"),
    ("mirror", {"a": 1}, "cannot be written"),
]


@pytest.mark.parametrize(
    ("column_type", "given", "message"), ERRORS, ids=[e[0] + "-" + str(e[1]) for e in ERRORS]
)
def test_values_that_do_not_fit_are_refused(column_type: str, given: Any, message: str) -> None:
    with pytest.raises(ColumnValueError, match=message):
        column_value(column_type, given)


def test_read_only_types_cover_what_monday_computes() -> None:
    assert {
        "formula",
        "mirror",
        "auto_number",
        "creation_log",
        "last_updated",
        "subtasks",
    } <= READ_ONLY


def test_build_names_every_column_that_does_not_fit() -> None:
    with pytest.raises(InvalidInputError) as caught:
        build_column_values(
            {"status": "Done", "numbers": "lots", "date4": "soon"},
            {"status": "status", "numbers": "numbers", "date4": "date"},
        )
    assert [e["field"] for e in caught.value.errors] == [
        "column_values.numbers",
        "column_values.date4",
    ]
    assert "column_values.numbers: numbers column: 'lots' is not a number" in caught.value.message
    assert build_column_values({"status": "Done"}, {"status": "status"}) == {
        "status": {"label": "Done"}
    }


WEBHOOK_VALUES: list[tuple[Any, str | None]] = [
    ({"label": {"index": 3, "text": "Approved", "style": {}}, "post_id": None}, "Approved"),
    ({"value": "Gift ideas"}, "Gift ideas"),
    ({"value": 12, "unit": None}, "12"),
    ({"text": "Body"}, "Body"),
    ({"date": "2026-03-01", "time": None}, "2026-03-01"),
    ({"date": "2026-03-01", "time": "10:00:00"}, "2026-03-01 10:00:00"),
    (
        {"personsAndTeams": [{"id": 1001, "kind": "person"}, {"id": 7, "kind": "team"}]},
        "person:1001, team:7",
    ),
    ({"chosenValues": [{"id": 1, "name": "Blog"}, {"id": 2, "name": "News"}]}, "Blog, News"),
    ({"email": "ada@example.com", "text": "Ada"}, "ada@example.com"),
    ({"url": "https://example.com", "text": "Example"}, "https://example.com"),
    ({"checked": True}, "True"),
    ([{"value": "a"}, {"value": "b"}], "a, b"),
    ({"something": "else"}, None),
    (None, None),
    (7, "7"),
]


@pytest.mark.parametrize(("value", "text"), WEBHOOK_VALUES)
def test_webhook_values_read_as_text(value: Any, text: str | None) -> None:
    assert value_text(value) == text
