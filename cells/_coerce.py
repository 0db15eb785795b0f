"""Value coercions shared by the mapping filters and the condition rules.

One definition of "a number", "a date", "empty" and "the text form of a value" keeps
``{{ x | number }}``, ``{{ x | date }}``, text templates and the condition operators in
agreement; docs/mapping.md documents these rules as a table.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

# Digits with optional well-formed thousands separators ("1,234,567"), an optional
# fraction and exponent. Locale forms such as "1.234,50" are deliberately not guessed.
_NUMBER = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"\d+(?:\.\d+)?")
# Past this many seconds an epoch is implausible (year 5138); such values come from
# JavaScript's Date.now() and are milliseconds.
_EPOCH_MS_THRESHOLD = 100_000_000_000
_MAX_NUMBER_TEXT = 400


def parse_number(value: Any) -> int | float | None:
    """Return ``value`` as an int or float, or None when it is not a number.

    Accepts ints, finite floats, Decimals and strings such as ``"42"``, ``"-1,234.50"``
    or ``"1e3"``. Booleans are not numbers. Strings without a fraction or exponent
    become ints, so large ids keep their exact value.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > _MAX_NUMBER_TEXT or not _NUMBER.fullmatch(text):
        return None
    text = text.replace(",", "")
    if "." in text or "e" in text or "E" in text:
        number = float(text)
        return number if math.isfinite(number) else None
    return int(text)


def parse_datetime(value: Any) -> datetime | None:
    """Return ``value`` as a timezone-aware datetime, or None when it is not a date.

    Accepts datetimes and dates, epoch seconds (int, float or a digit string; values
    above 1e11 are taken as milliseconds), ISO 8601 strings and RFC 2822 strings
    (``"Tue, 02 Jan 2024 03:04:05 GMT"``). Naive values are taken as UTC.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH.fullmatch(text):
            return _from_epoch(float(text))
        return _from_text(text)
    if isinstance(value, int | float | Decimal):
        return _from_epoch(float(value))
    return None


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds):
        return None
    if abs(seconds) > _EPOCH_MS_THRESHOLD:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_text(text: str) -> datetime | None:
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_text(value: Any) -> str:
    """The text form of a value, used when it is written into a larger string.

    None is empty, booleans are ``true``/``false``, lists and dicts are JSON, dates are
    ISO 8601; everything else is ``str(value)``.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return dump_json(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    # Dates, Decimals and sets appear in data produced by Python connectors; write them
    # the way an API would rather than failing the whole dump.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def dump_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise ``value`` as JSON (UTF-8 kept, dates as ISO 8601, Decimals as numbers)."""
    try:
        return json.dumps(
            value, ensure_ascii=False, indent=indent, sort_keys=sort_keys, default=_json_default
        )
    except TypeError:
        if not sort_keys:
            raise
        # Keys of mixed types cannot be sorted; their given order is still a stable form.
        return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def is_empty(value: Any) -> bool:
    """True for None, an empty or whitespace-only string, and an empty list or dict."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


def show(value: Any, limit: int = 80) -> str:
    """A short display of a value for explanations: strings quoted, None as null."""
    if isinstance(value, str):
        text = repr(value)
    elif value is None or isinstance(value, bool | dict | list | tuple):
        text = dump_json(value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
