"""Gmail: send mail (replies join their thread), create drafts, notice new mail.

Mail goes out as an RFC 2822 message, base64url-encoded in ``raw``
(https://developers.google.com/workspace/gmail/api/guides/sending). A reply carries the
original's ``threadId``, ``In-Reply-To`` and ``References`` and its subject (Gmail's
threading rules, https://developers.google.com/workspace/gmail/api/guides/threads).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from connectors.google_workspace.api import GMAIL, call
from connectors.google_workspace.schemas import NewEmailInput, SendEmailInput
from connectors.sdk import InvalidInputError, OperationContext, Polled

ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
REMEMBERED_IDS = 500
"""Message ids the trigger keeps between checks (more than a check ever reads)."""
SAMPLES = 3


# -- sending ------------------------------------------------------------------------------------


def _addresses(values: list[str], field: str) -> list[str]:
    found: list[str] = []
    for value in values:
        for name, address in getaddresses([value]):
            if not ADDRESS.match(address):
                raise InvalidInputError(
                    f"'{value}' is not an e-mail address.",
                    errors=[{"field": field, "message": "not an e-mail address"}],
                )
            found.append(f"{name} <{address}>" if name else address)
    return found


def _header(message: Mapping[str, Any], name: str) -> str:
    headers = (message.get("payload") or {}).get("headers") or []
    return next(
        (str(h["value"]) for h in headers if str(h.get("name", "")).lower() == name.lower()), ""
    )


async def _original(ctx: OperationContext, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await call(
        ctx,
        "GET",
        f"{GMAIL}/messages/{message_id}",
        params={
            "format": "metadata",
            "metadataHeaders": ["Message-ID", "References", "Subject", "From", "Reply-To"],
        },
    )
    return found


async def compose(ctx: OperationContext, inputs: SendEmailInput) -> dict[str, Any]:
    """The Gmail ``Message`` resource to send: ``raw`` (and ``threadId`` for a reply)."""
    mail = EmailMessage()
    to, thread_id = _addresses(inputs.to, "to"), None
    subject = inputs.subject
    if inputs.reply_to_message_id:
        original = await _original(ctx, inputs.reply_to_message_id)
        thread_id = original["threadId"]
        message_id = _header(original, "Message-ID")
        references = " ".join(
            part for part in (_header(original, "References"), message_id) if part
        )
        if message_id:
            mail["In-Reply-To"] = message_id
            mail["References"] = references
        original_subject = _header(original, "Subject")
        if not subject:
            subject = (
                original_subject
                if original_subject.lower().startswith("re:")
                else f"Re: {original_subject}"
            )
        if not to and (_header(original, "Reply-To") or _header(original, "From")):
            to = [_header(original, "Reply-To") or _header(original, "From")]
    if not to:
        raise InvalidInputError(
            "Say who the mail goes to.",
            errors=[{"field": "to", "message": "at least one recipient"}],
        )
    mail["To"] = ", ".join(to)
    if inputs.cc:
        mail["Cc"] = ", ".join(_addresses(inputs.cc, "cc"))
    if inputs.bcc:
        mail["Bcc"] = ", ".join(_addresses(inputs.bcc, "bcc"))
    mail["Subject"] = subject
    mail.set_content(inputs.body_text)
    if inputs.body_html:
        mail.add_alternative(inputs.body_html, subtype="html")
    resource: dict[str, Any] = {"raw": base64.urlsafe_b64encode(mail.as_bytes()).decode()}
    if thread_id:
        resource["threadId"] = thread_id
    return resource


async def send_email(ctx: OperationContext, inputs: SendEmailInput) -> dict[str, Any]:
    """``messages.send``."""
    sent = await call(ctx, "POST", f"{GMAIL}/messages/send", json=await compose(ctx, inputs))
    return {
        "id": sent["id"],
        "thread_id": sent["threadId"],
        "label_ids": sent.get("labelIds") or [],
    }


async def create_draft(ctx: OperationContext, inputs: SendEmailInput) -> dict[str, Any]:
    """``drafts.create``."""
    draft = await call(ctx, "POST", f"{GMAIL}/drafts", json={"message": await compose(ctx, inputs)})
    return {
        "draft_id": draft["id"],
        "message_id": draft["message"]["id"],
        "thread_id": draft["message"]["threadId"],
    }


# -- reading ------------------------------------------------------------------------------------


def _decoded(data: str | None) -> str:
    if not data:
        return ""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", errors="replace")


def email_output(message: Mapping[str, Any]) -> dict[str, Any]:
    """A ``messages.get?format=full`` answer as the trigger's output."""
    text, html, attachments = "", "", []
    stack = [message.get("payload") or {}]
    while stack:
        part = stack.pop(0)
        body = part.get("body") or {}
        if part.get("filename"):
            attachments.append(
                {
                    "filename": part["filename"],
                    "mime_type": part.get("mimeType", ""),
                    "size": int(body.get("size") or 0),
                    "attachment_id": body.get("attachmentId"),
                }
            )
        elif part.get("mimeType") == "text/plain" and not text:
            text = _decoded(body.get("data"))
        elif part.get("mimeType") == "text/html" and not html:
            html = _decoded(body.get("data"))
        stack.extend(part.get("parts") or [])
    return {
        "id": message["id"],
        "thread_id": message["threadId"],
        "label_ids": list(message.get("labelIds") or []),
        "sender": _header(message, "From"),
        "to": _header(message, "To"),
        "cc": _header(message, "Cc"),
        "subject": _header(message, "Subject"),
        "date": _header(message, "Date"),
        "snippet": message.get("snippet", ""),
        "body_text": text,
        "body_html": html,
        "message_id_header": _header(message, "Message-ID"),
        "internal_date": str(message.get("internalDate", "")),
        "attachments": attachments,
    }


async def label_id(ctx: OperationContext, label: str) -> str:
    """A label's ID from its name (or ID), via ``labels.list``."""
    labels = (await call(ctx, "GET", f"{GMAIL}/labels")).get("labels") or []
    for entry in labels:
        if label in (entry["id"], entry["name"]) or entry["name"].lower() == label.strip().lower():
            return str(entry["id"])
    names = ", ".join(sorted(str(e["name"]) for e in labels if e.get("type") == "user")) or "none"
    raise InvalidInputError(
        f"Gmail has no label '{label}'. Your labels: {names}.",
        errors=[{"field": "label", "message": "no such label"}],
    )


async def fetch_new_emails(ctx: OperationContext, inputs: NewEmailInput, since: Any) -> Polled:
    """The newest matching mails (``messages.list``), each read once (``messages.get``).

    The cursor keeps the ids already read, so a check costs one list call plus one read
    per new mail (5 quota units each) instead of re-reading the inbox.
    """
    params: dict[str, Any] = {"maxResults": inputs.max_messages}
    if inputs.query:
        params["q"] = inputs.query
    if inputs.label:
        params["labelIds"] = [await label_id(ctx, inputs.label)]
    listed = (await call(ctx, "GET", f"{GMAIL}/messages", params=params)).get("messages") or []
    ids = [str(m["id"]) for m in listed]
    known = set(since.get("ids") or []) if isinstance(since, Mapping) else None
    fresh = ids[:SAMPLES] if known is None else [i for i in ids if i not in known]
    items = [
        email_output(await call(ctx, "GET", f"{GMAIL}/messages/{i}", params={"format": "full"}))
        for i in fresh
    ]
    remembered = ids + [
        i
        for i in (since.get("ids") or [] if isinstance(since, Mapping) else [])
        if i not in set(ids)
    ]
    return Polled(items, cursor={"ids": remembered[:REMEMBERED_IDS]})
