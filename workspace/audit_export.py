"""The audit trail as files: CSV and JSON (the REST API, the CLI and the workspace).

Both hold every field of each entry, hash chain included, so an exported file can be
checked against ``cellwright audit verify``'s head hash. CSV cells that a spreadsheet
would read as a formula (``=``, ``+``, ``-``, ``@``) are written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

__all__ = ["COLUMNS", "entry_out", "to_csv", "to_json"]

COLUMNS = (
    "seq",
    "at",
    "action",
    "user_id",
    "actor_id",
    "source",
    "ip",
    "object_type",
    "object_id",
    "details",
    "id",
    "prev_hash",
    "hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def entry_out(entry: Any) -> dict[str, Any]:
    """An entry as JSON-ready data (``at`` in ISO 8601, UTC)."""
    data: dict[str, Any] = entry.to_dict()
    return {name: data.get(name) for name in COLUMNS}


def to_json(entries: Iterable[Any]) -> str:
    return json.dumps([entry_out(e) for e in entries], indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = (
        json.dumps(value, sort_keys=True, ensure_ascii=False)
        if isinstance(value, dict | list)
        else str(value)
    )
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def to_csv(entries: Iterable[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        data = entry_out(entry)
        writer.writerow([_cell(data[name]) for name in COLUMNS])
    return out.getvalue()
