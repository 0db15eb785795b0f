"""The Google Workspace actions, one list (functions live in the service modules)."""

from __future__ import annotations

from connectors.google_workspace import sheets
from connectors.google_workspace.options import SPREADSHEET
from connectors.google_workspace.schemas import (
    AppendRowInput,
    LookupResult,
    LookupRowInput,
    RowWritten,
    UpdateRowInput,
)
from connectors.sdk import Action, load_sample

ORDERS = {**SPREADSHEET, "sheet": "Orders"}

ACTIONS: tuple[Action, ...] = (
    Action(
        key="sheets_append_row", name="Sheets: append row",
        description="Adds a row below the last row of a sheet, from a list of cells or from values by column header.",
        input=AppendRowInput, output=RowWritten, sample=load_sample(__file__, "sheets_append_row"),
        example={**ORDERS, "values": ["#1004", "Edsger Dijkstra", "edsger@example.com", 99.5, "Paid"]},
        perform=sheets.append_row,
    ),
    Action(
        key="sheets_update_row", name="Sheets: update row",
        description="Overwrites a row by its number; by column header, only the named cells change.",
        input=UpdateRowInput, output=RowWritten, sample=load_sample(__file__, "sheets_update_row"),
        example={**ORDERS, "row_number": 3, "columns": {"Status": "Paid"}}, perform=sheets.update_row, idempotent=True,
    ),
    Action(
        key="sheets_lookup_row", name="Sheets: look up row",
        description="Finds the first row (or every row) whose cell in a column equals a value, e.g. an order by its e-mail.",
        input=LookupRowInput, output=LookupResult, sample=load_sample(__file__, "sheets_lookup_row"),
        example={**ORDERS, "column": "Email", "value": "grace@example.com"}, perform=sheets.lookup_row, idempotent=True,
    ),
)
