"""The filters and functions the mapping language adds to Jinja's builtins.

Each one is listed explicitly in ``FILTERS`` / ``GLOBALS`` and documented in
docs/mapping.md. They raise :class:`ExpressionError` with a message written for the
scenario author; the mapping module adds the cell, field and expression to it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2.runtime import Undefined

from cells._coerce import dump_json, parse_datetime, parse_number, show, to_text
from cells._mapping_sizes import MAX_ITEMS

_MISSING: Any = object()
_MAX_SEPARATOR = 10
_MAX_INDENT = 32


class ExpressionError(Exception):
    """A filter, function or limit refused its input; the message is for people."""


def ensure_defined(value: Any) -> Any:
    """Raise the undefined-path error now when a filter receives an undefined value."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def kind(value: Any) -> str:
    """Name a value's type the way JSON users do (object, list, text, number...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def check_indent(indent: Any) -> None:
    """Refuse JSON indents that would multiply the output size."""
    if isinstance(indent, int | str) and not isinstance(indent, bool):
        size = indent if isinstance(indent, int) else len(indent)
        if size > _MAX_INDENT:
            raise ExpressionError(f"indent {show(indent)} is larger than {_MAX_INDENT}")


def to_json(value: Any, indent: int | None = None) -> str:
    """``{{ x | json }}``: the value as JSON text (UTF-8 kept, optional ``indent``)."""
    check_indent(indent)
    return dump_json(ensure_defined(value), indent=indent)


def from_json(value: Any) -> Any:
    """``{{ x | from_json }}``: parse JSON text into a value."""
    ensure_defined(value)
    if not isinstance(value, str | bytes):
        raise ExpressionError(f"from_json expects text, got {kind(value)}")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"from_json: invalid JSON ({exc})") from None


def number(value: Any, default: Any = _MISSING) -> Any:
    """``{{ x | number }}``: parse ``"1,234.50"`` to 1234.5 and ``"42"`` to 42.

    With ``default`` the default is returned instead of failing.
    """
    parsed = parse_number(ensure_defined(value))
    if parsed is not None:
        return parsed
    if default is not _MISSING:
        return default
    raise ExpressionError(f"{show(value)} is not a number")


def slugify(value: Any, separator: str = "-") -> str:
    """``{{ x | slugify }}``: ``"Héllo, World!"`` becomes ``"hello-world"``."""
    if len(separator) > _MAX_SEPARATOR:
        raise ExpressionError(f"slugify separator is longer than {_MAX_SEPARATOR} characters")
    text = unicodedata.normalize("NFKD", to_text(ensure_defined(value)))
    ascii_text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", separator, ascii_text).strip(separator)


def format_date(value: Any, fmt: str | None = None, tz: str | None = None) -> str:
    """``{{ x | date('%Y-%m-%d') }}``: parse ISO 8601 / epoch / RFC 2822, then format.

    Without ``fmt`` the result is ISO 8601. ``tz`` (an IANA name such as
    ``"Europe/Paris"``) converts before formatting; otherwise the value keeps its
    offset, and naive values are UTC.
    """
    parsed = parse_datetime(ensure_defined(value))
    if parsed is None:
        raise ExpressionError(f"{show(value)} is not a date")
    if tz is not None:
        try:
            parsed = parsed.astimezone(ZoneInfo(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise ExpressionError(f"unknown time zone {show(tz)}") from None
    return parsed.isoformat() if fmt is None else parsed.strftime(fmt)


def now() -> str:
    """``{{ now() }}``: the current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def pick(value: Any, *keys: Any) -> dict[Any, Any]:
    """``{{ x | pick('id', 'name') }}``: a dict with only those keys (missing ones skipped).

    Keys may also be given as one list: ``pick(['id', 'name'])``.
    """
    ensure_defined(value)
    if not isinstance(value, Mapping):
        raise ExpressionError(f"pick expects an object, got {kind(value)}")
    wanted: list[Any] = []
    for key in keys:
        wanted.extend(key if isinstance(key, list | tuple) else [key])
    return {key: value[key] for key in wanted if key in value}


def flatten(value: Any, depth: int = 1) -> list[Any]:
    """``{{ x | flatten }}``: ``[[1, 2], [3]]`` becomes ``[1, 2, 3]`` (``depth`` levels)."""
    ensure_defined(value)
    if not isinstance(value, list | tuple):
        raise ExpressionError(f"flatten expects a list, got {kind(value)}")
    result: list[Any] = []
    for item in value:
        if isinstance(item, list | tuple) and depth > 0:
            # One list held many times ([big] * n) would be copied n times over.
            part = flatten(item, depth - 1)
            if len(result) + len(part) > MAX_ITEMS:
                raise ExpressionError(
                    f"flatten would build a list of more than {MAX_ITEMS:,} items"
                )
            result.extend(part)
        else:
            result.append(item)
    return result


def _hasher(name: str) -> Callable[[Any], str]:
    def digest(value: Any) -> str:
        data = ensure_defined(value)
        raw = data if isinstance(data, bytes) else to_text(data).encode("utf-8")
        return hashlib.new(name, raw, usedforsecurity=False).hexdigest()

    digest.__name__ = name
    digest.__doc__ = f"``{{{{ x | {name} }}}}``: hex {name} of the value's text (UTF-8)."
    return digest


FILTERS: dict[str, Callable[..., Any]] = {
    "json": to_json,
    "from_json": from_json,
    "number": number,
    "slugify": slugify,
    "date": format_date,
    "pick": pick,
    "flatten": flatten,
    "md5": _hasher("md5"),
    "sha256": _hasher("sha256"),
}

GLOBALS: dict[str, Callable[..., Any]] = {"now": now}
