"""The declarative ``rest()`` helper, run against a small echo API on loopback.

Also the operation objects built from it (actions and a polling trigger): their
descriptions and the dedupe keys the engine reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.sdk import (
    Action,
    AnyOutput,
    ConfigurationError,
    NetworkPolicy,
    NoInput,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    build_http,
    rest,
)
from connectors.sdk.operations import Operation


def echo(request: Request) -> Response:
    """Answers with what it received."""
    body: Any = None
    if request.mimetype == "application/json":
        body = request.get_json()
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.to_dict()
    elif request.data:
        body = request.data.decode()
    answer = {
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(),
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "body": body,
    }
    return Response(json.dumps({"data": answer}), content_type="application/json")


@pytest.fixture(scope="module")
def api() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request("/fail").respond_with_json({"message": "no such customer"}, status=404)
    server.expect_request(re.compile("/.*")).respond_with_handler(echo)
    yield server
    server.clear()
    server.stop()


@pytest.fixture
async def ctx(api: HTTPServer) -> Any:
    http = build_http(
        app_key="acme", base_url=api.url_for("/"), policy=NetworkPolicy.build(allow_private=True)
    )
    yield OperationContext(http=http, idempotency_key="cw-123")
    await http.aclose()


class CustomerInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    customer_id: str = Field(description="The customer.")
    email: str | None = Field(None, description="New e-mail.")
    first_name: str | None = Field(None, alias="firstName", description="Given name.")
    tags: list[str] = Field(default_factory=list, description="Tags.")


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    return answer["data"]


async def test_path_placeholders_are_filled_and_removed_from_a_json_body(
    ctx: OperationContext,
) -> None:
    perform = rest("POST", "/v1/customers/{customer_id}", result=_data)
    answer = await perform(
        ctx, CustomerInput(customer_id="cus_1", email="ada@example.com", first_name="Ada")
    )
    assert answer["method"] == "POST"
    assert answer["path"] == "/v1/customers/cus_1"
    # None fields are left out, aliases are used, path fields are not repeated.
    assert answer["body"] == {"email": "ada@example.com", "firstName": "Ada", "tags": []}
    assert "idempotency-key" not in answer["headers"]


async def test_form_body(ctx: OperationContext) -> None:
    perform = rest("POST", "/v1/customers", body="form", result=_data)
    answer = await perform(ctx, CustomerInput(customer_id="cus_2", email="b@example.com"))
    assert answer["body"] == {
        "customer_id": "cus_2",
        "email": "b@example.com",
    }  # an empty list sends no field
    assert answer["headers"]["content-type"] == "application/x-www-form-urlencoded"


async def test_query_body(ctx: OperationContext) -> None:
    perform = rest("GET", "/v1/customers/{customer_id}", body="query", result=_data)
    answer = await perform(ctx, CustomerInput(customer_id="cus_3", email="c@example.com"))
    assert answer["method"] == "GET"
    assert answer["query"] == {"email": "c@example.com"}
    assert answer["body"] is None


async def test_no_body_and_an_empty_json_body_send_nothing(ctx: OperationContext) -> None:
    class Only(BaseModel):
        customer_id: str

    for style in ("none", "json"):
        answer = await rest("DELETE", "/v1/customers/{customer_id}", body=style, result=_data)(
            ctx, Only(customer_id="cus_4")
        )  # type: ignore[arg-type]
        assert answer["path"] == "/v1/customers/cus_4"
        assert answer["body"] is None
        assert "content-type" not in answer["headers"]


async def test_idempotency_header_and_static_headers(ctx: OperationContext) -> None:
    perform = rest(
        "POST",
        "/v1/charges",
        idempotency_header="Idempotency-Key",
        headers={"Stripe-Version": "2024-06-20"},
        result=_data,
    )
    answer = await perform(ctx, NoInput())
    assert answer["headers"]["idempotency-key"] == "cw-123"
    assert answer["headers"]["stripe-version"] == "2024-06-20"
    ctx.idempotency_key = ""
    assert "idempotency-key" not in (await perform(ctx, NoInput()))["headers"]


async def test_without_a_result_picker_the_whole_answer_is_returned(ctx: OperationContext) -> None:
    answer = await rest("GET", "/v1/ping", body="none")(ctx, NoInput())
    assert set(answer) == {"data"}


async def test_errors_are_mapped_by_the_client(ctx: OperationContext) -> None:
    with pytest.raises(UpstreamError) as info:
        await rest("GET", "/fail")(ctx, NoInput())
    assert info.value.status == 404
    assert "no such customer" in info.value.message


def test_perform_is_documented_by_its_call() -> None:
    assert rest("PATCH", "/v1/items/{id}").__doc__ == "PATCH /v1/items/{id}"


# -- operations built on it ---------------------------------------------------------


class ItemOutput(BaseModel):
    id: str = Field(description="Item id.")


async def _fetch(ctx: OperationContext, inputs: Any, since: Any) -> list[dict[str, Any]]:
    answer = await ctx.http.get("/v1/items", params={"since": since or ""})
    return [{"id": answer["data"]["query"]["since"] or "first", "n": 1}]


new_item = PollingTrigger(
    key="new_item",
    name="New item",
    description="Fires for each new item.",
    output=ItemOutput,
    sample={"id": "it_1"},
    fetch=_fetch,
    cursor_field="created",
)

by_number = PollingTrigger(
    key="by_number",
    name="By number",
    description="Dedupes with a function.",
    fetch=_fetch,
    dedupe_key=lambda item: f"{item['id']}-{item['n']}",
)


async def test_polling_trigger_fetches_and_keys_items(ctx: OperationContext) -> None:
    items = await new_item.fetch(ctx, NoInput(), None)
    assert items == [{"id": "first", "n": 1}]
    assert new_item.item_key(items[0]) == "first"
    assert by_number.item_key(items[0]) == "first-1"
    assert [i["id"] for i in await new_item.fetch(ctx, NoInput(), "2026-01-01")] == ["2026-01-01"]
    described = new_item.describe()
    assert (described["kind"], described["trigger_type"], described["sample"]) == (
        "trigger",
        "polling",
        {"id": "it_1"},
    )
    assert described["input_schema"] == NoInput.model_json_schema()


def test_action_kinds_and_base_operation() -> None:
    create = Action(
        key="create", name="Create", description="d", perform=rest("POST", "/x"), idempotent=False
    )
    transform = Action(
        key="shape", name="Shape", description="d", perform=rest("POST", "/x"), transformer=True
    )
    assert (create.kind, transform.kind) == ("action", "transformer")
    assert create.output is AnyOutput
    with pytest.raises(NotImplementedError):
        _ = Operation(key="x", name="X", description="d").kind
    with pytest.raises(NotImplementedError):
        from connectors.sdk import Trigger

        _ = Trigger(key="x", name="X", description="d").trigger_type
    assert ConfigurationError("x").code == "configuration_error"
