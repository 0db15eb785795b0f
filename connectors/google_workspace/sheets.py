"""Google Sheets: append, update and look up rows; notice new and changed rows.

Row 1 of a sheet holds the column headers; rows are addressed by number. Sheets has no
change feed, so the triggers read the sheet and compare it with the previous read
(kept as the trigger's cursor: one short hash per row). ``difflib`` aligns the two
lists of hashes, so a row inserted between others is one new row — the rows it pushed
down keep their hashes and do not fire again — and an edited row is an update.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors.google_workspace.api import SHEETS, call
from connectors.google_workspace.schemas import (
    AppendRowInput,
    Cell,
    LookupRowInput,
    NewRowInput,
    RowValues,
    UpdateRowInput,
)
from connectors.sdk import InvalidInputError, OperationContext, Polled

MAX_SNAPSHOT_ROWS = 20_000
"""Rows the triggers compare (each costs ~13 bytes of stored cursor)."""
SAMPLE_ROWS = 3


def column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_range(sheet: str, cells: str = "") -> str:
    """A1 notation with the sheet name quoted as Sheets expects (``'Q1 orders'!A1``)."""
    name = "'" + sheet.replace("'", "''") + "'"
    return f"{name}!{cells}" if cells else name


def values_url(spreadsheet_id: str, a1: str, suffix: str = "") -> str:
    return f"{SHEETS}/{quote(spreadsheet_id, safe='')}/values/{quote(a1, safe='')}{suffix}"


async def read_sheet(
    ctx: OperationContext, spreadsheet_id: str, sheet: str, cells: str = ""
) -> list[list[str]]:
    """Every row of the sheet (or of ``cells``) as shown (``values.get``;
    trailing blanks are not sent)."""
    data = await call(
        ctx,
        "GET",
        values_url(spreadsheet_id, sheet_range(sheet, cells)),
        params={"majorDimension": "ROWS", "valueRenderOption": "FORMATTED_VALUE"},
    )
    return [[str(v) for v in row] for row in (data or {}).get("values") or []]


def keyed(headers: list[str], values: list[str]) -> dict[str, str]:
    width = max(len(headers), len(values))
    padded = values + [""] * (width - len(values))
    return {
        (headers[i] if i < len(headers) and headers[i] else column_letters(i)): padded[i]
        for i in range(width)
    }


def row(inputs: Any, headers: list[str], number: int, values: list[str]) -> dict[str, Any]:
    return {
        "spreadsheet_id": inputs.spreadsheet_id,
        "sheet": inputs.sheet,
        "row_number": number,
        "values": values,
        "columns": keyed(headers, values),
    }


def _cells(inputs: RowValues, headers: list[str], current: list[str]) -> list[Cell]:
    """The row to write: ``values`` as given, or ``columns`` placed under their headers."""
    if inputs.values is not None:
        return list(inputs.values)
    cells: list[Cell] = list(current)
    lookup = {h.strip().lower(): i for i, h in enumerate(headers) if h.strip()}
    unknown = [name for name in inputs.columns or {} if name.strip().lower() not in lookup]
    if unknown:
        raise InvalidInputError(
            f"The sheet '{inputs.sheet}' has no column {', '.join(repr(u) for u in unknown)}. "
            f"Its headers: {', '.join(headers) or 'none'}.",
            errors=[{"field": "columns", "message": f"unknown column {u!r}"} for u in unknown],
        )
    for name, value in (inputs.columns or {}).items():
        index = lookup[name.strip().lower()]
        cells += [""] * (index + 1 - len(cells))
        cells[index] = value
    return cells


def _written(
    inputs: Any, headers: list[str], number: int, cells: list[Cell], updated_range: str
) -> dict[str, Any]:
    shown = [
        "" if c is None else (("TRUE" if c else "FALSE") if isinstance(c, bool) else str(c))
        for c in cells
    ]
    return {**row(inputs, headers, number, shown), "updated_range": updated_range}


def _row_number(updated_range: str) -> int:
    cells = updated_range.rpartition("!")[2].split(":")[0]
    digits = "".join(ch for ch in cells if ch.isdigit())
    return int(digits) if digits else 0


async def append_row(ctx: OperationContext, inputs: AppendRowInput) -> dict[str, Any]:
    """``values.append`` below the sheet's last row (INSERT_ROWS: nothing below is overwritten)."""
    headers = (await read_sheet(ctx, inputs.spreadsheet_id, inputs.sheet, "1:1") or [[]])[0]
    cells = _cells(inputs, headers, [])
    data = await call(
        ctx,
        "POST",
        values_url(inputs.spreadsheet_id, sheet_range(inputs.sheet, "A1"), ":append"),
        params={"valueInputOption": inputs.value_input, "insertDataOption": "INSERT_ROWS"},
        json={"majorDimension": "ROWS", "values": [cells]},
    )
    updated = data["updates"]["updatedRange"]
    return _written(inputs, headers, _row_number(updated), cells, updated)


async def update_row(ctx: OperationContext, inputs: UpdateRowInput) -> dict[str, Any]:
    """``values.update`` of one row (by ``columns``: the other cells keep their values)."""
    rows = await read_sheet(ctx, inputs.spreadsheet_id, inputs.sheet)
    headers = rows[0] if rows else []
    current = rows[inputs.row_number - 1] if inputs.row_number <= len(rows) else []
    cells = _cells(inputs, headers, current)
    a1 = sheet_range(inputs.sheet, f"A{inputs.row_number}")
    data = await call(
        ctx,
        "PUT",
        values_url(inputs.spreadsheet_id, a1),
        params={"valueInputOption": inputs.value_input},
        json={"range": a1, "majorDimension": "ROWS", "values": [cells]},
    )
    return _written(inputs, headers, inputs.row_number, cells, data["updatedRange"])


def _column_index(headers: list[str], column: str) -> int:
    wanted = column.strip().lower()
    for i, header in enumerate(headers):
        if header.strip().lower() == wanted:
            return i
    if column.strip().isalpha() and column.strip().isupper() and len(column.strip()) <= 3:
        index = 0
        for char in column.strip():
            index = index * 26 + ord(char) - 64
        return index - 1
    raise InvalidInputError(
        f"The sheet has no column '{column}'. "
        f"Its headers: {', '.join(h for h in headers if h) or 'none'} (or use a letter: A, B…).",
        errors=[{"field": "column", "message": "no such column"}],
    )


async def lookup_row(ctx: OperationContext, inputs: LookupRowInput) -> dict[str, Any]:
    """Read the sheet and find rows whose cell in ``column`` equals ``value``."""
    rows = await read_sheet(ctx, inputs.spreadsheet_id, inputs.sheet)
    headers = rows[0] if rows else []
    index = _column_index(headers, inputs.column)
    wanted = inputs.value.strip().lower()
    matches = [
        row(inputs, headers, number, values)
        for number, values in enumerate(rows[1:], start=2)
        if index < len(values) and values[index].strip().lower() == wanted
    ]
    if not inputs.all_matches:
        matches = matches[:1]
    first = matches[0] if matches else None
    return {
        "found": first is not None,
        "row_number": first["row_number"] if first else None,
        "values": first["values"] if first else [],
        "columns": first["columns"] if first else {},
        "matches": matches,
    }


# -- triggers ------------------------------------------------------------------------------------


def row_hash(values: list[str]) -> str:
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()[:10]


def changes(previous: list[str], current: list[str]) -> list[tuple[int, str]]:
    """(index in ``current``, "new" | "updated") for what differs from ``previous``."""
    found: list[tuple[int, str]] = []
    matcher = difflib.SequenceMatcher(a=previous, b=current, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "insert":
            found += [(j, "new") for j in range(j1, j2)]
        elif tag == "replace":
            edited = min(i2 - i1, j2 - j1)
            found += [(j, "updated") for j in range(j1, j1 + edited)]
            found += [(j, "new") for j in range(j1 + edited, j2)]
    return found


def _snapshot_key(inputs: NewRowInput) -> str:
    return f"{inputs.spreadsheet_id}/{inputs.sheet}"


def row_fetcher(updates: bool) -> Any:
    async def fetch(ctx: OperationContext, inputs: NewRowInput, since: Any) -> Polled:
        rows = await read_sheet(ctx, inputs.spreadsheet_id, inputs.sheet)
        headers, data = (rows[0] if rows else []), rows[1 : MAX_SNAPSHOT_ROWS + 1]
        hashes = [row_hash(values) for values in data]
        cursor = {"sheet": _snapshot_key(inputs), "hashes": hashes}
        previous = (
            since.get("hashes")
            if isinstance(since, Mapping) and since.get("sheet") == _snapshot_key(inputs)
            else None
        )
        if previous is None:  # the first check: remember the sheet, show its last rows as samples
            picked = [(j, "new") for j in range(max(0, len(data) - SAMPLE_ROWS), len(data))]
        else:
            picked = [
                (j, kind) for j, kind in changes(list(previous), hashes) if updates or kind == "new"
            ]
        items = [
            {**row(inputs, headers, j + 2, data[j]), "row_hash": hashes[j], "change": kind}
            for j, kind in picked
            if any(cell.strip() for cell in data[j])  # a blanked row is no event
        ]
        return Polled(items, cursor=cursor)

    fetch.__doc__ = "Read the sheet, compare row hashes with the last read: new rows" + (
        " and edited rows." if updates else "."
    )
    return fetch


def row_key(item: Mapping[str, Any]) -> str:
    """The same row content at the same place fires once (a repeated poll
    after a crash does not repeat it)."""
    return f"{item['row_number']}:{item['row_hash']}"
