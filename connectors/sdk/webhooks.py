"""What an instant trigger sees of an incoming webhook, and what it answers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.sdk import jsontext
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

    @property
    def declares_json(self) -> bool:
        """The ``Content-Type`` says JSON (``application/json``, ``…+json``)."""
        kind = self.content_type
        return kind in ("application/json", "text/json") or kind.endswith("+json")

    def json(self) -> Any:
        """The body parsed as standard JSON; a clear error when it is not
        (see :mod:`connectors.sdk.jsontext`: no ``NaN``, no half surrogate pairs…)."""
        if not self.body:
            return None
        return jsontext.loads(self.body)

    def parsed_body(self) -> Any:
        """JSON, form fields or text, by content type.

        A JSON type must hold JSON (else :class:`InvalidInputError`); any other declared
        type is text, even if it starts with ``{``; a body without a type is JSON when it
        reads as JSON, else text.
        """
        if self.content_type == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        if self.declares_json:
            return self.json()
        if not self.content_type and self.body.lstrip()[:1] in (b"{", b"["):
            try:
                return self.json()
            except InvalidInputError:
                pass  # not declared JSON and not JSON: the sender's text
        return self.body.decode("utf-8", "replace")


Response = tuple[int, Any, dict[str, str]]
"""An immediate answer: status, body, headers."""


@dataclass
class WebhookReply:
    """Events to run, or an immediate ``response`` (status, body, headers) to send back.

    A challenge handshake (Slack ``url_verification``, monday.com ``challenge``) sets
    ``response`` and leaves ``events`` empty: nothing runs and nothing is stored.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    response: Response | None = None


@dataclass(frozen=True, kw_only=True)
class ConnectionWebhook:
    """The vendor sends every event of a connection to one URL (``App(connection_webhook=…)``).

    Some vendors take one URL per account or per vendor-side app rather than one per
    subscription: a Slack app has a single Events API *Request URL*. Such an app gets
    one URL per connection, ``/hooks/apps/<app>/<connection token>``; each delivery is
    verified once with the connection's credentials, a URL check is answered without any
    scenario, and the delivery is then handed to every enabled scenario whose live
    trigger is one of the app's instant triggers on that connection. Each trigger's
    ``parse`` picks the events it wants (event type, channel…) as it does at a
    scenario's own URL; its ``dedupe_key`` keeps a retried delivery from running twice.

    - ``verify(request, credentials)`` raises ``WebhookVerificationError`` for a request
      that is not authentic (``credentials``: the connection's).
    - ``challenge(request)`` returns the answer to a vendor's URL check (Slack's
      ``url_verification``), or ``None`` for an ordinary delivery.
    - ``label`` and ``instructions`` are shown beside the URL: what it is called at the
      vendor, and where to paste it.
    - ``verify`` of a connection made by signing in (OAuth) also finds the operator's
      OAuth app secrets, ``client_secret`` and ``signing_secret`` (from
      ``CELLWRIGHT_OAUTH_CLIENTS__<app>__…``; never stored with the connection), for
      vendors that sign with the app's secret (HubSpot, monday.com). Connections of
      other kinds bring their own field.

    A trigger's ``parse`` gets the connection's metadata (what its test call recorded,
    e.g. HubSpot's ``portal_id``) as ``state``, so it can keep only the connection's own
    events when the vendor's URL carries several accounts' events.
    """

    verify: Callable[[IncomingRequest, Mapping[str, Any]], None]
    challenge: Callable[[IncomingRequest], Response | None] | None = None
    methods: tuple[str, ...] = ("POST",)
    label: str = "Webhook URL"
    instructions: str = "Paste it in the app's webhook settings."


def hmac_hex(secret: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    """Hex HMAC of ``message`` — the scheme most vendors use for signatures."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, getattr(hashlib, algorithm)).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
