"""The SMTP app's models: an e-mail to send and what the server said."""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import getaddresses
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from connectors.smtp.auth import check_address, display_address

MAX_RECIPIENTS = 100
"""To, Cc and Bcc together (RFC 5321 §4.5.3.1.8: servers must accept at least 100)."""
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
"""All attachments together, decoded (base64 adds a third on the wire: ~13.3 MB)."""
MAX_SUBJECT = 998
"""RFC 5322 §2.1.1: a header line is at most 998 characters."""
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def _split(value: Any) -> Any:
    """A comma-separated string (``a@x.com, Name <b@y.com>``) or a list of them, as a
    list of single addresses (commas inside quoted display names stay)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            if not isinstance(item, str):
                out.append(item)  # pydantic names the item that is not text
                continue
            if "\r" in item or "\n" in item:
                raise ValueError("addresses must not contain line breaks")
            for name, address in getaddresses([item]):
                if name or address:
                    out.append(display_address(name, address))
                elif item.strip():
                    out.append(item.strip())
        return out
    return value


Addresses = Annotated[
    list[str],
    BeforeValidator(_split),
    # the form takes typed text as one comma-separated string, JSON as a list
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class Attachment(BaseModel):
    """A file sent with the message."""

    model_config = ConfigDict(extra="forbid")
    filename: str = Field(
        min_length=1, max_length=255, description="The file's name as the recipient sees it."
    )
    content_base64: str = Field(description="The file's bytes, base64-encoded.")
    content_type: str = Field(
        "application/octet-stream",
        description="Its media type, e.g. application/pdf or text/csv.",
    )

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        if any(c in value for c in "\r\n\0/\\"):
            raise ValueError("a file name without line breaks or slashes")
        return value

    @field_validator("content_type")
    @classmethod
    def _type(cls, value: str) -> str:
        value = value.strip().lower()
        if not _CONTENT_TYPE.match(value):
            raise ValueError("a media type such as application/pdf")
        return value

    @field_validator("content_base64")
    @classmethod
    def _base64(cls, value: str) -> str:
        compact = "".join(value.split())
        if len(compact) > MAX_ATTACHMENT_BYTES * 4 // 3 + 4:
            raise ValueError(f"larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
        try:
            base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not valid base64") from None
        return compact

    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)


class SendEmailInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Addresses = Field(
        min_length=1,
        description="Recipients: a list, or one text with addresses separated by commas "
        "(a@example.com, Ada <ada@example.com>).",
    )
    cc: Addresses = Field(
        default_factory=list, description="Cc recipients (a list or comma-separated)."
    )
    bcc: Addresses = Field(
        default_factory=list,
        description="Bcc recipients (a list or comma-separated): they get the message, the "
        "others do not see them.",
    )
    subject: str = Field(max_length=MAX_SUBJECT, description="The subject line.")
    body_text: str | None = Field(
        None, description="The plain-text body. Give it, body_html, or both."
    )
    body_html: str | None = Field(
        None,
        description="An HTML body. With body_text too, mail programs show the one they prefer.",
    )
    reply_to: Addresses = Field(
        default_factory=list, description="Where replies go (Reply-To), when not to the sender."
    )
    attachments: list[Attachment] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description=f"Files to attach (base64 content, file name, media type): at most "
        f"{MAX_ATTACHMENTS}, {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB together.",
    )

    @field_validator("to", "cc", "bcc", "reply_to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [check_address(v) for v in values]

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("the subject must be one line")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SendEmailInput:
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
        if not (self.body_text or self.body_html):
            raise ValueError("give body_text, body_html or both")
        total = sum(len(a.content_base64) * 3 // 4 for a in self.attachments)
        if total > MAX_ATTACHMENT_BYTES:
            raise ValueError(
                f"attachments: {total:,} bytes together; at most {MAX_ATTACHMENT_BYTES:,}"
            )
        return self


class SentEmail(BaseModel):
    message_id: str = Field(description="The Message-ID header of the sent message.")
    accepted: list[str] = Field(description="The addresses the server accepted.")
    refused: dict[str, str] = Field(
        description="Addresses the server refused while accepting the others, with its reply."
    )
    size_bytes: int = Field(description="The size of the message as sent.")
