"""Google push channels at the connector: Drive's change feed in short pages, removed files,
stopping a channel Google already forgot, and the simulator's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.google_workspace import app
from connectors.google_workspace.auth import SANDBOX_CREDENTIALS
from connectors.google_workspace.sandbox_channels import touch_file
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID
from connectors.sdk import InstantTrigger, UpstreamError
from tests.connectors import google_helpers
from tests.connectors.google_helpers import connect, run

fresh_rotations = google_helpers.fresh_rotations  # an autouse fixture
HOOK = "https://cellwright.example/hooks/abc"


def trigger(key: str) -> InstantTrigger:
    op = app.trigger(key)
    assert isinstance(op, InstantTrigger) and op.fetch and op.subscribe and op.unsubscribe
    return op


async def test_drive_changes_are_read_across_short_pages() -> None:
    google = connect()
    op = trigger("drive_file_changed_instant")
    inputs = op.input.model_validate({})
    baseline = await op.fetch(google.ctx, inputs, None)  # type: ignore[misc]
    assert list(baseline) == []
    await google.control("paging", page_cap=1)
    names = [f"f{i}.txt" for i in range(3)]
    for name in names:
        await run(google, "drive_upload_file", name=name, content="x")
    found = await op.fetch(google.ctx, inputs, baseline.cursor)  # type: ignore[misc, union-attr]
    assert [f["name"] for f in found] == names
    pages = [r for r in google.transport.requests if r.url.path == "/drive/v3/changes"]
    assert len(pages) == 3  # one change a page, each carrying the next token
    assert list(await op.fetch(google.ctx, inputs, found.cursor)) == []  # type: ignore[misc, attr-defined]


async def test_trashed_files_fire_only_when_asked() -> None:
    google = connect()
    op = trigger("drive_file_changed_instant")
    quiet, loud = (
        op.input.model_validate({"folder_id": INVOICES_FOLDER_ID, "include_removed": flag})
        for flag in (False, True)
    )
    baseline = await op.fetch(google.ctx, quiet, None)  # type: ignore[misc]
    invoice = next(f for f in google.account.files.values() if INVOICES_FOLDER_ID in f["parents"])
    touch_file(google.account, invoice["id"], trashed=True)
    assert list(await op.fetch(google.ctx, quiet, baseline.cursor)) == []  # type: ignore[misc, union-attr]
    [item] = await op.fetch(google.ctx, loud, baseline.cursor)  # type: ignore[misc, union-attr]
    assert item["id"] == invoice["id"] and item["trashed"] is True
    assert op.output.model_validate(item)


async def test_stopping_a_channel_google_forgot_is_fine_other_errors_are_not() -> None:
    google = connect()
    op = trigger("calendar_event_changed_instant")
    inputs = op.input.model_validate({"calendar_id": "primary"})
    state = await op.subscribe(google.ctx, inputs, HOOK)  # type: ignore[misc]
    assert state["expires_at"] and state["resource_id"]
    await op.unsubscribe(google.ctx, inputs, state)  # type: ignore[misc]
    await op.unsubscribe(google.ctx, inputs, state)  # type: ignore[misc]  # 404 now: already stopped
    limited = (await google.control("tokens", scopes=["userinfo.email"]))["access_token"]
    other = connect(google.sandbox, {**SANDBOX_CREDENTIALS, "access_token": limited})
    with pytest.raises(UpstreamError) as refused:  # no Calendar scope: not silently ignored
        await op.unsubscribe(other.ctx, inputs, state)  # type: ignore[misc]
    assert refused.value.status == 403


async def test_the_simulator_refuses_a_reused_channel_id_and_a_bad_type() -> None:
    google = connect()
    body: dict[str, Any] = {"id": "c1", "type": "web_hook", "address": HOOK}
    url = "https://www.googleapis.com/calendar/v3/calendars/primary/events/watch"
    assert (await google.ctx.http.request("POST", url, json=body)).status_code == 200
    with pytest.raises(UpstreamError) as again:
        await google.ctx.http.json("POST", url, json=body)
    assert again.value.status == 400 and "not unique" in again.value.message
    with pytest.raises(UpstreamError) as kind:
        await google.ctx.http.json("POST", url, json={**body, "id": "c2", "type": "email"})
    assert kind.value.status == 400
