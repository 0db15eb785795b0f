"""JSON from outside and JSON typed by people: parse it, or say clearly why not.

Two entry points share one strict decoder:

- :func:`loads` — webhook and REST bodies. Python's ``json.loads`` accepts more than
  RFC 8259 and returns values that break later: ``NaN``, ``Infinity`` and numbers beyond
  a double (``1e400``) would be stored as ``null`` (or as ``NaN``, which PostgreSQL and
  every JSON answer refuse); ``"\\ud800"`` (half of a UTF-16 surrogate pair) becomes a
  string that cannot be encoded as UTF-8, so every page and API answer showing it fails;
  nesting about 1,000 levels deep raises ``RecursionError``. :func:`loads` refuses all of
  them with an :class:`InvalidInputError` that says what is wrong, so the sender gets a
  4xx and nothing is stored. Numbers are kept as the sender wrote them otherwise.
- :func:`parse_json_text` — JSON typed into the workspace's object and list fields and
  the HTTP action's JSON body, whose strings may hold ``{{ }}`` mappings. ``json.loads``
  alone answers "Expecting ',' delimiter: line 1 column 12 (char 11)"; this answers
  "Line 1, column 12: a comma, or the closing bracket, is missing here." and, for the
  most common slip — a reference written without quotes — says how to write it.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.sdk.errors import InvalidInputError

MAX_DEPTH = 100
"""Deepest nesting of objects and arrays accepted (the top-level value is level 1)."""


class UnreadableJson(InvalidInputError):
    """Bytes that are not JSON at all (not UTF-8, or a syntax error), as opposed to JSON
    that parses but is refused (``NaN``, a half surrogate pair…). ``detail`` is the
    parser's complaint, or None for text that is not UTF-8."""

    def __init__(self, message: str, *, detail: str | None) -> None:
        super().__init__(message)
        self.detail = detail


class _Refused(Exception):
    """Raised from the decoder's hooks: ``json`` wraps nothing, so it reaches :func:`loads`."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; send null or a string instead.")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(
            f"the number {text[:40]} is beyond what a 64-bit float holds (about 1.8e308); "
            "send it as a string."
        )
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
        raise UnreadableJson(
            f"{what} is not valid JSON: it is not UTF-8 text (byte {exc.start}).", detail=None
        ) from None
    try:
        value = _DECODER.decode(text.removeprefix("\ufeff"))
    except _Refused as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError(
            f"{what} is refused: its JSON is nested more than {MAX_DEPTH} levels deep."
        ) from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        if "integer string conversion" in str(exc):
            raise InvalidInputError(
                f"{what} is refused: it has an integer of more than 4,300 digits; "
                "send it as a string."
            ) from None
        raise UnreadableJson(f"{what} is not valid JSON: {exc}", detail=str(exc)) from None
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
            raise InvalidInputError(
                f"{what} is refused: its JSON is nested more than {MAX_DEPTH} levels deep."
            )
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
            f"{what} is refused: it contains {half}, half of a UTF-16 surrogate pair, which "
            "is not text. Send the whole character (both halves of the pair) or leave it out."
        ) from None


class InvalidJsonText(ValueError):
    """JSON text that does not parse; ``str()`` is a sentence with the line and column."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


#: json's messages (stable across CPython versions) → what they mean for a person
_MEANINGS = (
    (
        "Expecting property name enclosed in double quotes",
        'a key in double quotes is expected here (JSON uses "double" quotes, '
        "and allows no comma before a closing })",
    ),
    ("Expecting ',' delimiter", "a comma, or the closing bracket, is missing here"),
    ("Expecting ':' delimiter", "a colon is missing after the key"),
    (
        "Expecting value",
        "a value is expected here: text in double quotes, a number, true, false, null, "
        "an object {…} or a list […]",
    ),
    ("Unterminated string", "a text in double quotes is not closed"),
    ("Invalid control character", "a text cannot hold a line break or tab as is; write \\n or \\t"),
    ("Invalid \\escape", "this backslash escape is not valid JSON; write \\\\ for a backslash"),
    ("Extra data", "there is more text after the end of the JSON value"),
)


def is_lone_mapping(text: str) -> bool:
    """True for text that is exactly one ``{{ … }}`` reference (it keeps its type)."""
    stripped = text.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def parse_json_text(text: str) -> Any:
    """Parse ``text`` as JSON; raise :class:`InvalidJsonText` saying where it breaks."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _explain(exc) from None
    except _Refused as exc:
        raise InvalidJsonText(f"Not valid JSON: {exc}", line=1, column=1) from None
    except RecursionError:
        raise InvalidJsonText(
            f"The JSON is nested more than {MAX_DEPTH} levels deep.", line=1, column=1
        ) from None


def _explain(exc: json.JSONDecodeError) -> InvalidJsonText:
    doc, pos, line, column = exc.doc, exc.pos, exc.lineno, exc.colno
    meaning = next((words for prefix, words in _MEANINGS if exc.msg.startswith(prefix)), exc.msg)
    before = doc[:pos].rstrip()
    if "{{" in doc[max(pos - 1, 0) : pos + 2]:
        if doc[pos : pos + 2] != "{{":  # the decoder stopped on the second brace
            pos, column = pos - 1, column - 1
        meaning = (
            "a {{ }} reference must stand inside double quotes, e.g. "
            '"{{ trigger.body.id }}" (alone in its quotes it keeps its type)'
        )
    elif exc.msg.startswith("Expecting property name") and before.endswith(","):
        meaning = "remove the comma before the closing }"
    elif (
        exc.msg.startswith("Expecting value") and before.endswith(",") and doc[pos : pos + 1] == "]"
    ):
        meaning = "remove the comma before the closing ]"
    near = doc[pos : pos + 24].split("\n", 1)[0]
    snippet = f" (at: {near}{'…' if len(near) == 24 else ''})" if near.strip() else " (at the end)"
    return InvalidJsonText(
        f"Not valid JSON. Line {line}, column {column}{snippet}: {meaning}.",
        line=line,
        column=column,
    )


__all__ = [
    "MAX_DEPTH",
    "InvalidJsonText",
    "UnreadableJson",
    "is_lone_mapping",
    "loads",
    "parse_json_text",
]
