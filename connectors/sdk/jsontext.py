"""JSON typed by people: parse it, and when it is broken say where and why in words.

The workspace's object and list fields, and the HTTP action's JSON body, take JSON
text whose strings may hold ``{{ }}`` mappings. ``json.loads`` alone answers "Expecting
',' delimiter: line 1 column 12 (char 11)"; :func:`parse_json_text` answers "Line 1,
column 12: a comma or a closing } is missing before this point." and, for the most
common slip — a reference written without quotes — says how to write it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["InvalidJsonText", "is_lone_mapping", "parse_json_text"]


class InvalidJsonText(ValueError):
    """JSON text that does not parse; ``str()`` is a sentence with the line and column."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


#: json's messages (stable across CPython versions) → what they mean for a person
_MEANINGS = (
    ("Expecting property name enclosed in double quotes", "a key in double quotes is expected here (JSON uses \"double\" quotes, and allows no comma before a closing })"),
    ("Expecting ',' delimiter", "a comma, or the closing bracket, is missing here"),
    ("Expecting ':' delimiter", "a colon is missing after the key"),
    ("Expecting value", "a value is expected here: text in double quotes, a number, true, false, null, an object {…} or a list […]"),
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _explain(exc) from None
    except RecursionError:
        raise InvalidJsonText("The JSON is nested too deeply.", line=1, column=1) from None


def _explain(exc: json.JSONDecodeError) -> InvalidJsonText:
    doc, pos, line, column = exc.doc, exc.pos, exc.lineno, exc.colno
    meaning = next((words for prefix, words in _MEANINGS if exc.msg.startswith(prefix)), exc.msg)
    before = doc[:pos].rstrip()
    if "{{" in doc[max(pos - 1, 0) : pos + 2]:
        if doc[pos : pos + 2] != "{{":  # the decoder stopped on the second brace
            pos, column = pos - 1, column - 1
        meaning = 'a {{ }} reference must stand inside double quotes, e.g. "{{ trigger.body.id }}" (alone in its quotes it keeps its type)'
    elif exc.msg.startswith("Expecting property name") and before.endswith(","):
        meaning = "remove the comma before the closing }"
    elif exc.msg.startswith("Expecting value") and before.endswith(",") and doc[pos : pos + 1] == "]":
        meaning = "remove the comma before the closing ]"
    near = doc[pos : pos + 24].split("\n", 1)[0]
    snippet = f" (at: {near}{'…' if len(near) == 24 else ''})" if near.strip() else " (at the end)"
    return InvalidJsonText(f"Not valid JSON. Line {line}, column {column}{snippet}: {meaning}.", line=line, column=column)
