"""What an instant trigger sees of an incoming webhook, and what it answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.sdk.errors import InvalidInputError


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request received at ``/hooks/{token}``. Header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    path: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON; a clear error when it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise InvalidInputError(f"The request body is not valid JSON: {exc}") from None

    def parsed_body(self) -> Any:
        """JSON, form fields or text, by content type."""
        if self.content_type == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        if self.content_type.endswith("json") or self.body[:1] in (b"{", b"["):
            return self.json()
        return self.body.decode("utf-8", "replace")


@dataclass
class WebhookReply:
    """Events to run, or an immediate ``response`` (status, body, headers) to send back.

    A challenge handshake (Slack ``url_verification``, monday.com ``challenge``) sets
    ``response`` and leaves ``events`` empty: nothing runs and nothing is stored.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    response: tuple[int, Any, dict[str, str]] | None = None


def hmac_hex(secret: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    """Hex HMAC of ``message`` — the scheme most vendors use for signatures."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, getattr(hashlib, algorithm)).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
