"""monday.com contract: every GraphQL document the connector sends is valid against
monday's official schema (API 2026-10, ``shared/specs/monday/api-2026-10.subset.graphql``),
with its variables coerced to their declared types; every request pins ``API-Version``;
and the sandbox's schema is a faithful subset of the official one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    parse,
    specified_scalar_types,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import type_from_ast

from connectors.monday import actions, api, app, auth, options, triggers
from connectors.monday import sandbox as sb
from connectors.sdk.context import OperationContext
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import RecordingTransport

SPECS = (
    Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs"))
    / "monday"
)
OFFICIAL = build_schema((SPECS / "api-2026-10.subset.graphql").read_text())
BOARD = sb.BOARD_ID


# -- checking documents --------------------------------------------------------------------------


def document_problems(
    schema: GraphQLSchema, query: str, variables: dict[str, Any] | None
) -> list[str]:
    """What is wrong with a document and its variables for ``schema`` (empty when valid)."""
    document = parse(query)
    problems = [error.message for error in validate(schema, document)]
    if problems:
        return problems
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):
        problems += [error.message for error in coerced]
    for definition in operation.variable_definitions or ():
        name, value = (
            definition.variable.name.value,
            (variables or {}).get(definition.variable.name.value),
        )
        declared = get_named_type(type_from_ast(schema, definition.type))
        if (
            declared is not None
            and declared.name == "JSON"
            and value is not None
            and not isinstance(value, str)
        ):
            problems.append(f"${name} is JSON: monday expects it as a JSON-encoded string")
    return problems


def root_fields(query: str) -> set[str]:
    document = parse(query)
    return {
        selection.name.value  # type: ignore[attr-defined]
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        for selection in d.selection_set.selections
    }


def subset_problems(mini: GraphQLSchema, official: GraphQLSchema) -> list[str]:
    """Everything in ``mini`` that ``official`` does not have with the same type."""
    problems = []
    for name, kind in mini.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue
        theirs = official.type_map.get(name)
        if theirs is None or type(theirs) is not type(kind):
            problems.append(f"type {name}: not in the official schema as a {type(kind).__name__}")
            continue
        if isinstance(kind, GraphQLEnumType):
            problems += [f"enum {name}.{v}: unknown" for v in kind.values if v not in theirs.values]  # type: ignore[attr-defined]
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            known = {i.name for i in theirs.interfaces}  # type: ignore[attr-defined]
            problems += [
                f"type {name}: does not implement {i.name}"
                for i in kind.interfaces
                if i.name not in known
            ]
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                official_field = theirs.fields.get(field_name)  # type: ignore[attr-defined]
                if official_field is None or str(official_field.type) != str(field.type):
                    problems.append(
                        f"{name}.{field_name}: {field.type} is not in the official schema"
                    )
                    continue
                for arg_name, arg in getattr(field, "args", {}).items():
                    official_arg = official_field.args.get(arg_name)
                    if official_arg is None or str(official_arg.type) != str(arg.type):
                        problems.append(
                            f"{name}.{field_name}({arg_name}: {arg.type}) is not in the official "
                            "schema"
                        )
    return problems


# -- the recorded session -------------------------------------------------------------------------


async def exercise_everything(monkeypatch: pytest.MonkeyPatch) -> RecordingTransport:
    """Every action, the connection test, every trigger's subscribe/unsubscribe and the poll."""
    recorder = RecordingTransport(httpx.ASGITransport(app=sb.create_app()))
    credentials = {"api_token": sb.SANDBOX_TOKEN}
    http = build_http(
        app_key=app.key,
        base_url="http://sandbox.invalid",
        auth=app.auth.httpx_auth(credentials),
        headers=app.default_headers,
        error_parser=app.error_parser,
        transport=recorder,
    )
    ctx = OperationContext(http=http, credentials=credentials)
    monkeypatch.setattr(api, "PAGE_SIZE", 1)  # so that cursors are followed

    async def run(key: str, **inputs: Any) -> Any:
        op = app.action(key)
        return await op.perform(ctx, op.input.model_validate(inputs))

    assert app.auth.test is not None
    await app.auth.test(ctx)
    created = await run(
        "create_item",
        board_id=BOARD,
        item_name="Contract",
        group_id="topics",
        column_values={
            "status": "Approved",
            "date4": "2026-12-01",
            "person": [1001],
            "email": "ada@example.com",
            "checkbox": True,
            "dropdown": ["Blog"],
            "numbers": 3,
            "long_text": "x",
            "link": "https://example.com",
            "phone": "+331",
        },
    )
    await run(
        "create_item",
        board_id=BOARD,
        item_name="Typed",
        column_values={"status": 1},
        column_types={"status": "status"},
    )
    await run(
        "update_column_values",
        board_id=BOARD,
        item_id=created.id,
        column_values={"Status": "Done", "text": None},
    )
    await run("create_update", item_id=created.id, body="<p>hi</p>")
    await run(
        "create_subitem",
        parent_item_id=created.id,
        item_name="Sub",
        column_values={"status": "Done"},
    )
    await run("move_item_to_group", item_id=created.id, group_id="group_done")
    await run("get_items", item_ids=[created.id, "9000000001"])
    await run(
        "search_items", board_id=BOARD, column_id="status", values=["Approved", "Done"], limit=3
    )
    await run("archive_item", item_id="9000000001")
    await run("delete_item", item_id=created.id)
    for key, extra in [
        ("new_item", {}),
        ("column_value_changed", {"column_id": "text"}),
        ("column_value_changed", {}),
        ("status_changed", {"label": "Approved"}),
        ("status_changed", {}),
        ("new_update", {}),
    ]:
        trigger = app.trigger(key)
        inputs = trigger.input.model_validate({"board_id": BOARD, **extra})
        assert trigger.subscribe is not None and trigger.unsubscribe is not None
        state = await trigger.subscribe(ctx, inputs, "https://cellwright.example/hooks/t")
        await trigger.unsubscribe(ctx, inputs, state)
    poll = app.trigger("new_item_polling")
    await poll.fetch(ctx, poll.input.model_validate({"board_id": BOARD, "max_items": 3}), None)  # type: ignore[attr-defined]
    return recorder


async def test_every_document_sent_is_valid_against_the_official_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = await exercise_everything(monkeypatch)
    problems: list[str] = []
    used: set[str] = set()
    for request, response in recorder.calls:
        assert (request.method, request.url.path) == ("POST", "/v2")
        assert request.headers["api-version"] == "2026-10"
        assert request.headers["authorization"] == sb.SANDBOX_TOKEN  # the token itself, no "Bearer"
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        assert set(body) <= {"query", "variables", "operationName"}
        problems += document_problems(OFFICIAL, body["query"], body.get("variables"))
        used |= root_fields(body["query"])
        assert "errors" not in response.json(), response.json()
    assert problems == []
    assert used == {
        "me",
        "boards",
        "items",
        "items_page_by_column_values",
        "next_items_page",
        "complexity",
        "create_item",
        "change_multiple_column_values",
        "create_update",
        "create_subitem",
        "move_item_to_group",
        "archive_item",
        "delete_item",
        "create_webhook",
        "delete_webhook",
    }


def test_every_document_in_the_package_is_valid() -> None:
    """Also the ones a session may not reach: every GraphQL constant of the package."""
    documents = {
        f"{module.__name__}.{name}": value
        for module in (actions, api, auth, options, triggers)
        for name, value in vars(module).items()
        if name.isupper()
        and isinstance(value, str)
        and value.lstrip().startswith(("query", "mutation", "fragment"))
    }
    assert len(documents) >= 15
    for name, document in documents.items():
        if document.lstrip().startswith("fragment"):
            continue
        assert [e.message for e in validate(OFFICIAL, parse(document))] == [], name


def test_the_sandbox_schema_is_a_faithful_subset_of_the_official_one() -> None:
    assert subset_problems(sb.schema(), OFFICIAL) == []


def test_the_checks_can_fail() -> None:
    """Each check above must catch what the official schema forbids."""
    assert document_problems(OFFICIAL, "query { me { id colour } }", None) == [
        "Cannot query field 'colour' on type 'User'."
    ]
    wrong_type = 'mutation ($b: String!) { create_item(board_id: $b, item_name: "x") { id } }'
    assert (
        "used in position expecting type 'ID!'"
        in document_problems(OFFICIAL, wrong_type, {"b": "1"})[0]
    )
    needs = "mutation ($b: ID!, $n: String!) { create_item(board_id: $b, item_name: $n) { id } }"
    assert document_problems(OFFICIAL, needs, {"b": "1"}) == [
        "Variable '$n' has invalid value: "
        "Expected a value of non-null type 'String!' to be provided."
    ]
    as_object = (
        "mutation ($b: ID!, $v: JSON) { create_item(board_id: $b, "
        'item_name: "x", column_values: $v) { id } }'
    )
    assert document_problems(
        OFFICIAL, as_object, {"b": "1", "v": {"status": {"label": "Done"}}}
    ) == ["$v is JSON: monday expects it as a JSON-encoded string"]
    invented = build_schema("type Query { me: User } type User { id: ID! shoe_size: Int }")
    assert subset_problems(invented, OFFICIAL) == [
        "User.shoe_size: Int is not in the official schema"
    ]
    retyped = build_schema("type Query { boards(ids: [Int]): [Board] } type Board { id: ID! }")
    assert subset_problems(retyped, OFFICIAL) == [
        "Query.boards(ids: [Int]) is not in the official schema"
    ]
