"""Google Workspace: Gmail, Drive and Calendar against the sandbox account, failures and
pagination included."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.api import GMAIL
from connectors.google_workspace.sandbox_gmail_calendar import new_event, new_message
from connectors.google_workspace.sandbox_seed import (
    INVOICES_FOLDER_ID,
    STANDUP_EVENT_ID,
    TEAM_CALENDAR,
)
from connectors.google_workspace.sandbox_sheets_drive import new_file
from connectors.sdk import InvalidInputError, UpstreamError
from tests.connectors import google_helpers
from tests.connectors.google_helpers import Google, connect, poll, run

fresh_rotations = google_helpers.fresh_rotations  # an autouse fixture


@pytest.fixture
def google() -> Google:
    return connect()


def last_raw(google: Google) -> Any:
    """The newest stored message, parsed (what Gmail received in ``raw``)."""
    return email.message_from_bytes(google.account.messages[0]["_raw"], policy=email.policy.default)


def soon(minutes: int) -> dict[str, str]:
    return {
        "dateTime": (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    }


# -- Gmail --------------------------------------------------------------------------------------


async def test_send_email_builds_an_rfc_2822_message_with_text_and_html(google: Google) -> None:
    sent = await run(
        google,
        "gmail_send_email",
        to=["Grace <grace@example.com>"],
        cc=["alan@example.com"],
        subject="Your order ✓",
        body_text="Thanks!",
        body_html="<p>Thanks!</p>",
    )
    assert sent["label_ids"] == ["SENT"]
    mail = last_raw(google)
    assert (
        mail["To"] == "Grace <grace@example.com>"
        and mail["Cc"] == "alan@example.com"
        and mail["Subject"] == "Your order ✓"
    )
    assert mail.get_body(("plain",)).get_content().strip() == "Thanks!"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Thanks!</p>"


async def test_a_reply_joins_the_original_thread(google: Google) -> None:
    original = google.account.messages[0]  # Grace's request (the seed's newest)
    sent = await run(
        google, "gmail_send_email", reply_to_message_id=original["id"], body_text="On it."
    )
    assert sent["thread_id"] == original["threadId"]
    mail = last_raw(google)
    message_id = next(
        h["value"] for h in original["payload"]["headers"] if h["name"] == "Message-ID"
    )
    assert mail["In-Reply-To"] == message_id and message_id in mail["References"]
    assert (
        mail["Subject"] == "Re: Request: a dashboard for orders"
        and "grace@example.com" in mail["To"]
    )


async def test_a_new_mail_without_references_starts_its_own_thread(google: Google) -> None:
    """Gmail only threads a message that references the thread (the sandbox follows the rule)."""
    thread = google.account.messages[0]["threadId"]
    sent = await google.ctx.http.post(
        f"{GMAIL}/messages/send",
        json={
            "raw": base64.urlsafe_b64encode(
                b"To: a@example.com\r\nSubject: other\r\n\r\nhi"
            ).decode(),
            "threadId": thread,
        },
    )
    assert sent["threadId"] != thread


async def test_create_draft_saves_a_draft_reply(google: Google) -> None:
    original = google.account.messages[0]
    draft = await run(
        google, "gmail_create_draft", reply_to_message_id=original["id"], body_text="Draft reply"
    )
    assert draft["thread_id"] == original["threadId"] and draft["draft_id"] in google.account.drafts
    assert google.account.messages[0]["labelIds"] == ["DRAFT"]


async def test_bad_addresses_and_missing_recipients_name_the_field(google: Google) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await run(google, "gmail_send_email", to=["not-an-address"], body_text="x")
    assert (
        caught.value.errors[0]["field"] == "to"
        and "'not-an-address' is not an e-mail address" in caught.value.message
    )
    with pytest.raises(InvalidInputError) as caught:
        await run(google, "gmail_send_email", to=["a@example.com"], bcc=["b@"], body_text="x")
    assert caught.value.errors[0]["field"] == "bcc"
    with pytest.raises(InvalidInputError, match="who the mail goes to"):
        await run(google, "gmail_send_email", body_text="x")


async def test_new_email_fires_once_per_matching_mail(google: Google) -> None:
    sample, cursor = await poll(google, "gmail_new_email", label="Requests")
    assert [m["subject"] for m in sample] == ["Request: a dashboard for orders"]
    assert sample[0]["body_text"].startswith("Could we get a dashboard") and sample[0][
        "label_ids"
    ] == ["INBOX", "UNREAD", "Label_1"]
    new_message(
        google.account,
        "Linus <linus@example.com>",
        "Request: export",
        "Export please",
        ["INBOX", "Label_1"],
    )
    new_message(google.account, "Linus <linus@example.com>", "Unlabelled", "Not for us", ["INBOX"])
    google.transport.calls.clear()
    items, cursor = await poll(
        google, "gmail_new_email", cursor, label="requests"
    )  # names match without case
    assert [m["subject"] for m in items] == ["Request: export"]
    assert sum("/messages/" in p for p in google.paths()) == 1  # only the new mail is read in full
    assert (await poll(google, "gmail_new_email", cursor, label="Requests"))[0] == []


async def test_new_email_with_a_search_reads_attachments(google: Google) -> None:
    [mail], _ = await poll(google, "gmail_new_email", query="has:attachment from:billing")
    assert mail["subject"] == "Invoice 1002"
    assert (
        mail["attachments"][0]["filename"] == "invoice-1002.pdf"
        and mail["attachments"][0]["attachment_id"]
    )


async def test_an_unknown_label_lists_the_users_labels(google: Google) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await poll(google, "gmail_new_email", label="Nope")
    assert (
        "Your labels: Invoices, Requests" in caught.value.message
        and caught.value.errors[0]["field"] == "label"
    )


# -- Drive --------------------------------------------------------------------------------------


async def test_upload_file_sends_metadata_and_content_in_one_multipart_request(
    google: Google,
) -> None:
    file = await run(
        google, "drive_upload_file", name="notes.txt", content="héllo", folder_id=INVOICES_FOLDER_ID
    )
    assert file["parents"] == [INVOICES_FOLDER_ID] and file["size"] == len("héllo".encode())
    assert google.account.files[file["id"]]["_content"] == "héllo".encode()
    binary = await run(
        google,
        "drive_upload_file",
        name="logo.png",
        mime_type="image/png",
        content_base64=base64.b64encode(b"\x89PNG\r\n").decode(),
    )
    assert (
        binary["mime_type"] == "image/png"
        and google.account.files[binary["id"]]["_content"] == b"\x89PNG\r\n"
    )
    assert binary["parents"] == ["root"]


async def test_upload_file_refuses_bad_base64_and_two_contents(google: Google) -> None:
    from pydantic import ValidationError

    with pytest.raises(InvalidInputError) as caught:
        await run(google, "drive_upload_file", name="x.bin", content_base64="%%%")
    assert caught.value.errors[0]["field"] == "content_base64"
    with pytest.raises(ValidationError, match="either as content"):
        await run(google, "drive_upload_file", name="x", content="a", content_base64="YQ==")


async def test_create_folder_and_a_missing_parent(google: Google) -> None:
    folder = await run(google, "drive_create_folder", name="2026", parent_id=INVOICES_FOLDER_ID)
    assert folder["mime_type"] == "application/vnd.google-apps.folder" and folder["size"] is None
    with pytest.raises(UpstreamError) as caught:
        await run(google, "drive_create_folder", name="x", parent_id="nope")
    assert caught.value.status == 404 and "File not found: nope" in caught.value.message


async def test_new_file_in_folder_pages_through_short_and_empty_pages(google: Google) -> None:
    for n in range(5):
        new_file(google.account, f"scan-{n}.pdf", "application/pdf", [INVOICES_FOLDER_ID], size=10)
    new_file(google.account, "elsewhere.pdf", "application/pdf", [])
    await google.control("paging", page_cap=2, empty_pages=True)
    files, _ = await poll(google, "drive_new_file", folder_id=INVOICES_FOLDER_ID)
    assert len(files) == 7 and files[0]["name"] == "scan-4.pdf"  # newest first, none from elsewhere
    pages = [r for r in google.transport.requests if r.url.path == "/drive/v3/files"]
    assert len(pages) > 4 and any(r.url.params.get("pageToken", "").startswith("e") for r in pages)


async def test_new_file_asks_only_for_files_after_the_cursor(google: Google) -> None:
    files, _ = await poll(
        google, "drive_new_file", folder_id=INVOICES_FOLDER_ID, mime_type="application/pdf"
    )
    newest = max(f["created_time"] for f in files)
    added = new_file(
        google.account, "invoice-1003.pdf", "application/pdf", [INVOICES_FOLDER_ID], size=3
    )
    items, _ = await poll(
        google, "drive_new_file", newest, folder_id=INVOICES_FOLDER_ID, mime_type="application/pdf"
    )
    assert [f["id"] for f in items] == [added["id"]]
    assert f"createdTime > '{newest}'" in google.transport.requests[-1].url.params["q"]


# -- Calendar -----------------------------------------------------------------------------------


async def test_create_event_with_a_duration_and_all_day(google: Google) -> None:
    event = await run(
        google,
        "calendar_create_event",
        summary="Kick-off",
        start="2030-05-06T10:00:00+02:00",
        duration_minutes=45,
        attendees=["grace@example.com"],
        location="Room 4",
    )
    assert (
        event["end"] == "2030-05-06T10:45:00+02:00"
        and event["attendees"] == ["grace@example.com"]
        and not event["all_day"]
    )
    day = await run(
        google,
        "calendar_create_event",
        calendar_id=TEAM_CALENDAR,
        summary="Offsite",
        start="2030-06-01",
    )
    assert day["all_day"] and (day["start"], day["end"]) == ("2030-06-01", "2030-06-02")
    zoned = await run(
        google,
        "calendar_create_event",
        summary="Local",
        start="2030-05-06T10:00:00",
        time_zone="Europe/Berlin",
    )
    assert google.account.events[sb.EMAIL][zoned["id"]]["start"] == {
        "dateTime": "2030-05-06T10:00:00",
        "timeZone": "Europe/Berlin",
    }


async def test_event_times_are_checked_with_the_field_named(google: Google) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await run(google, "calendar_create_event", summary="x", start="next tuesday")
    assert caught.value.errors[0]["field"] == "start"
    with pytest.raises(InvalidInputError, match="no UTC offset"):
        await run(google, "calendar_create_event", summary="x", start="2030-05-06T10:00:00")
    with pytest.raises(InvalidInputError, match="both be dates"):
        await run(
            google,
            "calendar_create_event",
            summary="x",
            start="2030-05-06",
            end="2030-05-06T10:00:00Z",
        )
    with pytest.raises(UpstreamError, match="time range is empty"):
        await run(
            google,
            "calendar_create_event",
            summary="x",
            start="2030-05-06T10:00:00Z",
            end="2030-05-06T09:00:00Z",
        )


async def test_update_event_changes_only_the_fields_given(google: Google) -> None:
    before = dict(google.account.events[sb.EMAIL][STANDUP_EVENT_ID])
    event = await run(google, "calendar_update_event", event_id=STANDUP_EVENT_ID, location="Room 2")
    assert (
        event["location"] == "Room 2"
        and event["summary"] == "Standup"
        and event["start"] == before["start"]["dateTime"]
    )
    sent = google.transport.requests[-1]
    assert sent.method == "PATCH" and json.loads(sent.content) == {"location": "Room 2"}
    with pytest.raises(UpstreamError) as caught:
        await run(google, "calendar_update_event", event_id="nope", summary="x")
    assert caught.value.status == 404


async def test_new_event_uses_the_sync_token_and_fires_for_created_events_only(
    google: Google,
) -> None:
    sample, cursor = await poll(google, "calendar_new_event", calendar_id="primary")
    assert {e["summary"] for e in sample} == {"Call with Grace", "Standup"} and cursor["sync_token"]
    google.account.events[sb.EMAIL][STANDUP_EVENT_ID]["summary"] = (
        "Standup (moved)"  # an edit is no new event
    )
    from connectors.google_workspace.sandbox_gmail_calendar import save_event

    save_event(google.account, sb.EMAIL, google.account.events[sb.EMAIL][STANDUP_EVENT_ID])
    added = new_event(
        google.account, sb.EMAIL, {"summary": "Demo", "start": soon(600), "end": soon(630)}
    )
    items, cursor2 = await poll(google, "calendar_new_event", cursor, calendar_id="primary")
    assert [e["id"] for e in items] == [added["id"]]
    listed = google.transport.requests[-1]
    assert (
        listed.url.params["syncToken"] == cursor["sync_token"]
        and "timeMin" not in listed.url.params
    )
    assert cursor2["sync_token"] != cursor["sync_token"]


async def test_a_stale_sync_token_410_leads_to_a_full_sync_without_refiring_old_events(
    google: Google,
) -> None:
    _, cursor = await poll(google, "calendar_new_event", calendar_id="primary")
    await google.control("expire_sync_tokens")
    added = new_event(
        google.account, sb.EMAIL, {"summary": "After expiry", "start": soon(90), "end": soon(120)}
    )
    google.transport.calls.clear()
    items, cursor2 = await poll(google, "calendar_new_event", cursor, calendar_id="primary")
    assert [e["id"] for e in items] == [added["id"]]
    statuses = [r.status_code for _, r in google.transport.calls]
    assert statuses == [410, 200] and "syncToken" not in google.transport.requests[-1].url.params
    assert cursor2["sync_token"]


async def test_event_starting_soon_lists_the_window_in_start_order(google: Google) -> None:
    later = new_event(
        google.account, sb.EMAIL, {"summary": "In 40", "start": soon(40), "end": soon(70)}
    )
    new_event(google.account, sb.EMAIL, {"summary": "Running", "start": soon(-10), "end": soon(20)})
    new_event(
        google.account,
        sb.EMAIL,
        {"summary": "Tomorrow", "start": soon(60 * 24), "end": soon(60 * 25)},
    )
    items, _ = await poll(google, "calendar_event_starting_soon", minutes_before=60)
    assert [e["summary"] for e in items] == ["Call with Grace", "In 40"]
    from connectors.google_workspace import app

    key = app.trigger("calendar_event_starting_soon").item_key  # type: ignore[attr-defined]
    moved = {**items[1], "start": "2030-01-01T00:00:00+00:00"}
    assert key(items[1]) == f"{later['id']}@{items[1]['start']}" and key(moved) != key(items[1])
    params = google.transport.requests[-1].url.params
    assert params["singleEvents"] == "true" and params["orderBy"] == "startTime"


async def test_calendar_options_offer_primary_first(google: Google) -> None:
    from connectors.google_workspace.options import calendars, folders, gmail_labels

    assert [o.value for o in await calendars(google.ctx, {})] == ["primary", TEAM_CALENDAR]
    assert (await folders(google.ctx, {}))[0].value == "root"
    assert [o.label for o in await gmail_labels(google.ctx, {})][:2] == ["Invoices", "Requests"]
