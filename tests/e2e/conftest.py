"""End-to-end fixtures: the vendors' side of the monday.com and WordPress sandboxes.

The engine reaches the sandboxes through sandbox connections (the process-wide
``shared_sandbox`` instances, as ``cellwright serve`` mounts them); these helpers act
as the people using monday.com and WordPress: they create items and change statuses
through monday's GraphQL API, collect the webhook deliveries monday would send, and
read what the WordPress site holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.monday import sandbox as monday_sandbox
from connectors.registry import default_registry
from connectors.sdk.sandboxing import SANDBOX_BASE, shared_sandbox

CREATE_ITEM = """mutation ($board: ID!, $name: String!, $values: JSON) {
  create_item(board_id: $board, item_name: $name, column_values: $values) { id }
}"""
CHANGE_VALUES = """mutation ($board: ID!, $item: ID, $values: JSON!) {
  change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values) { id }
}"""


def sandbox_app(key: str) -> Any:
    app = default_registry().get(key)
    assert app.sandbox is not None
    return shared_sandbox(app.key, app.sandbox)


class MondayBoard:
    """The sandbox account's "Content pipeline" board, used the way a person would."""

    board_id = monday_sandbox.BOARD_ID

    def __init__(self) -> None:
        self.asgi = sandbox_app("monday")
        self.account: monday_sandbox.Account = self.asgi.state.account

    async def _gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=self.asgi)
        headers = {"Authorization": monday_sandbox.SANDBOX_TOKEN}
        async with httpx.AsyncClient(
            transport=transport, base_url=SANDBOX_BASE, headers=headers
        ) as client:
            answer = (
                await client.post("/v2", json={"query": query, "variables": variables})
            ).json()
        assert not answer.get("errors"), answer
        data: dict[str, Any] = answer["data"]
        return data

    async def create_item(
        self,
        name: str,
        *,
        status: str,
        summary: str = "",
        body: str = "",
        tags: list[str] | None = None,
    ) -> str:
        values: dict[str, Any] = {"status": {"label": status}}
        if summary:
            values["text"] = summary
        if body:
            values["long_text"] = {"text": body}
        if tags:
            values["dropdown"] = {"labels": tags}
        data = await self._gql(
            CREATE_ITEM, {"board": self.board_id, "name": name, "values": json.dumps(values)}
        )
        return str(data["create_item"]["id"])

    async def set_status(self, item_id: str, label: str) -> None:
        values = json.dumps({"status": {"label": label}})
        await self._gql(CHANGE_VALUES, {"board": self.board_id, "item": item_id, "values": values})

    def deliveries(self, url: str) -> list[dict[str, Any]]:
        """Take the webhook requests monday has queued for ``url`` (oldest first)."""
        outbox = self.account.outbox
        taken = [payload for to, payload in outbox if to == url]
        outbox[:] = [(to, payload) for to, payload in outbox if to != url]
        return taken


class WordPressSite:
    """What the sandbox WordPress site holds."""

    def __init__(self) -> None:
        self.site = sandbox_app("wordpress").state.site

    def posts_titled(self, title: str) -> list[dict[str, Any]]:
        return [p for p in self.site.posts.values() if p["type"] == "post" and p["title"] == title]

    def category_names(self, post: dict[str, Any]) -> list[str]:
        return [self.site.terms[i]["name"] for i in post.get("categories", [])]


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    """Sandboxes are process-wide (like a vendor account); start each test from the seed."""
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def board(fresh_sandboxes: None) -> MondayBoard:
    return MondayBoard()


@pytest.fixture
def site(fresh_sandboxes: None) -> WordPressSite:
    return WordPressSite()
