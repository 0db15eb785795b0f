"""monday.com column values: simple values in, the JSON each column type expects out.

``column_values`` (create_item, change_multiple_column_values, create_subitem) is a JSON
object of column id → value whose shape depends on the column's type
(https://developer.monday.com/api-reference/docs/change-column-values). Users give
simple values; ``build_column_values`` turns them into the right shape (column type: what
you give → what is sent to monday):

- text, name: ``"Launch plan"`` → ``"Launch plan"``
- long_text: ``"Several\\nlines"`` → ``{"text": "Several\\nlines"}``
- numbers: ``42``, ``"4.5"`` → ``"42"`` (numbers travel as strings)
- status: ``"Approved"`` (label) or ``3`` (index) → ``{"label": "Approved"}`` / ``{"index": 3}``
- dropdown: ``"Blog, News"``, ``["Blog"]``, ``[1, 2]`` →
  ``{"labels": ["Blog", "News"]}`` / ``{"ids": [1, 2]}``
- date: ``"2026-11-25"``, ``"2026-11-25T14:30:00Z"`` →
  ``{"date": "2026-11-25"}`` (+ ``"time": "14:30:00"`` UTC)
- people: ``"123, 456"``, ``[123]``, ``"team:789"`` →
  ``{"personsAndTeams": [{"id": 123, "kind": "person"}]}``
- email: ``"ada@example.com"`` → ``{"email": "ada@example.com", "text": "ada@example.com"}``
- link: ``"https://example.com"`` →
  ``{"url": "https://example.com", "text": "https://example.com"}``
- phone: ``"+33612345678"`` → ``{"phone": "+33612345678"}``
- checkbox: ``true``, ``"yes"``, ``false`` → ``{"checked": "true"}`` / ``null`` (unchecks)
- rating: ``4`` → ``{"rating": 4}``
- hour: ``"14:30"`` → ``{"hour": 14, "minute": 30}``
- timeline: ``"2026-01-01/2026-01-31"`` → ``{"from": "2026-01-01", "to": "2026-01-31"}``
- week: ``"2026-01-05/2026-01-11"`` → ``{"week": {"startDate": …, "endDate": …}}``
- tags: ``[12, 34]`` → ``{"tag_ids": [12, 34]}``
- board_relation, dependency: ``[111, 222]`` → ``{"item_ids": [111, 222]}``
- world_clock: ``"Europe/Paris"`` → ``{"timezone": "Europe/Paris"}``
- location: ``"48.85,2.35,Paris"`` → ``{"lat": "48.85", "lng": "2.35", "address": "Paris"}``

Any type also takes a JSON object (``{...}``), sent unchanged: the escape hatch for
shapes this list does not cover (country, color picker…). ``null`` clears a column
(``""`` for text-like columns, ``{}`` for the others). Columns monday computes itself
(formula, mirror, auto number, creation log…) cannot be written and are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from connectors.sdk import InvalidInputError

READ_ONLY = frozenset(
    {
        "auto_number",
        "button",
        "creation_log",
        "formula",
        "item_id",
        "last_updated",
        "mirror",
        "progress",
        "subtasks",
        "vote",
        "file",
        "doc",
        "direct_doc",
        "time_tracking",
        "integration",
        "unsupported",
        "group",
        "item_assignees",
    }
)
TEXT_LIKE = frozenset({"text", "name", "numbers"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "checked", "x", "v"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "unchecked", ""})


class ColumnValueError(ValueError):
    """A value that does not fit its column's type (message says how it should look)."""


def _items(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set):
        return [v for v in value if v not in (None, "")]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _ids(value: Any) -> list[int]:
    try:
        return [int(v) for v in _items(value)]
    except (TypeError, ValueError):
        raise ColumnValueError('give numeric IDs, e.g. [123, 456] or "123, 456"') from None


def _text(value: Any) -> str:
    return str(value)


def _long_text(value: Any) -> dict[str, Any]:
    return {"text": str(value)}


def _numbers(value: Any) -> str:
    if isinstance(value, bool):
        raise ColumnValueError("give a number")
    text = str(value).strip()
    try:
        float(text)
    except ValueError:
        raise ColumnValueError(f"{value!r} is not a number") from None
    return text


def _status(value: Any) -> dict[str, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"index": value}
    return {"label": str(value).strip()}


def _dropdown(value: Any) -> dict[str, Any]:
    items = _items(value)
    if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return {"ids": items}
    return {"labels": [str(v) for v in items]}


def _date(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return {"date": value.isoformat()}
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return {"date": date.fromisoformat(text).isoformat()}
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ColumnValueError(
                f"{value!r} is not a date: use YYYY-MM-DD or an ISO date-time"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return {
        "date": moment.date().isoformat(),
        "time": moment.time().replace(microsecond=0).isoformat(),
    }


def _people(value: Any) -> dict[str, Any]:
    people = []
    for entry in _items(value):
        kind, _, ident = str(entry).rpartition(":")
        if kind not in ("", "person", "team") or not ident.strip().isdigit():
            raise ColumnValueError("give user IDs (numbers), or team:<id> for a team")
        people.append({"id": int(ident), "kind": kind or "person"})
    return {"personsAndTeams": people}


def _email(value: Any) -> dict[str, Any]:
    text = str(value).strip()
    if "@" not in text:
        raise ColumnValueError(f"{value!r} is not an e-mail address")
    return {"email": text, "text": text}


def _link(value: Any) -> dict[str, Any]:
    text = str(value).strip()
    return {"url": text, "text": text}


def _phone(value: Any) -> dict[str, Any]:
    return {"phone": str(value).strip()}


def _checkbox(value: Any) -> dict[str, Any] | None:
    word = str(value).strip().lower()
    if value is True or word in TRUE_WORDS:
        return {"checked": "true"}
    if value is False or word in FALSE_WORDS:
        return None
    raise ColumnValueError(f"{value!r} is not yes/no")


def _rating(value: Any) -> dict[str, Any]:
    try:
        return {"rating": int(value)}
    except (TypeError, ValueError):
        raise ColumnValueError("give a whole number of stars") from None


def _hour(value: Any) -> dict[str, Any]:
    try:
        moment = time.fromisoformat(str(value).strip())
    except ValueError:
        raise ColumnValueError(f"{value!r} is not a time: use HH:MM") from None
    return {"hour": moment.hour, "minute": moment.minute}


def _range(value: Any) -> tuple[str, str]:
    if isinstance(value, list | tuple) and len(value) == 2:
        start, end = value
    else:
        start, _, end = str(value).partition("/")
    try:
        return date.fromisoformat(str(start).strip()).isoformat(), date.fromisoformat(
            str(end).strip()
        ).isoformat()
    except ValueError:
        raise ColumnValueError("give two dates as YYYY-MM-DD/YYYY-MM-DD") from None


def _timeline(value: Any) -> dict[str, Any]:
    start, end = _range(value)
    return {"from": start, "to": end}


def _week(value: Any) -> dict[str, Any]:
    start, end = _range(value)
    return {"week": {"startDate": start, "endDate": end}}


def _tags(value: Any) -> dict[str, Any]:
    return {"tag_ids": _ids(value)}


def _item_ids(value: Any) -> dict[str, Any]:
    return {"item_ids": _ids(value)}


def _world_clock(value: Any) -> dict[str, Any]:
    return {"timezone": str(value).strip()}


def _location(value: Any) -> dict[str, Any]:
    lat, _, rest = str(value).partition(",")
    lng, _, address = rest.partition(",")
    try:
        float(lat), float(lng)
    except ValueError:
        raise ColumnValueError('give "latitude,longitude,address"') from None
    return {"lat": lat.strip(), "lng": lng.strip(), "address": address.strip()}


BUILDERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "name": _text,
    "long_text": _long_text,
    "numbers": _numbers,
    "status": _status,
    "dropdown": _dropdown,
    "date": _date,
    "people": _people,
    "person": _people,
    "email": _email,
    "link": _link,
    "phone": _phone,
    "checkbox": _checkbox,
    "rating": _rating,
    "hour": _hour,
    "timeline": _timeline,
    "week": _week,
    "tags": _tags,
    "board_relation": _item_ids,
    "dependency": _item_ids,
    "world_clock": _world_clock,
    "location": _location,
}


def column_value(column_type: str, value: Any) -> Any:
    """The JSON monday expects for ``value`` in a column of ``column_type``."""
    if column_type in READ_ONLY:
        raise ColumnValueError(
            f"{column_type} columns are filled in by monday.com and cannot be written"
        )
    if value is None:
        return "" if column_type in TEXT_LIKE else {}
    if isinstance(value, dict):
        return value  # already in monday's shape
    builder = BUILDERS.get(column_type)
    if builder is None:
        raise ColumnValueError(f"give {column_type} values as a JSON object in monday's format")
    return builder(value)


def build_column_values(values: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """``column_values`` for a mutation; ``types`` maps each column id to its type.

    Raises ``InvalidInputError`` naming every column whose value does not fit.
    """
    built: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for column_id, value in values.items():
        column_type = types[column_id]
        try:
            built[column_id] = column_value(column_type, value)
        except ColumnValueError as exc:
            errors.append(
                {"field": f"column_values.{column_id}", "message": f"{column_type} column: {exc}"}
            )
    if errors:
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidInputError(
            f"Some column values do not fit their columns — {listed}", errors=errors
        )
    return built


def value_text(value: Any) -> str | None:
    """A readable text for a column value as monday's webhooks send it.

    Webhook values are per-type objects: status ``{"label": {"text": ...}}``, text
    ``{"value": ...}``, date ``{"date", "time"}``, people ``{"personsAndTeams": [...]}``,
    dropdown ``{"chosenValues": [{"name"}]}``, email/link ``{"email"|"url", "text"}``…
    """
    if value is None or isinstance(value, str | int | float | bool):
        return None if value is None else str(value)
    if isinstance(value, list):
        parts = [value_text(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    label = value.get("label")
    if isinstance(label, dict):
        return value_text(label.get("text"))
    if "date" in value:
        return " ".join(str(v) for v in (value.get("date"), value.get("time")) if v) or None
    if "personsAndTeams" in value:
        return (
            ", ".join(f"{p.get('kind', 'person')}:{p.get('id')}" for p in value["personsAndTeams"])
            or None
        )
    if "chosenValues" in value:
        return ", ".join(str(c.get("name")) for c in value["chosenValues"]) or None
    for key in ("email", "url", "phone", "text", "value", "name", "checked", "rating", "timezone"):
        if value.get(key) not in (None, ""):
            return str(value[key])
    return None
