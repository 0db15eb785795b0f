"""Input and output models of the Google Workspace operations (every field described)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.sdk import dynamic

Cell = str | int | float | bool | None

# -- Sheets -------------------------------------------------------------------------------------


class SheetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spreadsheet_id: str = Field(
        min_length=1,
        description="The spreadsheet's ID (the long part of its URL after /d/).",
        json_schema_extra=dynamic("spreadsheets"),
    )
    sheet: str = Field(
        min_length=1,
        description="The sheet (tab) name, e.g. Orders. Row 1 holds the column headers.",
        json_schema_extra=dynamic("sheets"),
    )


class NewRowInput(SheetInput):
    pass


class RowValues(SheetInput):
    values: list[Cell] | None = Field(None, description="The row's cells, from column A on.")
    columns: dict[str, Cell] | None = Field(
        None,
        description='The row\'s cells by column header (row 1), e.g. {"Email": "ada@example.com"}; '
        "columns not named keep their value (update) or stay empty (append).",
    )
    value_input: Literal["USER_ENTERED", "RAW"] = Field(
        "USER_ENTERED",
        description="USER_ENTERED: read as if typed (numbers, dates, formulas); "
        "RAW: stored as given.",
    )

    @model_validator(mode="after")
    def _some_values(self) -> RowValues:
        if self.values is None and not self.columns:
            raise ValueError("give the row as values (a list) or as columns (header → value)")
        return self


class AppendRowInput(RowValues):
    pass


class UpdateRowInput(RowValues):
    row_number: int = Field(
        ge=2, description="The row to overwrite (2 is the first row below the headers)."
    )


class LookupRowInput(SheetInput):
    column: str = Field(
        min_length=1, description="The column to search: its header (row 1) or its letter (A, B…)."
    )
    value: str = Field(
        description="The value to find (compared as text, ignoring case and surrounding spaces)."
    )
    all_matches: bool = Field(False, description="Return every matching row, not only the first.")


class Row(BaseModel):
    spreadsheet_id: str = Field(description="The spreadsheet's ID.")
    sheet: str = Field(description="The sheet (tab) name.")
    row_number: int = Field(description="The row's number in the sheet (1 is the header row).")
    values: list[str] = Field(description="The row's cells as shown, from column A.")
    columns: dict[str, str] = Field(
        description="The row's cells by column header (by letter where a header is blank)."
    )


class RowChange(Row):
    row_hash: str = Field(description="A hash of the row's cells: it changes when the row does.")
    change: Literal["new", "updated"] = Field(
        description="new: an added or inserted row; updated: an edited row."
    )


class RowWritten(Row):
    updated_range: str = Field(description="The cells written, in A1 notation (e.g. Orders!A5:E5).")


class LookupResult(BaseModel):
    found: bool = Field(description="Whether a row matched.")
    row_number: int | None = Field(description="The first matching row's number.")
    values: list[str] = Field(
        description="The first matching row's cells (empty when none matched)."
    )
    columns: dict[str, str] = Field(description="The first matching row's cells by column header.")
    matches: list[Row] = Field(
        description="Every matching row (only the first unless all_matches)."
    )


# -- Gmail --------------------------------------------------------------------------------------


class NewEmailInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str | None = Field(
        None,
        description="A Gmail search, as in Gmail's search box, e.g. from:billing has:attachment.",
    )
    label: str | None = Field(
        None,
        description="Only mails with this label (its name, e.g. Requests, or its ID).",
        json_schema_extra=dynamic("gmail_labels"),
    )
    max_messages: int = Field(
        25, ge=1, le=100, description="How many of the newest matching mails each check reads."
    )


class Attachment(BaseModel):
    filename: str = Field(description="The attachment's file name.")
    mime_type: str = Field(description="Its MIME type.")
    size: int = Field(description="Its size in bytes.")
    attachment_id: str | None = Field(
        description="Gmail's attachment ID (for messages.attachments.get)."
    )


class Email(BaseModel):
    id: str = Field(description="The message ID.")
    thread_id: str = Field(description="The conversation (thread) ID.")
    label_ids: list[str] = Field(description="Label IDs on the message (INBOX, UNREAD, Label_…).")
    sender: str = Field(description="The From header.")
    to: str = Field(description="The To header.")
    cc: str = Field(description="The Cc header (empty when none).")
    subject: str = Field(description="The subject.")
    date: str = Field(description="The Date header.")
    snippet: str = Field(description="Gmail's short preview of the text.")
    body_text: str = Field(description="The plain-text body (empty when the mail has none).")
    body_html: str = Field(description="The HTML body (empty when the mail has none).")
    message_id_header: str = Field(description="The Message-ID header (for replies).")
    internal_date: str = Field(description="When Gmail received it, in epoch milliseconds.")
    attachments: list[Attachment] = Field(description="The attachments (name, type, size, ID).")


class SendEmailInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[str] = Field(
        default_factory=list,
        description="Recipients' addresses. A reply without any goes to the original sender.",
    )
    cc: list[str] = Field(default_factory=list, description="Cc addresses.")
    bcc: list[str] = Field(default_factory=list, description="Bcc addresses.")
    subject: str = Field(
        "", description="The subject. A reply without one uses Re: and the original subject."
    )
    body_text: str = Field(description="The plain-text body.")
    body_html: str | None = Field(
        None, description="An HTML version of the body (sent beside the text)."
    )
    reply_to_message_id: str | None = Field(
        None,
        description="Reply to this Gmail message ID (e.g. a trigger's id): "
        "the mail joins its thread.",
    )


class SentEmail(BaseModel):
    id: str = Field(description="The sent message's ID.")
    thread_id: str = Field(description="The thread it belongs to.")
    label_ids: list[str] = Field(description="Its labels (SENT).")


class Draft(BaseModel):
    draft_id: str = Field(description="The draft's ID.")
    message_id: str = Field(description="The draft message's ID.")
    thread_id: str = Field(description="The thread it belongs to.")


# -- Drive --------------------------------------------------------------------------------------


class NewFileInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder_id: str = Field(
        min_length=1,
        description="The folder to watch (its ID; root for My Drive).",
        json_schema_extra=dynamic("folders"),
    )
    mime_type: str | None = Field(
        None, description="Only files of this MIME type, e.g. application/pdf."
    )


class File(BaseModel):
    id: str = Field(description="The file's ID.")
    name: str = Field(description="Its name.")
    mime_type: str = Field(
        description="Its MIME type (folders: application/vnd.google-apps.folder)."
    )
    parents: list[str] = Field(description="IDs of the folders it is in.")
    created_time: str | None = Field(description="When it was created (RFC 3339).")
    modified_time: str | None = Field(description="When it last changed (RFC 3339).")
    web_view_link: str | None = Field(description="A link to open it in Drive.")
    size: int | None = Field(description="Its size in bytes (none for folders and Google Docs).")


class DriveChangesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder_id: str | None = Field(
        None,
        description="Only files in this folder (its ID); empty for any file in your Drive.",
        json_schema_extra=dynamic("folders"),
    )
    include_removed: bool = Field(
        False, description="Also fire for files trashed, deleted or no longer shared with you."
    )


class FileChange(File):
    removed: bool = Field(
        description="Whether the file was deleted or you lost access (then only id is known)."
    )
    trashed: bool = Field(description="Whether the file is in the trash.")
    change_time: str = Field(description="When Drive recorded the change (RFC 3339).")


class UploadFileInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="The file's name, e.g. report.csv.")
    content: str | None = Field(None, description="The file's content as text.")
    content_base64: str | None = Field(
        None, description="The file's content, base64-encoded (for binary files)."
    )
    mime_type: str = Field(
        "text/plain", description="The content's MIME type, e.g. text/csv or application/pdf."
    )
    folder_id: str | None = Field(
        None,
        description="The folder to put it in (default: My Drive).",
        json_schema_extra=dynamic("folders"),
    )

    @model_validator(mode="after")
    def _one_content(self) -> UploadFileInput:
        if (self.content is None) == (self.content_base64 is None):
            raise ValueError(
                "give the file's content either as content (text) or as content_base64"
            )
        return self


class CreateFolderInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="The new folder's name.")
    parent_id: str | None = Field(
        None,
        description="The folder to create it in (default: My Drive).",
        json_schema_extra=dynamic("folders"),
    )


# -- Calendar -----------------------------------------------------------------------------------


class CalendarInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calendar_id: str = Field(
        "primary",
        min_length=1,
        description="The calendar (its ID; primary for the main one).",
        json_schema_extra=dynamic("calendars"),
    )


class StartingSoonInput(CalendarInput):
    minutes_before: int = Field(
        15, ge=1, le=1440, description="Fire this many minutes (or less) before an event starts."
    )


class EventFields(BaseModel):
    description: str | None = Field(None, description="Its description.")
    location: str | None = Field(None, description="Where it takes place.")
    end: str | None = Field(None, description="End, in the same form as start.")
    time_zone: str | None = Field(
        None, description="An IANA time zone for start and end, e.g. Europe/Berlin."
    )
    attendees: list[str] | None = Field(None, description="Guests' e-mail addresses.")
    send_updates: Literal["all", "externalOnly", "none"] = Field(
        "none", description="Who gets an e-mail about it."
    )


class CreateEventInput(CalendarInput, EventFields):
    summary: str = Field(min_length=1, description="The event's title.")
    start: str = Field(
        min_length=1,
        description="Start: 2026-05-04T10:00:00+02:00, or 2026-05-04 for an all-day event.",
    )
    duration_minutes: int = Field(
        30, ge=1, description="Length when no end is given (all-day events: one day)."
    )


class UpdateEventInput(CalendarInput, EventFields):
    event_id: str = Field(
        min_length=1, description="The event's ID (e.g. from a trigger or Create event)."
    )
    summary: str | None = Field(None, description="A new title.")
    start: str | None = Field(
        None, description="A new start: 2026-05-04T10:00:00+02:00, or 2026-05-04 (all day)."
    )


class Event(BaseModel):
    id: str = Field(description="The event's ID.")
    calendar_id: str = Field(description="The calendar it is in.")
    status: str = Field(description="confirmed, tentative or cancelled.")
    summary: str = Field(description="Its title.")
    description: str = Field(description="Its description.")
    location: str = Field(description="Its location.")
    start: str = Field(description="Start (date-time, or date for all-day events).")
    end: str = Field(description="End (date-time, or date for all-day events).")
    all_day: bool = Field(description="Whether it is an all-day event.")
    attendees: list[str] = Field(description="Guests' e-mail addresses.")
    organizer: str = Field(description="The organizer's e-mail address.")
    html_link: str = Field(description="A link to it in Google Calendar.")
    created: str = Field(description="When it was created (RFC 3339).")
    updated: str = Field(description="When it last changed (RFC 3339).")
