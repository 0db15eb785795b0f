"""The Google simulator answers what Google answers: error shapes, refusals, formats."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.sandbox_seed import SPREADSHEET_ID

SHEET = f"https://sheets.googleapis.com/v4/spreadsheets/{SPREADSHEET_ID}"
GMAIL = "https://gmail.googleapis.com/gmail/v1/users/me"
EVENTS = "https://www.googleapis.com/calendar/v3/calendars/primary/events"
AUTH = {"Authorization": f"Bearer {sb.ACCESS_TOKEN}"}


async def send(method: str, url: str, asgi: Any | None = None, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi if asgi is not None else sb.create_app())
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.request(method, url, **{"headers": AUTH, **kwargs})


async def test_an_unknown_token_is_unauthenticated_in_googles_shape() -> None:
    response = await send("GET", f"{SHEET}/values/A1", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "text"),
    [
        (
            "POST",
            f"{SHEET}/values/A1:append",
            {"json": {"values": [["x"]]}},
            400,
            "INPUT_VALUE_OPTION_UNSPECIFIED",
        ),
        (
            "PUT",
            f"{SHEET}/values/Orders!A2?valueInputOption=RAW",
            {"json": {"range": "Orders!B2", "values": [["x"]]}},
            400,
            "tried writing to",
        ),
        (
            "PUT",
            f"{SHEET}/values/Orders!A2?valueInputOption=RAW",
            {"json": {"values": "x"}},
            400,
            "data.values",
        ),
        ("GET", f"{SHEET}/values/Orders!1A", {}, 400, "Unable to parse range"),
        (
            "GET",
            "https://sheets.googleapis.com/v4/spreadsheets/nope/values/A1",
            {},
            404,
            "not found",
        ),
        ("GET", f"{GMAIL}/messages?pageToken=zz", {}, 400, "Invalid page token"),
        ("GET", f"{GMAIL}/messages?maxResults=501", {}, 400, "[1, 500]"),
        ("GET", f"{GMAIL}/messages?maxResults=x", {}, 400, "regular expression"),
        ("GET", f"{GMAIL}/messages/nope", {}, 404, "not found"),
        ("GET", f"{GMAIL}/messages/nope?format=pdf", {}, 400, "format"),
        ("POST", f"{GMAIL}/messages/send", {"json": {"raw": "!!!"}}, 400, "Base64 decoding failed"),
        ("POST", f"{GMAIL}/messages/send", {"json": {}}, 400, "message.raw"),
        ("POST", f"{GMAIL}/messages/send", {"content": b"[1]"}, 400, "Expected an object"),
        ("POST", f"{GMAIL}/messages/send", {"content": b"{"}, 400, "Invalid JSON"),
        ("POST", f"{GMAIL}/drafts", {"json": {"message": "x"}}, 400, "draft.message"),
        (
            "GET",
            f"{EVENTS}?syncToken=sync0-1&timeMin=2030-01-01T00:00:00Z",
            {},
            400,
            "cannot be used together",
        ),
        ("GET", f"{EVENTS}?orderBy=startTime", {}, 400, "ordering is not available"),
        ("GET", f"{EVENTS}?timeMin=tomorrow", {}, 400, "Bad Request"),
        ("GET", f"{EVENTS}?timeMin=2030-01-01T00:00:00", {}, 400, "Bad Request"),
        (
            "GET",
            "https://www.googleapis.com/calendar/v3/calendars/nope/events",
            {},
            404,
            "Not Found",
        ),
        ("POST", EVENTS, {"json": {"summary": "x"}}, 400, "Missing start time"),
        (
            "GET",
            "https://www.googleapis.com/drive/v3/files?q=owner%20is%20me",
            {},
            400,
            "Invalid Value",
        ),
        ("GET", "https://www.googleapis.com/drive/v3/files/nope", {}, 404, "File not found"),
        (
            "POST",
            "https://www.googleapis.com/drive/v3/files",
            {"json": {"parents": "x"}},
            400,
            "parents",
        ),
        (
            "POST",
            "https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable",
            {},
            400,
            "upload type",
        ),
        (
            "POST",
            "https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart",
            {"content": b"x"},
            400,
            "multipart",
        ),
        (
            "POST",
            "https://www.googleapis.com/__sandbox__/nope",
            {"json": {}},
            404,
            "unknown control",
        ),
    ],
)
async def test_bad_requests_get_googles_answer(
    method: str, url: str, kwargs: dict[str, Any], status: int, text: str
) -> None:
    response = await send(method, url, **kwargs)
    assert response.status_code == status and text in response.text


async def test_a_media_upload_and_partial_file_fields() -> None:
    asgi = sb.create_app()
    made = await send(
        "POST",
        "https://www.googleapis.com/upload/drive/v3/files?uploadType=media",
        asgi,
        content=b"abc",
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert made.json() == {
        "kind": "drive#file",
        "id": made.json()["id"],
        "name": "Untitled",
        "mimeType": "text/plain",
    }
    got = await send(
        "GET", f"https://www.googleapis.com/drive/v3/files/{made.json()['id']}?fields=id,size", asgi
    )
    assert got.json() == {"id": made.json()["id"], "size": "3"}
    every = await send(
        "GET", f"https://www.googleapis.com/drive/v3/files/{made.json()['id']}?fields=*", asgi
    )
    assert "_content" not in every.json() and every.json()["parents"] == ["root"]


async def test_gmail_formats_and_the_sandbox_mounted_under_a_prefix() -> None:
    asgi = sb.create_app()
    message = sb.account(asgi).messages[-1]
    raw = (await send("GET", f"{GMAIL}/messages/{message['id']}?format=raw", asgi)).json()
    assert (
        b"Subject: Lunch on Friday?" in base64.urlsafe_b64decode(raw["raw"] + "==")
        and "payload" not in raw
    )
    minimal = (await send("GET", f"{GMAIL}/messages/{message['id']}?format=minimal", asgi)).json()
    assert set(minimal) >= {"id", "threadId", "labelIds"} and "payload" not in minimal
    meta = await send(
        "GET",
        f"{GMAIL}/messages/{message['id']}",
        asgi,
        params={"format": "metadata", "metadataHeaders": ["Subject"]},
    )
    assert meta.json()["payload"]["headers"] == [{"name": "Subject", "value": "Lunch on Friday?"}]
    mounted = Starlette(routes=[Mount("/sandbox/google_workspace", app=asgi)])
    listed = await send(
        "GET", "http://cellwright.local/sandbox/google_workspace/gmail/v1/users/me/labels", mounted
    )
    assert (
        listed.status_code == 200
        and {"id": "Label_1", "name": "Requests"}.items() <= listed.json()["labels"][-2].items()
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("subject:invoice", ["Invoice 1002"]),
        ("to:ada@sandbox.example is:unread", ["Request: a dashboard for orders", "Invoice 1002"]),
        ('"free for lunch"', ["Lunch on Friday?"]),  # words: subject, sender and snippet
        ("lunch", ["Lunch on Friday?"]),
        ("label:invoices", ["Invoice 1002"]),
    ],
)
async def test_gmail_search_operators(q: str, expected: list[str]) -> None:
    asgi = sb.create_app()
    listed = (await send("GET", f"{GMAIL}/messages", asgi, params={"q": q})).json()
    by_id = {m["id"]: m for m in sb.account(asgi).messages}
    subjects = [
        next(h["value"] for h in by_id[m["id"]]["payload"]["headers"] if h["name"] == "Subject")
        for m in listed.get("messages", [])
    ]
    assert subjects == expected


async def test_the_token_endpoint_refuses_an_unknown_client_and_grant() -> None:
    asgi = sb.create_app()
    wrong = await send(
        "POST",
        "https://oauth2.googleapis.com/token",
        asgi,
        data={"grant_type": "refresh_token", "client_id": "x"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    client = {"client_id": sb.SANDBOX_CLIENT[0], "client_secret": sb.SANDBOX_CLIENT[1]}
    grant = await send(
        "POST",
        "https://oauth2.googleapis.com/token",
        asgi,
        data={"grant_type": "password", **client},
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    revoked = await send(
        "POST", "https://oauth2.googleapis.com/revoke", asgi, data={"token": sb.ACCESS_TOKEN}
    )
    again = await send(
        "POST", "https://oauth2.googleapis.com/revoke", asgi, data={"token": sb.ACCESS_TOKEN}
    )
    assert revoked.status_code == 200 and again.json()["error"] == "invalid_token"
