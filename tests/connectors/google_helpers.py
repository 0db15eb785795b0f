"""What the Google Workspace tests share: a context on a fresh sandbox account (with the
sandbox's OAuth client, so tokens refresh), recording every request it sends."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from connectors.google_workspace import api, app
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.auth import SANDBOX_CREDENTIALS
from connectors.sdk import OperationContext, build_http
from connectors.sdk.oauth import OAuthClient
from connectors.sdk.sandboxing import RecordingTransport, secrets_of

CLIENT = OAuthClient(client_id=sb.SANDBOX_CLIENT[0], client_secret=sb.SANDBOX_CLIENT[1])


@pytest.fixture(autouse=True)
def fresh_rotations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's sandbox is a new Google account: forget refreshes another test made
    with the same published refresh token (the SDK remembers rotations per process).
    Autouse in every module that imports it."""
    from connectors.sdk import oauth

    monkeypatch.setattr(oauth, "_ROTATED", {})


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off delays the connector asked for (recorded, not slept)."""
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(api, "sleep", record)
    return delays


@dataclass
class Google:
    """A sandbox account and a connection to it."""

    sandbox: Any
    ctx: OperationContext
    transport: RecordingTransport
    saved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def account(self) -> sb.Account:
        return sb.account(self.sandbox)

    async def control(self, what: str, **data: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox), base_url="http://sandbox.invalid"
        ) as client:
            response = await client.post(f"/__sandbox__/{what}", json=data)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.host}{r.url.path}" for r in self.transport.requests]


def connect(
    sandbox: Any | None = None,
    credentials: Mapping[str, Any] | None = None,
    *,
    client: OAuthClient | None = CLIENT,
) -> Google:
    sandbox = sandbox if sandbox is not None else sb.create_app()
    creds = dict(credentials if credentials is not None else SANDBOX_CREDENTIALS)
    saved: list[dict[str, Any]] = []

    async def save_tokens(tokens: Mapping[str, Any]) -> None:
        saved.append(dict(tokens))

    transport = RecordingTransport(httpx.ASGITransport(app=sandbox))
    http = build_http(
        app_key=app.key,
        allowed_hosts=app.allowed_hosts,
        auth=app.auth.httpx_auth(creds, save_tokens, client),
        error_parser=app.error_parser,
        secrets=secrets_of(creds),
        transport=transport,
    )
    google = Google(sandbox, OperationContext(http=http, credentials=creds), transport, saved)
    return google


def expired(credentials: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A token set whose access token is past its hour."""
    return {
        **(credentials or SANDBOX_CREDENTIALS),
        "access_token": "ya29.long-gone",
        "expires_at": int(time.time()) - 10,
    }


async def run(google: Google, key: str, **inputs: Any) -> dict[str, Any]:
    """Run an action as the runner does: validate inputs, perform, validate the output."""
    op = app.action(key)
    result = await op.perform(google.ctx, op.input.model_validate(inputs))
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return op.output.model_validate(data).model_dump(mode="json")


async def poll(
    google: Google, key: str, since: Any = None, **inputs: Any
) -> tuple[list[dict[str, Any]], Any]:
    """One poll of a trigger: its items (validated) and the cursor the engine would keep."""
    op = app.trigger(key)
    items = await op.fetch(google.ctx, op.input.model_validate(inputs), since)  # type: ignore[attr-defined]
    cursor = getattr(items, "cursor", None)
    checked = [op.output.model_validate(dict(item)).model_dump(mode="json") for item in items]
    for item in items:
        op.item_key(item)  # type: ignore[attr-defined]
    return checked, cursor
