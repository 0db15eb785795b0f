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

from connectors.google_workspace import calendar_events, drive, gmail, sheets
from connectors.google_workspace.options import SPREADSHEET
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID
from connectors.google_workspace.schemas import (
    CalendarInput,
    Email,
    Event,
    File,
    NewEmailInput,
    NewFileInput,
    NewRowInput,
    RowChange,
    StartingSoonInput,
)
from connectors.sdk import PollingTrigger, load_sample

ORDERS = {**SPREADSHEET, "sheet": "Orders"}
EVERY_FEW_MINUTES = " Checks every few minutes."

TRIGGERS: tuple[PollingTrigger, ...] = (
    PollingTrigger(
        key="sheets_new_row",
        name="Sheets: new row",
        description="Fires for each row added to a sheet — at the bottom or inserted between rows (rows pushed down do "
        "not fire again)." + EVERY_FEW_MINUTES,
        input=NewRowInput,
        output=RowChange,
        sample=load_sample(__file__, "sheets_new_row"),
        example=ORDERS,
        fetch=sheets.row_fetcher(updates=False),
        dedupe_key=sheets.row_key,
    ),
    PollingTrigger(
        key="sheets_new_or_updated_row",
        name="Sheets: new or updated row",
        description="Fires for each row added to a sheet and each row whose cells changed (change says which)."
        + EVERY_FEW_MINUTES,
        input=NewRowInput,
        output=RowChange,
        sample=load_sample(__file__, "sheets_new_or_updated_row"),
        example=ORDERS,
        fetch=sheets.row_fetcher(updates=True),
        dedupe_key=sheets.row_key,
    ),
    PollingTrigger(
        key="gmail_new_email",
        name="Gmail: new e-mail",
        description="Fires for each new e-mail matching a Gmail search and/or carrying a label, with its text, "
        "HTML and attachment list." + EVERY_FEW_MINUTES,
        input=NewEmailInput,
        output=Email,
        sample=load_sample(__file__, "gmail_new_email"),
        example={"label": "Requests", "query": "is:unread"},
        fetch=gmail.fetch_new_emails,
        dedupe_key="id",
    ),
    PollingTrigger(
        key="drive_new_file",
        name="Drive: new file in folder",
        description="Fires for each file created in (or uploaded to) a Google Drive folder, optionally of one type."
        + EVERY_FEW_MINUTES,
        input=NewFileInput,
        output=File,
        sample=load_sample(__file__, "drive_new_file"),
        example={"folder_id": INVOICES_FOLDER_ID},
        fetch=drive.fetch_new_files,
        dedupe_key="id",
        cursor_field="created_time",
    ),
    PollingTrigger(
        key="calendar_new_event",
        name="Calendar: new event",
        description="Fires for each event created in a Google calendar (by you or anyone who can add to it)."
        + EVERY_FEW_MINUTES,
        input=CalendarInput,
        output=Event,
        sample=load_sample(__file__, "calendar_new_event"),
        example={"calendar_id": "primary"},
        fetch=calendar_events.fetch_new_events,
        dedupe_key="id",
    ),
    PollingTrigger(
        key="calendar_event_starting_soon",
        name="Calendar: event starting soon",
        description="Fires once per event shortly before it starts (the lead time you choose); checks every minute.",
        input=StartingSoonInput,
        output=Event,
        sample=load_sample(__file__, "calendar_event_starting_soon"),
        example={"calendar_id": "primary", "minutes_before": 60},
        fetch=calendar_events.fetch_starting_soon,
        dedupe_key=calendar_events.starting_key,
        interval_seconds=60,
    ),
)
