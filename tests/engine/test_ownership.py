"""A cell may use only its owner's connections: at save, at publish, and at run time.

The attack: user A names user B's connection id in a cell of an app that ignores
connections (the HTTP action) and points it at a server answering 401 with text A
chose. Before, the runner then turned B's connection to ``error`` with A's text.
"""

from __future__ import annotations

from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import InvalidInputError
from engine.service import Cellwright

NOT_FOUND = "was not found among your connections"


def two_cells(url: str, connection_id: str) -> str:
    return (
        "name: Borrowed\ncells:\n"
        "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: call, kind: action, app: http, operation: request, "
        f"connection: {connection_id}, inputs: {{url: '{url}'}}}}\n"
        "  - {id: who, kind: action, app: keyed, "
        f"operation: whoami, connection: {connection_id}}}\n"
    )


@pytest.fixture
async def bobs(svc: Cellwright) -> tuple[Any, Any]:
    """User B and B's working connection."""
    bob = svc.store.create_user("bob@example.com", name="Bob")
    connection = await svc.create_connection(
        bob.id, "keyed", credentials={"api_key": "good-bob"}, sandbox=True
    )
    assert connection.status == "active"
    return bob, connection


def unchanged(svc: Cellwright, bob: Any, before: Any) -> bool:
    after = svc.store.get_connection(bob.id, before.id)
    return (after.status, after.status_message, after.usage_count, after.updated_at) == (
        before.status,
        before.status_message,
        before.usage_count,
        before.updated_at,
    )


async def test_saving_or_importing_another_users_connection_is_refused(
    svc: Cellwright, user: Any, bobs: Any, sink: Any, client: Any
) -> None:
    bob, theirs = bobs
    doc = documents.loads(two_cells(sink.url + "/x", theirs.id))
    with pytest.raises(InvalidInputError) as info:
        svc.import_scenario(user.id, doc)
    assert (
        NOT_FOUND in info.value.message
        and "Cell 'call'" in info.value.message
        and "Cell 'who'" in info.value.message
    )
    assert (
        "Bob" not in info.value.message and "Keyed" not in info.value.message
    )  # nothing about whose it is
    assert {e["cell_id"] for e in info.value.details["errors"]} == {"call", "who"}
    # the same answer as for an id that never existed: existence is not revealed
    with pytest.raises(InvalidInputError) as missing:
        svc.import_scenario(
            user.id, documents.loads(two_cells(sink.url + "/x", "nosuchconnection"))
        )
    assert missing.value.message == info.value.message.replace(theirs.id, "nosuchconnection")
    # REST: create and new version alike
    answer = await client.post("/api/v1/scenarios", json=doc.to_data())
    assert answer.status_code == 422 and NOT_FOUND in answer.text
    mine = svc.import_scenario(
        user.id, documents.loads(two_cells(sink.url + "/x", "x").replace(", connection: x", ""))
    )
    answer = await client.put(f"/api/v1/scenarios/{mine.id}", json=doc.to_data())
    assert answer.status_code == 422 and NOT_FOUND in answer.text
    assert (
        svc.store.list_scenarios(user.id) == [svc.scenario(user.id, mine.id)]
        and svc.scenario(user.id, mine.id).version == 1
    )
    # the owner may use it
    assert svc.import_scenario(bob.id, doc).version == 1
    assert unchanged(svc, bob, theirs)


async def test_a_stored_document_with_another_users_connection_fails_before_any_call(
    svc: Cellwright, user: Any, bobs: Any, sink: Any, helpers: Any
) -> None:
    bob, theirs = bobs
    url = sink.plan(
        "/denied",
        helpers.Reply(status=401, body={"message": "Bob, your account is suspended: call +1 555"}),
    )
    doc = documents.loads(two_cells(url, theirs.id))
    # written before save checked connections (or straight into the store)
    stored = svc.store.save_scenario(user.id, doc.to_data(), nodes=documents.node_rows(doc))
    result = await svc.run_now(user.id, stored.id, {}, timeout=10)
    assert result["status"] == "failed" and result["error"]["code"] == "configuration_error"
    assert result["error"]["cell_id"] == "call" and NOT_FOUND in result["error"]["message"]
    assert [c["cell_id"] for c in result["cells"]] == []  # refused before any cell ran
    assert sink.hits("/denied") == []
    assert unchanged(svc, bob, theirs)
    # publishing such a version is refused too
    with pytest.raises(InvalidInputError, match=NOT_FOUND):
        await svc.publish(user.id, stored.id)
    # "Run cell" on an unsaved document: refused before the request
    cell = await svc.run_cell(user.id, doc, "call", {"trigger": {}, "steps": {}})
    assert (
        cell.status == "failed"
        and cell.error["code"] == "configuration_error"
        and NOT_FOUND in cell.error["message"]
    )
    assert sink.hits("/denied") == []
    assert unchanged(svc, bob, theirs)


async def test_a_401_from_an_app_without_auth_leaves_the_named_connection_alone(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    """The HTTP action never uses the connection its cell names: its 401 is not the connection's."""
    mine = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-mine"}, sandbox=True
    )
    url = sink.plan(
        "/denied", helpers.Reply(status=401, body={"message": "text chosen by the server"})
    )
    text = two_cells(url, mine.id).split("  - {id: who")[0]
    saved = svc.import_scenario(user.id, documents.loads(text))
    result = await svc.run_now(user.id, saved.id, {}, timeout=10)
    assert (
        result["status"] == "failed"
        and result["error"]["code"] == "auth_invalid"
        and len(sink.hits("/denied")) == 1
    )
    after = svc.store.get_connection(user.id, mine.id)
    assert after.status == "active" and after.status_message is None
