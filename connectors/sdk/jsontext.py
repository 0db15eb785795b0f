"""Standard JSON from outside (webhook and REST bodies), or a clear refusal.

Python's ``json.loads`` accepts more than RFC 8259 and returns values that break later:

- ``NaN``, ``Infinity`` and numbers beyond a double (``1e400``) would be stored as
  ``null`` (or as ``NaN``, which PostgreSQL and every JSON answer refuse);
- ``"\\ud800"`` (half of a UTF-16 surrogate pair) becomes a string that cannot be
  encoded as UTF-8, so every page and API answer showing it fails;
- nesting about 1,000 levels deep raises ``RecursionError`` (not ``ValueError``), and
  anything nested deeper than a few hundred levels breaks the code that walks it later.

:func:`loads` refuses all of them with an :class:`InvalidInputError` that says what is
wrong, so the sender gets a 4xx and nothing is stored. Numbers are kept as the sender
wrote them otherwise (integers stay exact).
"""

from __future__ import annotations

import json
from typing import Any

from connectors.sdk.errors import InvalidInputError

MAX_DEPTH = 100
"""Deepest nesting of objects and arrays accepted (the top-level value is level 1)."""


class _Refused(Exception):
    """Raised from the decoder's hooks: ``json`` wraps nothing, so it reaches :func:`loads`."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; send null or a string instead.")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:40]} is beyond what a 64-bit float holds (about 1.8e308); send it as a string.")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def loads(data: bytes | str, *, what: str = "The request body") -> Any:
    """``data`` parsed as standard JSON; :class:`InvalidInputError` (``what`` starts its
    message) when it is not UTF-8 JSON, uses ``NaN``/``Infinity``, has a number beyond a
    double, a lone surrogate, or nesting deeper than :data:`MAX_DEPTH`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8")  # strict: also refuses surrogates smuggled in as bytes
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{what} is not valid JSON: it is not UTF-8 text (byte {exc.start}).") from None
    try:
        value = _DECODER.decode(text.removeprefix("\ufeff"))
    except _Refused as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError(f"{what} is refused: its JSON is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        if "integer string conversion" in str(exc):
            raise InvalidInputError(f"{what} is refused: it has an integer of more than 4,300 digits; send it as a string.") from None
        raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None
    # both checks walk the value: skip them when the text shows they cannot fail
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    escapes = "\\u" in text
    if deep or escapes:
        _check(value, what, deep=deep, escapes=escapes)
    return value


def _check(value: Any, what: str, *, deep: bool, escapes: bool) -> None:
    """Walk ``value`` without recursion (the point is to refuse what recursion cannot take)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if deep and depth > MAX_DEPTH:
            raise InvalidInputError(f"{what} is refused: its JSON is nested more than {MAX_DEPTH} levels deep.")
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            if escapes and isinstance(key, str):
                _text(key, what)
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif escapes and isinstance(child, str):
                _text(child, what)
    if escapes and isinstance(value, str):
        _text(value, what)


def _text(value: str, what: str) -> None:
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        half = f"\\u{ord(value[exc.start]):04x}"
        raise InvalidInputError(
            f"{what} is refused: it contains {half}, half of a UTF-16 surrogate pair, which is not text. "
            "Send the whole character (both halves of the pair) or leave it out."
        ) from None


__all__ = ["MAX_DEPTH", "loads"]
