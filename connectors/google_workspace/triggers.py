"""The Google Workspace triggers: mostly polling, and why; Calendar and Drive also instant.

- Sheets has no change feed: the sheet is read and compared with the last read.
- Gmail push needs a Cloud Pub/Sub topic in the operator's Google project, granted to
  Gmail's service account, and a ``watch`` renewed every 7 days: a poll of
  ``messages.list`` needs none of that.
- Drive and Calendar push (``files.watch``/``changes.watch``/``events.watch``) send a
  bodiless "something changed" POST with the channel token we chose, so a list call is
  needed anyway; channels expire within a day (files) to a week and must be renewed,
  which the SDK's subscribe/unsubscribe have no hook for. A poll every few minutes with
  Calendar's sync token (or Drive's ``createdTime``) costs one cheap request.

The SDK now has both hooks (``InstantTrigger.fetch``: read what changed after a
notification; ``renew_before``: re-subscribe before ``expires_at``), so Calendar and Drive
also have instant triggers (``channels.py``): they fire within seconds but need a public
HTTPS URL; the polling ones work anywhere.
"""

from __future__ import annotations

from connectors.google_workspace import calendar_events, channels, drive, gmail, sheets
from connectors.google_workspace.options import SPREADSHEET
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID
from connectors.google_workspace.schemas import (
    CalendarInput,
    DriveChangesInput,
    Email,
    Event,
    File,
    FileChange,
    NewEmailInput,
    NewFileInput,
    NewRowInput,
    RowChange,
    StartingSoonInput,
)
from connectors.sdk import InstantTrigger, PollingTrigger, Trigger, load_sample

ORDERS = {**SPREADSHEET, "sheet": "Orders"}
EVERY_FEW_MINUTES = " Checks every few minutes."
INSTANTLY = " Instant: Google notifies Cellwright (the server's public URL must be HTTPS)."

TRIGGERS: tuple[Trigger, ...] = (
    PollingTrigger(
        key="sheets_new_row",
        name="Sheets: new row",
        description="Fires for each row added to a sheet — at the bottom or inserted between "
        "rows (rows pushed down do not fire again)." + EVERY_FEW_MINUTES,
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
        description="Fires for each row added to a sheet and each row whose cells "
        "changed (change says which)." + EVERY_FEW_MINUTES,
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
        description="Fires for each new e-mail matching a Gmail search and/or carrying a label, "
        "with its text, HTML and attachment list." + EVERY_FEW_MINUTES,
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
        description="Fires for each file created in (or uploaded to) a Google Drive folder, "
        "optionally of one type." + EVERY_FEW_MINUTES,
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
        description="Fires for each event created in a Google calendar (by you or anyone "
        "who can add to it)." + EVERY_FEW_MINUTES,
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
        description="Fires once per event shortly before it starts (the lead time you choose); "
        "checks every minute.",
        input=StartingSoonInput,
        output=Event,
        sample=load_sample(__file__, "calendar_event_starting_soon"),
        example={"calendar_id": "primary", "minutes_before": 60},
        fetch=calendar_events.fetch_starting_soon,
        dedupe_key=calendar_events.starting_key,
        interval_seconds=60,
    ),
    InstantTrigger(
        key="calendar_event_changed_instant",
        name="Calendar: event created, changed or cancelled (instant)",
        description="Fires each time an event of a Google calendar is created, changed "
        "or cancelled (status says which)." + INSTANTLY,
        input=CalendarInput,
        output=Event,
        sample=load_sample(__file__, "calendar_event_changed_instant"),
        example={"calendar_id": "primary"},
        subscribe=channels.watch_calendar,
        unsubscribe=channels.stop,
        verify=channels.verify,
        parse=channels.parse_calendar,
        fetch=channels.fetch_calendar_changes,
        dedupe_key=channels.event_version,
        renew_before=channels.RENEW_BEFORE,
    ),
    InstantTrigger(
        key="drive_file_changed_instant",
        name="Drive: file created or changed (instant)",
        description="Fires each time a file in your Google Drive (or in one folder) is created, "
        "renamed, moved or edited." + INSTANTLY,
        input=DriveChangesInput,
        output=FileChange,
        sample=load_sample(__file__, "drive_file_changed_instant"),
        example={"folder_id": INVOICES_FOLDER_ID},
        subscribe=channels.watch_drive,
        unsubscribe=channels.stop,
        verify=channels.verify,
        parse=channels.parse_drive,
        fetch=channels.fetch_drive_changes,
        dedupe_key=channels.file_version,
        renew_before=channels.RENEW_BEFORE,
    ),
)
