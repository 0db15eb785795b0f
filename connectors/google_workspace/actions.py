"""The Google Workspace actions, one list (functions live in the service modules)."""

from __future__ import annotations

from connectors.google_workspace import calendar_events, drive, gmail, sheets
from connectors.google_workspace.options import SPREADSHEET
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID
from connectors.google_workspace.schemas import (
    AppendRowInput,
    CreateEventInput,
    CreateFolderInput,
    Draft,
    Event,
    File,
    LookupResult,
    LookupRowInput,
    RowWritten,
    SendEmailInput,
    SentEmail,
    UpdateEventInput,
    UpdateRowInput,
    UploadFileInput,
)
from connectors.sdk import Action, ActionFactory

ORDERS = {**SPREADSHEET, "sheet": "Orders"}
MAIL = {"to": ["grace@example.com"], "subject": "Your order", "body_text": "Thanks for your order!"}


_action = ActionFactory(__file__)


ACTIONS: tuple[Action, ...] = (
    _action(
        "sheets_append_row",
        "Sheets: append row",
        "Adds a row below the last row of a sheet, from a list of cells or from "
        "values by column header.",
        AppendRowInput,
        RowWritten,
        sheets.append_row,
        {**ORDERS, "values": ["#1004", "Edsger Dijkstra", "edsger@example.com", 99.5, "Paid"]},
    ),
    _action(
        "sheets_update_row",
        "Sheets: update row",
        "Overwrites a row by its number; by column header, only the named cells change.",
        UpdateRowInput,
        RowWritten,
        sheets.update_row,
        {**ORDERS, "row_number": 3, "columns": {"Status": "Paid"}},
        True,
    ),
    _action(
        "sheets_lookup_row",
        "Sheets: look up row",
        "Finds the first row (or every row) whose cell in a column equals a value, "
        "e.g. an order by its e-mail.",
        LookupRowInput,
        LookupResult,
        sheets.lookup_row,
        {**ORDERS, "column": "Email", "value": "grace@example.com"},
        True,
    ),
    _action(
        "gmail_send_email",
        "Gmail: send e-mail",
        "Sends an e-mail from the connected Gmail account (text, optional HTML); "
        "given a message ID, sends a reply in that conversation.",
        SendEmailInput,
        SentEmail,
        gmail.send_email,
        MAIL,
    ),
    _action(
        "gmail_create_draft",
        "Gmail: create draft",
        "Saves an e-mail as a Gmail draft to review and send by hand; given a message ID, "
        "a draft reply in its conversation.",
        SendEmailInput,
        Draft,
        gmail.create_draft,
        MAIL,
    ),
    _action(
        "drive_upload_file",
        "Drive: upload file",
        "Uploads a file (text or base64 content) to Google Drive, into a folder or My Drive.",
        UploadFileInput,
        File,
        drive.upload_file,
        {
            "name": "orders.csv",
            "content": "order,total\n#1004,99.5\n",
            "mime_type": "text/csv",
            "folder_id": INVOICES_FOLDER_ID,
        },
    ),
    _action(
        "drive_create_folder",
        "Drive: create folder",
        "Creates a folder in Google Drive, inside another folder or in My Drive.",
        CreateFolderInput,
        File,
        drive.create_folder,
        {"name": "Reports 2026", "parent_id": INVOICES_FOLDER_ID},
    ),
    _action(
        "calendar_create_event",
        "Calendar: create event",
        "Creates an event (timed or all-day) in a Google calendar, optionally inviting guests.",
        CreateEventInput,
        Event,
        calendar_events.create_event,
        {
            "summary": "Kick-off",
            "start": "2030-05-06T10:00:00+02:00",
            "duration_minutes": 45,
            "attendees": ["grace@example.com"],
        },
    ),
    _action(
        "calendar_update_event",
        "Calendar: update event",
        "Changes an event's title, time, place, description or guests; "
        "fields left empty stay as they are.",
        UpdateEventInput,
        Event,
        calendar_events.update_event,
        {
            "event_id": "sandboxstandup0000000000001",
            "location": "Room 2",
            "start": "2030-05-07T09:30:00+00:00",
            "end": "2030-05-07T09:45:00+00:00",
        },
        True,
    ),
)
