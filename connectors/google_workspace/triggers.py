"""The Google Workspace triggers: all polling, and why.

- Sheets has no change feed: the sheet is read and compared with the last read.
- Gmail push needs a Cloud Pub/Sub topic in the operator's Google project, granted to
  Gmail's service account, and a ``watch`` renewed every 7 days: a poll of
  ``messages.list`` needs none of that.
- Drive and Calendar push (``files.watch``/``changes.watch``/``events.watch``) send a
  bodiless "something changed" POST with the channel token we chose, so a list call is
  needed anyway; channels expire within a day (files) to a week and must be renewed,
  which the SDK's subscribe/unsubscribe have no hook for. A poll every few minutes with
  Calendar's sync token (or Drive's ``createdTime``) costs one cheap request.
"""

from __future__ import annotations

from connectors.google_workspace import sheets
from connectors.google_workspace.options import SPREADSHEET
from connectors.google_workspace.schemas import NewRowInput, RowChange
from connectors.sdk import PollingTrigger, load_sample

ORDERS = {**SPREADSHEET, "sheet": "Orders"}

TRIGGERS: tuple[PollingTrigger, ...] = (
    PollingTrigger(
        key="sheets_new_row", name="Sheets: new row",
        description="Fires for each row added to a sheet — at the bottom or inserted between rows (rows pushed down do "
        "not fire again). Checks every few minutes.",
        input=NewRowInput, output=RowChange, sample=load_sample(__file__, "sheets_new_row"), example=ORDERS,
        fetch=sheets.row_fetcher(updates=False), dedupe_key=sheets.row_key,
    ),
    PollingTrigger(
        key="sheets_new_or_updated_row", name="Sheets: new or updated row",
        description="Fires for each row added to a sheet and each row whose cells changed (change says which). "
        "Checks every few minutes.",
        input=NewRowInput, output=RowChange, sample=load_sample(__file__, "sheets_new_or_updated_row"), example=ORDERS,
        fetch=sheets.row_fetcher(updates=True), dedupe_key=sheets.row_key,
    ),
)
