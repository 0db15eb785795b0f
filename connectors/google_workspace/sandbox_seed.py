"""What the sandbox Google account holds at the start: a spreadsheet of orders, Drive
folders with invoices, a few mails (one labelled "Requests") and two calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.google_workspace.sandbox import EMAIL, Account
from connectors.google_workspace.sandbox_gmail_calendar import new_event, new_message
from connectors.google_workspace.sandbox_sheets_drive import FOLDER, SPREADSHEET, new_file

SPREADSHEET_ID = "1CwSandboxOrders2026-0123456789abcdefghijklmn"
INVOICES_FOLDER_ID = "1CwSandboxFolderInvoices-0123456789abcdefgh"
TEAM_CALENDAR = "team.sandbox@group.calendar.google.com"
STANDUP_EVENT_ID = "sandboxstandup0000000000001"
ORDERS = [
    ["Order", "Customer", "Email", "Total", "Status"],
    ["#1001", "Ada Lovelace", "ada@example.com", "120.00", "Paid"],
    ["#1002", "Grace Hopper", "grace@example.com", "75.50", "Pending"],
    ["#1003", "Alan Turing", "alan@example.com", "42.00", "Paid"],
]
SYSTEM_LABELS = ("INBOX", "SENT", "DRAFT", "UNREAD", "IMPORTANT", "STARRED", "SPAM", "TRASH")


def _at(start: datetime, minutes: int) -> dict[str, str]:
    return {
        "dateTime": (start + timedelta(minutes=minutes)).isoformat(timespec="seconds"),
        "timeZone": "UTC",
    }


def seed(acct: Account) -> None:
    sheet = new_file(acct, "Orders 2026", SPREADSHEET, [])
    acct.files[SPREADSHEET_ID] = {
        **sheet,
        "id": SPREADSHEET_ID,
        "webViewLink": f"https://docs.google.com/spreadsheets/d/{SPREADSHEET_ID}/edit",
    }
    del acct.files[sheet["id"]]
    acct.sheets[SPREADSHEET_ID] = [
        {"sheetId": 0, "title": "Orders", "rows": [list(row) for row in ORDERS]},
        {"sheetId": 1203984512, "title": "Archive", "rows": []},
    ]
    folder = new_file(acct, "Invoices", FOLDER, [])
    acct.files[INVOICES_FOLDER_ID] = {**folder, "id": INVOICES_FOLDER_ID}
    del acct.files[folder["id"]]
    new_file(acct, "Reports", FOLDER, [])
    for number in ("1001", "1002"):
        new_file(
            acct, f"invoice-{number}.pdf", "application/pdf", [INVOICES_FOLDER_ID], size=18_204
        )

    acct.labels = [
        {
            "id": name,
            "name": name,
            "type": "system",
            "messageListVisibility": "show",
            "labelListVisibility": "labelShow",
        }
        for name in SYSTEM_LABELS
    ] + [
        {
            "id": "Label_1",
            "name": "Requests",
            "type": "user",
            "messageListVisibility": "show",
            "labelListVisibility": "labelShow",
        },
        {
            "id": "Label_2",
            "name": "Invoices",
            "type": "user",
            "messageListVisibility": "show",
            "labelListVisibility": "labelShow",
        },
    ]
    new_message(
        acct,
        "Alan Turing <alan@example.com>",
        "Lunch on Friday?",
        "Are you free for lunch on Friday?",
        ["INBOX"],
    )
    new_message(
        acct,
        "Billing <billing@vendor.example>",
        "Invoice 1002",
        "Please find the invoice attached.",
        ["INBOX", "UNREAD", "Label_2"],
        attachment=("invoice-1002.pdf", b"%PDF-1.4 sandbox invoice"),
    )
    new_message(
        acct,
        "Grace Hopper <grace@example.com>",
        "Request: a dashboard for orders",
        "Could we get a dashboard of this month's orders?",
        ["INBOX", "UNREAD", "Label_1"],
    )

    acct.calendars = {
        EMAIL: {"summary": EMAIL, "timeZone": "UTC"},
        TEAM_CALENDAR: {"summary": "Team", "timeZone": "Europe/London"},
    }
    now = datetime.now(UTC).replace(microsecond=0)
    tomorrow = now.replace(hour=9, minute=0, second=0) + timedelta(days=1)
    new_event(
        acct,
        EMAIL,
        {
            "summary": "Call with Grace",
            "start": _at(now, 20),
            "end": _at(now, 50),
            "attendees": [{"email": "grace@example.com", "responseStatus": "accepted"}],
        },
    )
    new_event(
        acct,
        EMAIL,
        {"summary": "Standup", "start": _at(tomorrow, 0), "end": _at(tomorrow, 15)},
        STANDUP_EVENT_ID,
    )
    new_event(
        acct,
        TEAM_CALENDAR,
        {
            "summary": "Quarterly review",
            "location": "Room 4",
            "start": _at(tomorrow, 24 * 60 * 6),
            "end": _at(tomorrow, 24 * 60 * 6 + 60),
        },
    )
