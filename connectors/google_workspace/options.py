"""Where Google Workspace fields' choices come from: spreadsheets and their sheets, Drive
folders, calendars, Gmail labels — the same list endpoints the operations use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors.google_workspace.api import CALENDAR, DRIVE, GMAIL, SHEETS, call, pages
from connectors.sdk import OperationContext, Option, OptionSource, dynamic

CAP = 1000  # a longer dropdown helps nobody


async def _drive_files(ctx: OperationContext, mime_type: str) -> list[Option]:
    files, _ = await pages(
        ctx,
        f"{DRIVE}/files",
        {
            "q": f"mimeType = '{mime_type}' and trashed = false",
            "orderBy": "modifiedTime desc",
            "pageSize": 200,
            "fields": "nextPageToken,files(id,name)",
        },
        "files",
        limit=CAP,
    )
    return [Option(value=f["id"], label=f"{f['name']} ({f['id'][:8]}…)") for f in files]


async def spreadsheets(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """Spreadsheets in Drive, most recently changed first (``files.list`` by MIME type)."""
    return await _drive_files(ctx, "application/vnd.google-apps.spreadsheet")


async def sheets(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The sheets (tabs) of the spreadsheet in ``spreadsheet_id`` (``spreadsheets.get``)."""
    data = await call(
        ctx,
        "GET",
        f"{SHEETS}/{quote(str(values['spreadsheet_id']), safe='')}",
        params={"fields": "sheets.properties(sheetId,title)"},
    )
    return [
        Option(value=s["properties"]["title"], label=s["properties"]["title"])
        for s in data.get("sheets") or []
    ]


async def folders(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """Drive folders (``files.list`` by MIME type), My Drive itself first."""
    return [
        Option(value="root", label="My Drive"),
        *await _drive_files(ctx, "application/vnd.google-apps.folder"),
    ]


async def calendars(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The user's calendars (``calendarList.list``), the primary one as "primary"."""
    entries, _ = await pages(
        ctx, f"{CALENDAR}/users/me/calendarList", {"maxResults": 250}, "items", limit=CAP
    )
    return [
        Option(value="primary", label=f"{e.get('summary') or e['id']} (primary)")
        if e.get("primary")
        else Option(value=e["id"], label=str(e.get("summary") or e["id"]))
        for e in entries
    ]


async def gmail_labels(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """Gmail labels (``labels.list``): the user's own first, then INBOX, STARRED…"""
    labels = (await call(ctx, "GET", f"{GMAIL}/labels")).get("labels") or []
    ordered = sorted(
        labels, key=lambda label: (label.get("type") != "user", str(label["name"]).lower())
    )
    return [Option(value=str(label["id"]), label=str(label["name"])) for label in ordered]


SPREADSHEET = {
    "spreadsheet_id": "1CwSandboxOrders2026-0123456789abcdefghijklmn"
}  # the sandbox's demo spreadsheet

OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="spreadsheets", name="Google spreadsheets", fetch=spreadsheets),
    OptionSource(
        key="sheets",
        name="sheets of the spreadsheet",
        fetch=sheets,
        needs=("spreadsheet_id",),
        example=SPREADSHEET,
    ),
    OptionSource(key="folders", name="Google Drive folders", fetch=folders),
    OptionSource(key="calendars", name="Google calendars", fetch=calendars),
    OptionSource(key="gmail_labels", name="Gmail labels", fetch=gmail_labels),
)

__all__ = ["OPTIONS", "dynamic"]
