"""A small, stateful monday.com account behind the GraphQL endpoint ``POST /v2``.

Queries run for real (graphql-core) against ``sandbox_schema.graphql``: the part of
monday's official 2026-10 schema the connector uses, checked to be a faithful subset
by the contract test. Errors follow monday's error format
(https://developer.monday.com/api-reference/docs/errors): HTTP 200 with ``errors[]``
and ``extensions.code`` for application errors, 401 for a bad token, 429 with
``Retry-After`` and ``retry_in_seconds`` when the complexity budget is spent. Column
values are checked per type the way monday documents them
(https://developer.monday.com/api-reference/docs/change-column-values).

Webhooks: ``create_webhook`` records the subscription and, like monday, queues the URL
``challenge``; item creations, column changes and updates then queue event payloads
(shapes from monday's webhook docs) in ``state.outbox`` as ``(url, payload)``; tests
feed them to the triggers with ``delivery(...)``.

Also as monday does: each query costs complexity points that grow with what it asks for
(``query_cost``), taken from a budget of ``BUDGET`` a minute, and a query the budget cannot
cover is answered 429 ``COMPLEXITY_BUDGET_EXHAUSTED`` with ``Retry-After`` and
``retry_in_seconds``; pages may be shorter than ``limit`` and still carry a cursor; an
``API-Version`` monday does not serve is refused (400); a user without permission gets
``UserUnauthorizedException``; webhook deliveries are also POSTed (``Account.sender``) to
Cellwright's own ``/hooks/…`` when the server hosts the sandbox. ``POST /__sandbox__/settings``
sets the budget, a page cap and a read-only user.

Demo credentials: ``auth.SANDBOX_CREDENTIALS`` (token ``SANDBOX_TOKEN``). Seeded: board
``BOARD_ID`` "Content pipeline" (a column of each common type, groups ``topics`` and
``group_done``, items 9000000001 and 9000000002) and its subitems board. Test-only hook:
``POST /__sandbox__/fail`` with ``{"code": "COMPLEXITY_BUDGET_EXHAUSTED", "http_status":
429, "retry_in_seconds": 30, "times": 1}`` makes the next calls fail with that error.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    graphql_sync,
    parse,
)
from graphql.error import GraphQLSyntaxError
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.monday.auth import SANDBOX_CREDENTIALS
from connectors.sdk import IncomingRequest
from connectors.sdk.sandboxing import Delivery, WebhookOutbox

SANDBOX_TOKEN = SANDBOX_CREDENTIALS["api_token"]
TOKENS = {SANDBOX_TOKEN: "1001"}
BOARD_ID, SUBITEMS_BOARD_ID = "1234567890", "1234567891"
QUERY_COST = 1000
"""What a query costs at least (its fields cost more; see ``query_cost``)."""
BUDGET = 10_000_000
"""Complexity points a minute per token on paid plans (https://developer.monday.com/api-reference/docs/rate-limits)."""
MUTATION_COST = 10_000
"""What one item mutation costs: ``create_item`` ≈ 10,000 points (VENDORS.md §1.1, rate limits)."""
PER_ITEM = 100
"""What each item a page may return costs (a page's cost grows with its ``limit``)."""
VERSIONS = frozenset({"2026-04", "2026-07", "2026-10", "2027-01"})
"""The versions monday serves around 2026-10 (maintenance, current, release candidate;
https://developer.monday.com/api-reference/docs/api-versioning). A call without the header
gets the current one."""
VALUE_TYPES = {
    "text": "TextValue",
    "long_text": "LongTextValue",
    "numbers": "NumbersValue",
    "status": "StatusValue",
    "dropdown": "DropdownValue",
    "date": "DateValue",
    "people": "PeopleValue",
    "email": "EmailValue",
    "link": "LinkValue",
    "phone": "PhoneValue",
    "checkbox": "CheckboxValue",
    "subtasks": "SubtasksValue",
    "formula": "FormulaValue",
}
WEBHOOK_COLUMN_TYPES = {"status": "color", "people": "multiple-person", "dropdown": "dropdown"}


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    return build_schema((Path(__file__).parent / "sandbox_schema.graphql").read_text())


def fail(message: str, code: str, status: int = 200, **error_data: Any) -> NoReturn:
    raise GraphQLError(
        message, extensions={"code": code, "status_code": status, "error_data": error_data}
    )


def _column(
    cid: str, title: str, ctype: str, settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {"id": cid, "title": title, "type": ctype, "settings_str": json.dumps(settings or {})}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    """The simulated account's state."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    boards: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursors: dict[str, list[str]] = field(default_factory=dict)
    outbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    budget: int = BUDGET
    window_start: float = field(default_factory=time.time)
    requests: int = 0
    page_cap: int | None = None
    read_only: bool = False
    """The token's user may read but not change boards (a viewer): mutations are refused."""
    sender: WebhookOutbox = field(default_factory=WebhookOutbox)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9000000100))

    @classmethod
    def seeded(cls) -> Account:
        account = cls()
        account.users = {
            "1001": {"id": "1001", "name": "Ada Lovelace", "email": "ada@example.com"},
            "1002": {"id": "1002", "name": "Grace Hopper", "email": "grace@example.com"},
        }
        status = {"labels": {"0": "Working on it", "1": "Done", "2": "Stuck", "3": "Approved"}}
        account.boards[BOARD_ID] = {
            "id": BOARD_ID,
            "name": "Content pipeline",
            "groups": [
                {"id": "topics", "title": "Ideas"},
                {"id": "group_done", "title": "Published"},
            ],
            "columns": [
                _column("name", "Name", "name"),
                _column("status", "Status", "status", status),
                _column("date4", "Publish date", "date"),
                _column("person", "Owner", "people"),
                _column("text", "Summary", "text"),
                _column("long_text", "Body", "long_text"),
                _column("numbers", "Word count", "numbers"),
                _column("email", "Contact", "email"),
                _column("link", "Source", "link"),
                _column("phone", "Phone", "phone"),
                _column("checkbox", "Featured", "checkbox"),
                _column(
                    "dropdown",
                    "Tags",
                    "dropdown",
                    {"labels": [{"id": 1, "name": "Blog"}, {"id": 2, "name": "News"}]},
                ),
                _column("subitems", "Subitems", "subtasks", {"boardIds": [int(SUBITEMS_BOARD_ID)]}),
                _column("formula", "Score", "formula"),
            ],
        }
        account.boards[SUBITEMS_BOARD_ID] = {
            "id": SUBITEMS_BOARD_ID,
            "name": "Subitems of Content pipeline",
            "groups": [{"id": "topics", "title": "Subitems"}],
            "columns": [
                _column("name", "Name", "name"),
                _column(
                    "status", "Status", "status", {"labels": {"0": "Working on it", "1": "Done"}}
                ),
                _column("date0", "Date", "date"),
            ],
        }
        for n, (name, values) in enumerate(
            (
                ("Holiday guide", {"status": {"index": 0}, "text": "Gift ideas"}),
                (
                    "Spring launch post",
                    {
                        "status": {"index": 3},
                        "date4": {"date": "2026-03-01", "time": None},
                        "person": {"personsAndTeams": [{"id": 1001, "kind": "person"}]},
                        "text": "Announce the spring release",
                    },
                ),
            )
        ):
            account.items[f"900000000{n + 1}"] = {
                "id": f"900000000{n + 1}",
                "name": name,
                "board_id": BOARD_ID,
                "group_id": "topics",
                "state": "active",
                "created_at": f"2026-11-0{n + 1}T09:00:00Z",
                "updated_at": f"2026-11-0{n + 1}T09:00:00Z",
                "creator_id": "1001",
                "values": values,
                "parent_id": None,
            }
        return account

    def queue(self, url: str, payload: dict[str, Any]) -> None:
        """A webhook POST as monday sends it: kept in ``outbox`` for tests, and sent by
        ``sender`` when the sandbox is hosted by Cellwright (to its own ``/hooks/…``)."""
        self.outbox.append((url, payload))
        self.sender.post(
            Delivery(url, {"content-type": "application/json"}, json.dumps(payload).encode())
        )

    # -- lookups -------------------------------------------------------------------------------

    def board(self, board_id: Any) -> dict[str, Any]:
        found = self.boards.get(str(board_id))
        if found is None:
            fail("Board not found", "InvalidBoardIdException", board_id=str(board_id))
        return found

    def item(self, item_id: Any) -> dict[str, Any]:
        found = self.items.get(str(item_id))
        if found is None or found["state"] == "deleted":
            fail(
                f"Item {item_id} not found", "ResourceNotFoundException", 404, item_id=str(item_id)
            )
        return found

    def new_id(self) -> str:
        return str(next(self.ids))

    # -- column values, the way monday reads them ------------------------------------------------

    def parse_values(self, board: dict[str, Any], raw: Any, create_labels: bool) -> dict[str, Any]:
        if raw in (None, ""):
            return {}
        try:
            values = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            fail("column_values is not valid JSON", "InvalidArgumentException")
        if not isinstance(values, dict):
            fail("column_values must be a JSON object", "InvalidArgumentException")
        columns = {c["id"]: c for c in board["columns"]}
        stored = {}
        for column_id, value in values.items():
            column = columns.get(column_id)
            if column is None:
                fail(
                    "This column ID doesn't exist for the board",
                    "InvalidColumnIdException",
                    column_id=column_id,
                )
            stored[column_id] = self.store(column, value, create_labels)
        return stored

    def store(self, column: dict[str, Any], value: Any, create_labels: bool) -> Any:
        kind, column_id = column["type"], column["id"]

        def wrong(why: str) -> NoReturn:
            fail(
                f"invalid value - {why}. Please check our API documentation "
                "for the correct data structure for this column. "
                "https://developer.monday.com/api-reference/docs/change-column-values",
                "ColumnValueException",
                column_id=column_id,
                column_type=kind,
            )

        if value in (None, "", {}):
            return None
        if kind in ("text", "name"):
            return value if isinstance(value, str) else wrong("text columns take a string")
        if kind == "numbers":
            if not re.fullmatch(r"-?\d+(\.\d+)?", str(value)):
                wrong("numbers columns take a number")
            return str(value)
        if kind == "long_text":
            return (
                {"text": value["text"]}
                if isinstance(value, dict) and "text" in value
                else wrong('expected {"text"}')
            )
        if kind == "status":
            return {"index": self._status_index(column, value, create_labels, wrong)}
        if kind == "dropdown":
            return {"ids": self._dropdown_ids(column, value, create_labels, wrong)}
        if kind == "date":
            when = value if isinstance(value, dict) else {"date": value}
            try:
                date.fromisoformat(str(when.get("date")))
            except ValueError:
                wrong('expected {"date": "YYYY-MM-DD"}')
            return {"date": when["date"], "time": when.get("time")}
        if kind == "people":
            people = value.get("personsAndTeams") if isinstance(value, dict) else None
            if not isinstance(people, list) or any(
                str(p.get("id")) not in self.users for p in people if p.get("kind") != "team"
            ):
                wrong('expected {"personsAndTeams": [{"id": <user id>, "kind": "person"}]}')
            return {"personsAndTeams": people}
        if kind == "email" and isinstance(value, dict) and "@" in str(value.get("email")):
            return {"email": value["email"], "text": value.get("text") or value["email"]}
        if kind == "link" and isinstance(value, dict) and value.get("url"):
            return {"url": value["url"], "text": value.get("text") or value["url"]}
        if kind == "phone" and isinstance(value, dict) and value.get("phone"):
            return {"phone": value["phone"], "countryShortName": value.get("countryShortName")}
        if (
            kind == "checkbox"
            and isinstance(value, dict)
            and str(value.get("checked")).lower() == "true"
        ):
            return {"checked": True}
        if kind in ("subtasks", "formula", "creation_log"):
            wrong(f"{kind} columns can't be changed through the API")
        wrong(f"unexpected value for a {kind} column")

    @staticmethod
    def _labels(column: dict[str, Any]) -> Any:
        return json.loads(column["settings_str"]).get("labels")

    def _status_index(
        self, column: dict[str, Any], value: Any, create: bool, wrong: Callable[[str], NoReturn]
    ) -> int:
        labels: dict[str, str] = self._labels(column)
        if isinstance(value, dict) and "index" in value:
            if str(value["index"]) not in labels:
                wrong("index does not exist in column")
            return int(value["index"])
        label = value.get("label") if isinstance(value, dict) else value
        for index, name in labels.items():
            if name == label:
                return int(index)
        if not create:
            wrong("label does not exist in column")
        index = str(max(int(i) for i in labels) + 1)
        labels[index] = str(label)
        column["settings_str"] = json.dumps({"labels": labels})
        return int(index)

    def _dropdown_ids(
        self, column: dict[str, Any], value: Any, create: bool, wrong: Callable[[str], NoReturn]
    ) -> list[int]:
        labels: list[dict[str, Any]] = self._labels(column)
        if not isinstance(value, dict) or not ({"ids", "labels"} & set(value)):
            wrong('expected {"labels": [...]} or {"ids": [...]}')
        if "ids" in value:
            known = {entry["id"] for entry in labels}
            if any(int(i) not in known for i in value["ids"]):
                wrong("dropdown id does not exist")
            return [int(i) for i in value["ids"]]
        ids = []
        for name in value["labels"]:
            entry = next((e for e in labels if e["name"] == name), None)
            if entry is None:
                if not create:
                    wrong(f"dropdown label '{name}' does not exist")
                entry = {"id": max(e["id"] for e in labels) + 1, "name": name}
                labels.append(entry)
                column["settings_str"] = json.dumps({"labels": labels})
            ids.append(entry["id"])
        return ids

    def text(self, column: dict[str, Any], stored: Any) -> str | None:
        """The ``text`` monday shows for a stored value."""
        if stored is None:
            return None
        kind = column["type"]
        if kind == "status":
            return str(self._labels(column)[str(stored["index"])])
        if kind == "dropdown":
            names = {e["id"]: e["name"] for e in self._labels(column)}
            return ", ".join(names[i] for i in stored["ids"])
        if kind == "date":
            return " ".join(v for v in (stored["date"], (stored.get("time") or "")[:5]) if v)
        if kind == "people":
            return ", ".join(
                self.users[str(p["id"])]["name"]
                for p in stored["personsAndTeams"]
                if p.get("kind") != "team"
            )
        if kind == "link":
            return (
                stored["url"]
                if stored["text"] == stored["url"]
                else f"{stored['text']} - {stored['url']}"
            )
        if kind == "checkbox":
            return "v"
        if isinstance(stored, dict):
            return str(stored.get("text") or stored.get("email") or stored.get("phone") or "")
        return str(stored)

    def webhook_value(self, column: dict[str, Any], stored: Any) -> Any:
        """A value as monday's webhooks send it."""
        if stored is None:
            return None
        kind = column["type"]
        if kind == "status":
            return {
                "label": {"index": stored["index"], "text": self.text(column, stored), "style": {}},
                "post_id": None,
            }
        if kind == "dropdown":
            names = {e["id"]: e["name"] for e in self._labels(column)}
            return {"chosenValues": [{"id": i, "name": names[i]} for i in stored["ids"]]}
        if kind in ("text", "numbers"):
            return {"value": stored}
        return stored


class Resolvers:
    """Root fields and object builders for one request."""

    def __init__(self, account: Account, user_id: str, complexity: dict[str, int]) -> None:
        self.a, self.user_id, self.complexity = account, user_id, complexity

    # -- objects --------------------------------------------------------------------------------

    def board_obj(self, board: dict[str, Any]) -> dict[str, Any]:
        a = self.a

        def columns(
            info: Any, ids: list[str] | None = None, types: list[str] | None = None
        ) -> list[dict[str, Any]]:
            return [
                c
                for c in board["columns"]
                if (not ids or c["id"] in ids) and (not types or c["type"] in types)
            ]

        def groups(info: Any, ids: list[str] | None = None) -> list[dict[str, Any]]:
            return [g for g in board["groups"] if not ids or g["id"] in ids]

        def items_page(
            info: Any, limit: int, cursor: str | None = None, query_params: Any = None
        ) -> dict[str, Any]:
            if cursor:
                return self.next_items_page(info, cursor, limit)
            chosen = [
                i
                for i in a.items.values()
                if i["board_id"] == board["id"] and i["state"] == "active"
            ]
            if query_params and query_params.get("ids"):
                chosen = [i for i in chosen if i["id"] in query_params["ids"]]
            for order in reversed((query_params or {}).get("order_by") or []):
                key = "created_at" if order["column_id"] == "__creation_log__" else "id"
                chosen.sort(
                    key=lambda i: (i[key], i["id"]), reverse=order.get("direction") == "desc"
                )
            return self.page([i["id"] for i in chosen], limit)

        return {
            "id": board["id"],
            "name": board["name"],
            "columns": columns,
            "groups": groups,
            "items_page": items_page,
        }

    def item_obj(self, item: dict[str, Any]) -> dict[str, Any]:
        board = self.a.boards[item["board_id"]]

        def column_values(info: Any, ids: list[str] | None = None) -> list[dict[str, Any]]:
            out = []
            for column in board["columns"]:
                if column["type"] == "name" or (ids and column["id"] not in ids):
                    continue
                stored = item["values"].get(column["id"])
                out.append(
                    {
                        "__typename": VALUE_TYPES[column["type"]],
                        "id": column["id"],
                        "type": column["type"],
                        "column": column,
                        "text": self.a.text(column, stored),
                        "value": None if stored is None else json.dumps(stored),
                    }
                )
            return out

        parent = self.a.items.get(item["parent_id"] or "")
        return {
            **{k: item[k] for k in ("id", "name", "state", "created_at", "updated_at")},
            "url": f"https://sandbox-co.monday.com/boards/{board['id']}/pulses/{item['id']}",
            "board": lambda info: self.board_obj(board),
            "group": next((g for g in board["groups"] if g["id"] == item["group_id"]), None),
            "parent_item": lambda info: self.item_obj(parent) if parent else None,
            "column_values": column_values,
        }

    def page(self, ids: list[str], limit: int) -> dict[str, Any]:
        """One page and the cursor to the rest. monday may answer fewer items than ``limit``
        with a cursor (``page_cap`` makes it so): clients follow the cursor until it is null."""
        cursor = None
        limit = min(limit, self.a.page_cap) if self.a.page_cap is not None else limit
        if len(ids) > limit:
            cursor = f"MSw{uuid.uuid4().hex}"
            self.a.cursors[cursor] = ids[limit:]
        return {"cursor": cursor, "items": [self.item_obj(self.a.items[i]) for i in ids[:limit]]}

    # -- queries -------------------------------------------------------------------------------

    def me(self, info: Any) -> dict[str, Any]:
        return {
            **self.a.users[self.user_id],
            "account": {"id": "501", "name": "Sandbox Co", "slug": "sandbox-co"},
        }

    def boards(
        self,
        info: Any,
        ids: list[str] | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[Any]:
        chosen = [b for b in self.a.boards.values() if not ids or b["id"] in ids]
        size = 25 if limit is None else limit  # monday's defaults: limit 25, pages from 1
        start = (max(page or 1, 1) - 1) * size
        return [self.board_obj(b) for b in chosen[start : start + size]]

    def items(
        self,
        info: Any,
        ids: list[str] | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[Any]:
        found = [
            self.a.items[i]
            for i in ids or []
            if i in self.a.items and self.a.items[i]["state"] != "deleted"
        ]
        return [self.item_obj(i) for i in found[: limit or 25]]

    def items_page_by_column_values(
        self, info: Any, board_id: str, limit: int, columns: Any = None, cursor: str | None = None
    ) -> Any:
        if cursor:
            return self.next_items_page(info, cursor, limit)
        board = self.a.board(board_id)
        by_id = {c["id"]: c for c in board["columns"]}
        matches = []
        for item in self.a.items.values():
            if item["board_id"] != board["id"] or item["state"] != "active":
                continue
            ok = True
            for rule in columns or []:
                column = by_id.get(rule["column_id"]) or fail(
                    "Column not found", "InvalidColumnIdException", column_id=rule["column_id"]
                )
                text = (
                    item["name"]
                    if column["type"] == "name"
                    else self.a.text(column, item["values"].get(column["id"]))
                )
                ok = ok and text in rule["column_values"]
            if ok:
                matches.append(item["id"])
        return self.page(matches, limit)

    def next_items_page(self, info: Any, cursor: str, limit: int) -> dict[str, Any]:
        rest = self.a.cursors.pop(cursor, None)
        if rest is None:
            fail("The cursor is invalid or expired (cursors live 60 minutes)", "CursorExpiredError")
        return self.page(rest, limit)

    def complexity_(self, info: Any) -> dict[str, int]:
        return self.complexity

    # -- mutations -----------------------------------------------------------------------------

    def _create(
        self,
        board: dict[str, Any],
        name: str,
        group_id: str | None,
        values: Any,
        labels: bool | None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        groups = {g["id"] for g in board["groups"]}
        if group_id and group_id not in groups:
            fail("Group not found", "InvalidGroupIdException", group_id=group_id)
        stored = self.a.parse_values(board, values, bool(labels))
        item = {
            "id": self.a.new_id(),
            "name": name,
            "board_id": board["id"],
            "group_id": group_id or board["groups"][0]["id"],
            "state": "active",
            "created_at": _now(),
            "updated_at": _now(),
            "creator_id": self.user_id,
            "values": {k: v for k, v in stored.items() if v is not None},
            "parent_id": parent_id,
        }
        self.a.items[item["id"]] = item
        return item

    def create_item(
        self,
        info: Any,
        board_id: str,
        item_name: str,
        group_id: str | None = None,
        column_values: Any = None,
        create_labels_if_missing: bool | None = None,
    ) -> Any:
        item = self._create(
            self.a.board(board_id), item_name, group_id, column_values, create_labels_if_missing
        )
        self.emit(item, "create_item", self.item_event(item, "create_pulse"))
        return self.item_obj(item)

    def create_subitem(
        self,
        info: Any,
        parent_item_id: str,
        item_name: str,
        column_values: Any = None,
        create_labels_if_missing: bool | None = None,
    ) -> Any:
        parent = self.a.item(parent_item_id)
        board = (
            self.a.boards[SUBITEMS_BOARD_ID]
            if parent["board_id"] == BOARD_ID
            else fail("This board has no subitems", "InvalidArgumentException")
        )
        item = self._create(
            board, item_name, None, column_values, create_labels_if_missing, parent_id=parent["id"]
        )
        return self.item_obj(item)

    def change_multiple_column_values(
        self,
        info: Any,
        board_id: str,
        column_values: Any,
        item_id: str | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> Any:
        board, item = self.a.board(board_id), self.a.item(item_id)
        if item["board_id"] != board["id"]:
            fail("Item not found in board", "ResourceNotFoundException", 404, item_id=item["id"])
        changes = self.a.parse_values(board, column_values, bool(create_labels_if_missing))
        columns = {c["id"]: c for c in board["columns"]}
        for column_id, value in changes.items():
            if column_id == "name":
                item["name"] = value or item["name"]
                continue
            previous = item["values"].get(column_id)
            if value is None:
                item["values"].pop(column_id, None)
            else:
                item["values"][column_id] = value
            self.column_events(item, columns[column_id], previous, value)
        item["updated_at"] = _now()
        return self.item_obj(item)

    def create_update(self, info: Any, body: str, item_id: str | None = None) -> dict[str, Any]:
        item = self.a.item(item_id)
        update = {
            "id": self.a.new_id(),
            "item_id": item["id"],
            "body": body,
            "text_body": re.sub(r"<[^>]+>", "", body),
            "created_at": _now(),
            "creator_id": self.user_id,
        }
        self.a.updates[update["id"]] = update
        event = {
            **self.item_event(item, "create_update"),
            "updateId": int(update["id"]),
            "body": body,
            "textBody": update["text_body"],
            "replyId": None,
        }
        self.emit(item, "create_update", event)
        return update

    def move_item_to_group(self, info: Any, group_id: str, item_id: str | None = None) -> Any:
        item = self.a.item(item_id)
        if group_id not in {g["id"] for g in self.a.boards[item["board_id"]]["groups"]}:
            fail("Group not found", "InvalidGroupIdException", group_id=group_id)
        item["group_id"] = group_id
        return self.item_obj(item)

    def archive_item(self, info: Any, item_id: str | None = None) -> Any:
        item = self.a.item(item_id)
        item["state"] = "archived"
        return self.item_obj(item)

    def delete_item(self, info: Any, item_id: str | None = None) -> Any:
        item = self.a.item(item_id)
        item["state"] = "deleted"
        return self.item_obj(item)

    def create_webhook(
        self, info: Any, board_id: str, url: str, event: str, config: Any = None
    ) -> dict[str, Any]:
        board = self.a.board(board_id)
        parsed = json.loads(config) if isinstance(config, str) else config
        hook = {
            "id": self.a.new_id(),
            "board_id": board["id"],
            "event": event,
            "url": url,
            "config": json.dumps(parsed) if parsed is not None else None,
        }
        self.a.webhooks[hook["id"]] = hook
        self.a.queue(url, {"challenge": uuid.uuid4().hex})  # monday verifies the URL first
        return {k: hook[k] for k in ("id", "board_id", "event", "config")}

    def delete_webhook(self, info: Any, id: str) -> dict[str, Any]:
        hook = self.a.webhooks.pop(str(id), None)
        if hook is None:
            fail("Webhook not found", "ResourceNotFoundException", 404)
        return {k: hook[k] for k in ("id", "board_id", "event", "config")}

    # -- webhook events ------------------------------------------------------------------------

    def item_event(self, item: dict[str, Any], kind: str) -> dict[str, Any]:
        return {
            "app": "monday",
            "type": kind,
            "triggerTime": _now(),
            "userId": int(self.user_id),
            "originalTriggerUuid": None,
            "boardId": int(item["board_id"]),
            "pulseId": int(item["id"]),
            "pulseName": item["name"],
            "groupId": item["group_id"],
            "isTopGroup": True,
        }

    def emit(
        self,
        item: dict[str, Any],
        event: str,
        payload: dict[str, Any],
        matches: Callable[[dict[str, Any]], bool] = lambda config: True,
    ) -> None:
        if event == "create_item":
            columns = {c["id"]: c for c in self.a.boards[item["board_id"]]["columns"]}
            payload["columnValues"] = {
                k: self.a.webhook_value(columns[k], v) for k, v in item["values"].items()
            }
        for hook in self.a.webhooks.values():
            if (
                hook["board_id"] == item["board_id"]
                and hook["event"] == event
                and matches(json.loads(hook["config"] or "{}"))
            ):
                body = {
                    **payload,
                    "subscriptionId": int(hook["id"]),
                    "triggerUuid": uuid.uuid4().hex,
                }
                self.a.queue(hook["url"], {"event": body})

    def column_events(
        self, item: dict[str, Any], column: dict[str, Any], previous: Any, value: Any
    ) -> None:
        payload = {
            **self.item_event(item, "update_column_value"),
            "columnId": column["id"],
            "columnType": WEBHOOK_COLUMN_TYPES.get(column["type"], column["type"]),
            "columnTitle": column["title"],
            "value": self.a.webhook_value(column, value),
            "previousValue": self.a.webhook_value(column, previous),
            "changedAt": time.time(),
        }
        self.emit(item, "change_column_value", dict(payload))
        self.emit(
            item,
            "change_specific_column_value",
            dict(payload),
            lambda c: c.get("columnId") == column["id"],
        )
        if column["type"] == "status" and value is not None:

            def status_matches(config: dict[str, Any]) -> bool:
                wanted = config.get("columnValue") or {}
                return config.get("columnId") == column["id"] and bool(
                    wanted.get("$any$") or wanted.get("index") == value["index"]
                )

            self.emit(item, "change_status_column_value", dict(payload), status_matches)


ROOT_FIELDS = (
    "me",
    "boards",
    "items",
    "items_page_by_column_values",
    "next_items_page",
    "create_item",
    "create_subitem",
    "change_multiple_column_values",
    "create_update",
    "move_item_to_group",
    "archive_item",
    "delete_item",
    "create_webhook",
    "delete_webhook",
)


def _error(
    status: int,
    message: str,
    code: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {
        "errors": [{"message": message, "extensions": {"code": code, **extensions}}],
        "account_id": 501,
    }
    return JSONResponse(body, status, headers=dict(headers or {}))


MUTATIONS = (
    "create_item",
    "create_subitem",
    "change_multiple_column_values",
    "create_update",
    "move_item_to_group",
    "archive_item",
    "delete_item",
    "create_webhook",
    "delete_webhook",
)


def _unauthorized(*args: Any, **kwargs: Any) -> NoReturn:
    """monday's permission error (HTTP 200, ``UserUnauthorizedException``, status_code 403;
    the sample in https://developer.monday.com/api-reference/docs/error-handling)."""
    fail("User unauthorized to perform action", "UserUnauthorizedException", 403)


def query_cost(document: str, variables: Mapping[str, Any]) -> int:
    """A query's complexity, growing with what it asks for: each item mutation
    ``MUTATION_COST``, each page ``PER_ITEM`` × its ``limit``, at least ``QUERY_COST``.
    (monday's own formula is not published; these follow its documented orders of size.)"""
    try:
        tree = parse(document)
    except GraphQLSyntaxError:
        return QUERY_COST
    cost = 0

    def limit_of(node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "limit":
                value = argument.value
                raw = (
                    variables.get(value.name.value)
                    if value.kind == "variable"
                    else getattr(value, "value", None)
                )  # type: ignore[attr-defined]
                return int(raw) if str(raw).isdigit() else 25
        return 0

    def walk(nodes: Any, top: bool, mutation: bool) -> None:
        nonlocal cost
        for node in nodes or ():
            if isinstance(node, FieldNode):
                if top and mutation and node.name.value in MUTATIONS:
                    cost += MUTATION_COST
                if node.name.value in (
                    "items_page",
                    "next_items_page",
                    "items_page_by_column_values",
                ) or (top and node.name.value == "items"):
                    cost += PER_ITEM * (limit_of(node) or 25)
                walk(node.selection_set.selections if node.selection_set else (), False, mutation)

    for definition in tree.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(
                definition.selection_set.selections, True, definition.operation.value == "mutation"
            )
    return max(QUERY_COST, cost)


async def graphql_endpoint(request: Request) -> Response:
    account: Account = request.app.state.account
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    user_id = TOKENS.get(token)
    if user_id is None:  # a 401 in the unified error format (API 2025-01 and later)
        return _error(401, "Not Authenticated", "UNAUTHENTICATED", status_code=401)
    version = request.headers.get("api-version")
    if (
        version is not None and version not in VERSIONS
    ):  # a transport-layer error: 400 (error-handling docs)
        return _error(
            400,
            f"The API version {version} does not exist or is no longer supported. "
            f"Supported versions: {', '.join(sorted(VERSIONS))}",
            "InvalidVersionException",
            status_code=400,
        )
    if account.failures:
        spec = account.failures.pop(0)
        retry = spec.get("retry_in_seconds")
        return _error(
            int(spec.get("http_status", 200)),
            spec.get("message", spec["code"]),
            spec["code"],
            {"Retry-After": str(retry)} if retry is not None else None,
            **({"retry_in_seconds": retry} if retry is not None else {}),
        )
    try:
        payload = await request.json()
    except ValueError:
        return _error(400, "The request body is not JSON", "INVALID_REQUEST")
    account.requests += 1
    if time.time() - account.window_start >= 60:
        account.budget, account.window_start = BUDGET, time.time()
    reset = max(1, math.ceil(60 - (time.time() - account.window_start)))
    cost = query_cost(str(payload.get("query") or ""), payload.get("variables") or {})
    if account.budget < cost:
        return _error(
            429,
            "Complexity budget exhausted",
            "COMPLEXITY_BUDGET_EXHAUSTED",
            {"Retry-After": str(reset)},
            retry_in_seconds=reset,
            complexity=cost,
            complexity_budget_left=account.budget,
            complexity_budget_limit=BUDGET,
            status_code=429,
        )
    complexity = {
        "before": account.budget,
        "after": account.budget - cost,
        "query": cost,
        "reset_in_x_seconds": reset,
    }
    account.budget -= cost
    resolvers = Resolvers(account, user_id, complexity)
    root = {name: getattr(resolvers, name) for name in ROOT_FIELDS} | {
        "complexity": resolvers.complexity_
    }
    if account.read_only:
        root |= {name: _unauthorized for name in MUTATIONS}
    result = graphql_sync(
        schema(),
        str(payload.get("query") or ""),
        root_value=root,
        variable_values=payload.get("variables") or None,
        operation_name=payload.get("operationName"),
    )
    body: dict[str, Any] = {"data": result.data} if result.data is not None else {}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    body["account_id"] = 501
    return JSONResponse(body)


async def settings(request: Request) -> Response:
    """Test-only: how the account behaves. JSON with any of ``budget`` (complexity points
    left this minute), ``page_cap`` (items a page answers at most, with a cursor to the
    rest) and ``read_only`` (the token's user may not change boards)."""
    account: Account = request.app.state.account
    given = await request.json()
    if "budget" in given:
        account.budget, account.window_start = int(given["budget"]), time.time()
    if "page_cap" in given:
        account.page_cap = given["page_cap"]
    if "read_only" in given:
        account.read_only = bool(given["read_only"])
    return JSONResponse({"ok": True})


async def inject_failure(request: Request) -> Response:
    """Test-only: queue failures (see the module docstring)."""
    spec = await request.json()
    request.app.state.account.failures.extend([spec] * int(spec.get("times", 1)))
    return JSONResponse({"queued": len(request.app.state.account.failures)})


def create_app() -> Starlette:
    """A fresh sandbox account (new state per call)."""
    app = Starlette(
        routes=[
            Route("/v2", graphql_endpoint, methods=["POST"]),
            Route("/__sandbox__/fail", inject_failure, methods=["POST"]),
            Route("/__sandbox__/settings", settings, methods=["POST"]),
        ]
    )
    app.state.account = Account.seeded()
    return app


def delivery(
    payload: Mapping[str, Any],
    *,
    jwt_secret: str | None = None,
    audience: str | None = None,
    expires_in: int = 300,
) -> IncomingRequest:
    """A webhook request as monday sends it; with ``jwt_secret``, signed like an app's webhook."""
    headers = {"content-type": "application/json"}
    if jwt_secret is not None:
        claims = {
            "accountId": 501,
            "userId": 1001,
            "aud": audience,
            "exp": int(time.time()) + expires_in,
            "iat": int(time.time()),
        }
        headers["authorization"] = jwt.encode(
            {"alg": "HS256"}, claims, OctKey.import_key(jwt_secret)
        )
    return IncomingRequest(
        method="POST", headers=headers, query={}, body=json.dumps(payload).encode()
    )
