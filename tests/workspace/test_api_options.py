"""GET /api/v1/apps/{app}/operations/{op}/fields/{field}/options: the choices of an ID
field, listed through the caller's own sandbox connection; errors say what to do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sdk.sandboxing import shared_sandbox
from engine.service import Cellwright
from tests.workspace.test_api import eve  # noqa: F401 - the second user's client fixture

OPTIONS = "/api/v1/apps/{app}/operations/{op}/fields/{field}/options"


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


async def sandbox_connection(client: httpx.AsyncClient, app: str, **credentials: Any) -> str:
    body: dict[str, Any] = {"app": app, "sandbox": True}
    if credentials:
        body["credentials"] = credentials
    created = await client.post("/api/v1/connections", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_slack_channel_field_lists_the_workspaces_channels(
    client: httpx.AsyncClient,
) -> None:
    connection = await sandbox_connection(client, "slack")
    url = OPTIONS.format(app="slack", op="send_message", field="channel")
    answer = await client.get(url, params={"connection": connection})
    assert answer.status_code == 200, answer.text
    options = answer.json()
    # channels the app is in first; archived channels left out; the others say what to do
    assert options == [
        {"value": "C0SANDBOX01", "label": "#general"},
        {"value": "C0SANDBOX02", "label": "#random"},
        {"value": "G0SANDBOX04", "label": "#leadership"},
        {"value": "C0SANDBOX03", "label": "#design (invite the app first)"},
    ]


async def test_dependent_choices_ask_for_what_they_need(client: httpx.AsyncClient) -> None:
    connection = await sandbox_connection(client, "monday")
    url = OPTIONS.format(app="monday", op="create_item", field="group_id")
    missing = await client.get(url, params={"connection": connection})
    assert missing.status_code == 422
    assert (
        missing.json()["message"]
        == "Fill in board_id first: the groups of the board to choose from depend on it."
    )
    reference = await client.get(
        url,
        params={
            "connection": connection,
            "values": json.dumps({"board_id": "{{ trigger.board }}"}),
        },
    )
    assert reference.status_code == 422 and "Fill in board_id first" in reference.json()["message"]
    groups = await client.get(
        url, params={"connection": connection, "values": json.dumps({"board_id": "1234567890"})}
    )
    assert groups.json() == [
        {"value": "topics", "label": "Ideas"},
        {"value": "group_done", "label": "Published"},
    ]
    boards = await client.get(
        OPTIONS.format(app="monday", op="create_item", field="board_id"),
        params={"connection": connection},
    )
    assert boards.json()[0] == {"value": "1234567890", "label": "Content pipeline (1234567890)"}


async def test_list_item_fields_and_integer_ids(client: httpx.AsyncClient) -> None:
    stripe = await sandbox_connection(client, "stripe")
    prices = await client.get(
        OPTIONS.format(app="stripe", op="create_payment_link", field="line_items.price"),
        params={"connection": stripe},
    )
    assert prices.json() == [
        {"value": "price_SandboxTshirt", "label": "20.00 USD (price_SandboxTshirt)"}
    ]
    wordpress = await sandbox_connection(client, "wordpress")
    categories = await client.get(
        OPTIONS.format(app="wordpress", op="create_post", field="categories"),
        params={"connection": wordpress},
    )
    assert categories.json() == [
        {"value": 1, "label": "Uncategorized"}
    ]  # ids: the field takes ids or names


async def test_only_your_own_connection_and_clear_errors(
    client: httpx.AsyncClient,
    eve: httpx.AsyncClient,  # noqa: F811 - the fixture, by name
    svc: Cellwright,
) -> None:
    connection = await sandbox_connection(client, "slack")
    url = OPTIONS.format(app="slack", op="send_message", field="channel")
    theirs = await eve.get(url, params={"connection": connection})
    assert (
        theirs.status_code == 404
        and theirs.json()["message"] == f"You have no Slack connection {connection}."
    )
    other_app = await client.get(
        OPTIONS.format(app="monday", op="create_item", field="board_id"),
        params={"connection": connection},
    )
    assert (
        other_app.status_code == 404
        and other_app.json()["message"] == f"You have no monday.com connection {connection}."
    )
    none = await client.get(url)
    assert none.status_code == 422
    assert (
        none.json()["message"]
        == "Choose a Slack connection first: the Slack channels are listed through it."
    )
    plain = await client.get(
        OPTIONS.format(app="slack", op="send_message", field="text"),
        params={"connection": connection},
    )
    assert plain.status_code == 422
    assert plain.json()["message"] == (
        "Slack · Send message: the field 'text' offers no list of values to choose from. "
        "Fields that do: channel."
    )
    assert (await client.get(OPTIONS.format(app="slack", op="nope", field="channel"))).json()[
        "message"
    ] == "Slack has no operation 'nope'."
    assert (await client.get(OPTIONS.format(app="nope", op="x", field="y"))).status_code == 404
    bad = await client.get(url, params={"connection": connection, "values": "[1]"})
    assert (
        bad.status_code == 422
        and bad.json()["message"] == 'values must be a JSON object, e.g. {"board_id": "123"}.'
    )


async def test_a_refused_token_is_a_message_not_a_traceback(client: httpx.AsyncClient) -> None:
    connection = await sandbox_connection(
        client, "slack", access_token="xoxb-revoked", signing_secret="s" * 32
    )
    answer = await client.get(
        OPTIONS.format(app="slack", op="send_message", field="channel"),
        params={"connection": connection},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "auth_invalid",
        "message": (
            "Slack refused the connection's token (invalid_auth). "
            "Check the Slack connection or reconnect it."
        ),
    }
    assert "xoxb-revoked" not in answer.text


async def test_the_options_route_is_in_the_openapi_description(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/api/v1/openapi.json")).json()
    route = spec["paths"]["/api/v1/apps/{key}/operations/{operation}/fields/{field}/options"]["get"]
    assert {p["name"] for p in route["parameters"]} >= {
        "key",
        "operation",
        "field",
        "connection",
        "values",
    }
    assert "OptionOut" in spec["components"]["schemas"]
