"""AI steps, end to end: a real Cellwright, litellm calling the app's simulator of an
OpenAI-compatible server on a real loopback port (``openai/<model>`` with ``api_base``)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cells import document as documents
from connectors.ai.sandbox import SimulatedModel, create_app, respond
from connectors.registry import Registry
from engine.service import Cellwright
from engine.settings import Settings
from tests.conftest import ThreadedServer, free_port
from tests.services import running_service

API_KEY = "sk-test-ai-steps-0123456789abcdef"
MODEL = "openai/test-model"
MESSAGE = (
    "Hello, I was charged twice for my order.\n"
    "Order id: 1042\n"
    "Amount: 89.50\n"
    "Please refund the second charge. Email: ada@example.com"
)


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, SimulatedModel]]:
    app = create_app()
    with ThreadedServer(app) as server:
        yield server.url, app.state.model


@pytest.fixture
def sim(_server: tuple[str, SimulatedModel]) -> Iterator[SimulatedModel]:
    model = _server[1]
    model.script.clear()
    model.requests.clear()
    yield model
    model.script.clear()
    model.requests.clear()


@pytest.fixture
def base(_server: tuple[str, SimulatedModel]) -> str:
    return f"{_server[0]}/v1"


@pytest.fixture
async def conn(svc: Cellwright, user: Any, base: str, sim: SimulatedModel) -> Any:
    connection = await svc.create_connection(
        user.id,
        "ai",
        credentials={"model": MODEL, "api_key": API_KEY, "api_base": base},
        name="Test model",
    )
    assert connection is not None and connection.status == "active", connection.status_message
    sim.requests.clear()  # the test call's request
    return connection


def scenario(cells: str, name: str = "AI test") -> str:
    return (
        f"name: {name}\ncells:\n"
        "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n" + cells
    )


def ai_cell(cell_id: str, operation: str, inputs: dict[str, Any], connection: Any) -> str:
    data = {
        "id": cell_id,
        "kind": "action",
        "app": "ai",
        "operation": operation,
        "inputs": inputs,
    }
    if connection is not None:
        data["connection"] = connection.id
    return f"  - {json.dumps(data)}\n"


async def run(svc: Cellwright, user: Any, text: str, payload: Any = None) -> dict[str, Any]:
    saved = svc.import_scenario(user.id, documents.loads(text))
    result: dict[str, Any] = await svc.run_now(user.id, saved.id, payload or {}, timeout=30)
    return result


def cell(execution: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return next(c for c in reversed(execution["cells"]) if c["cell_id"] == cell_id)


def words(body: dict[str, Any]) -> int:
    """What the simulator counts as the prompt's tokens."""
    return sum(len(str(m["content"]).split()) for m in body["messages"])


def test_count_tokens_sums_the_calls_of_an_operation() -> None:
    from connectors.sdk import OperationContext, TokenUsage, build_http

    ctx = OperationContext(http=build_http(app_key="ai"))
    assert ctx.usage is None
    ctx.count_tokens("openai/a", 10, 2)
    usage = ctx.count_tokens("openai/b", 5, -1)  # a provider's nonsense counts as 0
    assert usage is ctx.usage
    assert usage == TokenUsage(model="openai/b", prompt_tokens=15, completion_tokens=2)
    assert usage.to_dict() == {
        "model": "openai/b",
        "prompt_tokens": 15,
        "completion_tokens": 2,
        "total_tokens": 17,
    }


def test_recorded_usage_is_read_back_only_in_its_own_shape() -> None:
    from connectors.sdk import TokenUsage

    used = {"model": "m", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    assert TokenUsage.recorded(used, None) == TokenUsage("m", 3, 4)
    assert TokenUsage.recorded(None, {"code": "x", "details": used}) == TokenUsage("m", 3, 4)
    for output, error in [
        (None, None),
        ({"usage": used["usage"]}, None),  # no model
        ({"model": "m", "usage": {"prompt_tokens": "3", "completion_tokens": 4}}, None),
        ({"model": "m", "usage": 7}, None),
        (None, {"code": "x"}),
        (None, {"code": "x", "details": "text"}),
    ]:
        assert TokenUsage.recorded(output, error) is None


# -- the connection ------------------------------------------------------------------------


async def test_a_connection_is_tested_with_a_real_completion_and_named_after_its_model(
    svc: Cellwright, user: Any, base: str, sim: SimulatedModel
) -> None:
    connection = await svc.create_connection(
        user.id, "ai", credentials={"model": MODEL, "api_key": API_KEY, "api_base": base}
    )
    assert connection is not None and connection.status == "active"
    assert connection.name == f"AI model: {MODEL}"
    [request] = sim.requests
    assert request["authorization"] and request["body"]["model"] == "test-model"
    assert API_KEY not in json.dumps(connection.to_dict())


async def test_a_model_name_without_a_provider_is_refused_with_the_form_to_use(
    svc: Cellwright, user: Any, base: str, sim: SimulatedModel
) -> None:
    connection = await svc.create_connection(
        user.id, "ai", credentials={"model": "no-such-provider-model-xyz", "api_base": base}
    )
    assert connection is not None and connection.status == "error"
    assert "provider/model" in (connection.status_message or "")
    assert "openai/gpt-4o-mini" in (connection.status_message or "")
    assert sim.requests == []  # refused before any call


async def test_the_connection_form_names_a_bad_field(svc: Cellwright, user: Any) -> None:
    with pytest.raises(Exception, match="api_base") as caught:
        await svc.create_connection(
            user.id, "ai", credentials={"model": MODEL, "api_base": "ftp://models.example"}
        )
    assert "http://" in str(caught.value)
    with pytest.raises(Exception, match="model"):
        await svc.create_connection(user.id, "ai", credentials={"model": "gpt 4"})


# -- generate ------------------------------------------------------------------------------


async def test_generate_text_sends_prompt_system_and_settings_and_returns_text_and_usage(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    inputs = {
        "prompt": "Write a greeting for {{ trigger.name }}",
        "system": "You are terse.",
        "temperature": 0.2,
        "max_tokens": 40,
    }
    execution = await run(
        svc, user, scenario(ai_cell("gen", "generate_text", inputs, conn)), {"name": "Ada"}
    )
    assert execution["status"] == "completed", execution["error"]
    output = cell(execution, "gen")["output"]
    assert output["text"] == "(sandbox model) You said: Write a greeting for Ada"
    assert output["finish_reason"] == "stop"
    assert output["model"] == MODEL
    [request] = sim.requests
    body = request["body"]
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Write a greeting for Ada"},
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.2, 40)
    prompt, completion = words(body), len(output["text"].split())
    assert output["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def test_an_answer_cut_at_max_tokens_says_so(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    inputs = {"prompt": "one two three four five six seven eight", "max_tokens": 3}
    execution = await run(svc, user, scenario(ai_cell("gen", "generate_text", inputs, conn)))
    output = cell(execution, "gen")["output"]
    assert output["finish_reason"] == "length"
    assert output["text"] == "(sandbox model) You"


# -- extract -------------------------------------------------------------------------------

FIELDS = [
    {"name": "customer_email", "type": "string", "description": "The sender's e-mail."},
    {"name": "order_id", "type": "integer", "description": "The order number."},
    {"name": "amount", "type": "number", "description": "The amount charged."},
    {"name": "coupon", "type": "string", "required": False},
]


async def test_extract_returns_the_fields_validated_and_typed(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    inputs = {"text": "{{ trigger.message }}", "fields": FIELDS, "instructions": "Be careful."}
    execution = await run(
        svc, user, scenario(ai_cell("x", "extract", inputs, conn)), {"message": MESSAGE}
    )
    assert execution["status"] == "completed", execution["error"]
    output = cell(execution, "x")["output"]
    assert output["data"] == {
        "customer_email": "ada@example.com",
        "order_id": 1042,
        "amount": 89.5,
        "coupon": None,
    }
    assert output["attempts"] == 1
    [request] = sim.requests
    system = request["body"]["messages"][0]["content"]
    schema = json.loads(system.split("JSON Schema:\n", 1)[1].split("\nUse null", 1)[0])
    assert schema["required"] == ["customer_email", "order_id", "amount"]
    assert schema["properties"]["order_id"]["type"] == "integer"
    assert system.endswith("Be careful.")
    assert request["body"]["temperature"] == 0


async def test_extract_takes_a_json_schema_with_nested_objects_enums_and_dates(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["low", "urgent"]},
            "due": {"type": "string", "format": "date"},
            "customer": {
                "type": "object",
                "properties": {"email": {"type": "string"}, "vip": {"type": ["boolean", "null"]}},
                "required": ["email"],
            },
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["priority", "due", "customer"],
    }
    text = (
        "This is urgent, needed by 2026-12-24.\nTags: refund, duplicate\n"
        "Reach me at ada@example.com"
    )
    inputs = {"text": text, "json_schema": schema}
    execution = await run(svc, user, scenario(ai_cell("x", "extract", inputs, conn)))
    assert execution["status"] == "completed", execution["error"]
    assert cell(execution, "x")["output"]["data"] == {
        "priority": "urgent",
        "due": "2026-12-24",
        "customer": {"email": "ada@example.com", "vip": None},
        "tags": ["refund", "duplicate"],
    }


async def test_a_bad_first_answer_is_repaired_in_one_round_and_both_calls_count(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = ['Sure! The e-mail is ada@example.com. {"order_id": "n/a"}']
    inputs = {"text": MESSAGE, "fields": FIELDS}
    execution = await run(svc, user, scenario(ai_cell("x", "extract", inputs, conn)))
    assert execution["status"] == "completed", execution["error"]
    output = cell(execution, "x")["output"]
    assert output["attempts"] == 2 and output["data"]["order_id"] == 1042
    first, second = sim.requests
    repair = second["body"]["messages"]
    assert repair[2] == {"role": "assistant", "content": sim_first_answer(first, repair)}
    assert repair[3]["role"] == "user" and "not valid" in repair[3]["content"]
    assert "customer_email: Field required" in repair[3]["content"]
    assert "order_id: Input should be a valid integer" in repair[3]["content"]
    answers = len(repair[2]["content"].split()) + len(respond(repair).split())
    prompts = words(first["body"]) + words(second["body"])
    assert output["usage"] == {
        "prompt_tokens": prompts,
        "completion_tokens": answers,
        "total_tokens": prompts + answers,
    }


def sim_first_answer(first: dict[str, Any], repair: list[dict[str, Any]]) -> str:
    """The first answer, as the repair round sent it back."""
    assert repair[:2] == first["body"]["messages"]
    return str(repair[2]["content"])


async def test_a_second_bad_answer_fails_the_cell_with_the_validation_messages_and_usage(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = ["not json", '{"order_id": 7}']
    inputs = {"text": MESSAGE, "fields": FIELDS}
    execution = await run(svc, user, scenario(ai_cell("x", "extract", inputs, conn)))
    assert execution["status"] == "failed"
    error = cell(execution, "x")["error"]
    assert error["code"] == "invalid_output"
    assert "also after one repair round" in error["message"]
    assert "customer_email: Field required" in error["message"]
    assert "amount: Field required" in error["message"]
    assert error["details"]["model"] == MODEL
    assert error["details"]["usage"]["total_tokens"] == (
        words(sim.requests[0]["body"]) + 2 + words(sim.requests[1]["body"]) + 2
    )
    assert len(sim.requests) == 2  # one repair round, no more


async def test_extract_input_errors_name_the_field(svc: Cellwright, user: Any, conn: Any) -> None:
    cases = [
        ({"text": "x"}, "give either fields or json_schema"),
        (
            {
                "text": "x",
                "fields": FIELDS,
                "json_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "exactly one",
        ),
        ({"text": "x", "fields": [{"name": "1st", "type": "string"}]}, "fields.0.name"),
        ({"text": "x", "fields": [{"name": "a", "type": "money"}]}, "fields.0.type"),
        (
            {"text": "x", "json_schema": {"type": "object", "properties": {"a": {"oneOf": []}}}},
            "json_schema.properties.a: oneOf not supported",
        ),
    ]
    for inputs, expected in cases:
        execution = await run(svc, user, scenario(ai_cell("x", "extract", inputs, conn)))
        error = cell(execution, "x")["error"]
        assert error["code"] == "invalid_input" and expected in error["message"], error


# -- classify ------------------------------------------------------------------------------

LABELS = ["billing", "bug", "account", "other"]
DESCRIPTIONS = {"billing": "charges, invoices, refunds", "bug": "something is broken"}


async def test_classify_answers_one_of_the_labels(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    inputs = {"text": MESSAGE, "labels": LABELS, "descriptions": DESCRIPTIONS}
    execution = await run(svc, user, scenario(ai_cell("c", "classify", inputs, conn)))
    output = cell(execution, "c")["output"]
    assert (output["label"], output["attempts"]) == ("billing", 1)
    system = sim.requests[0]["body"]["messages"][0]["content"]
    assert (
        "- billing: charges, invoices, refunds\n- bug: something is broken\n- account\n- other"
        in system
    )


async def test_a_label_in_another_case_with_punctuation_is_the_label(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = ['Label: "Account".']
    inputs = {"text": "I cannot log in", "labels": LABELS}
    execution = await run(svc, user, scenario(ai_cell("c", "classify", inputs, conn)))
    assert cell(execution, "c")["output"]["label"] == "account"
    assert len(sim.requests) == 1


async def test_an_answer_outside_the_labels_gets_one_repair_round(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = ["This looks like a payment problem to me."]
    inputs = {"text": MESSAGE, "labels": LABELS, "descriptions": DESCRIPTIONS}
    execution = await run(svc, user, scenario(ai_cell("c", "classify", inputs, conn)))
    output = cell(execution, "c")["output"]
    assert (output["label"], output["attempts"]) == ("billing", 2)
    repair = sim.requests[1]["body"]["messages"][-1]["content"]
    assert "is not one of the labels" in repair
    assert "one of the labels: billing, bug, account, other" in repair


async def test_two_answers_outside_the_labels_fail_naming_the_labels(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = ["money", "maybe billing?"]
    inputs = {"text": MESSAGE, "labels": LABELS}
    execution = await run(svc, user, scenario(ai_cell("c", "classify", inputs, conn)))
    error = cell(execution, "c")["error"]
    assert error["code"] == "invalid_output"
    assert error["message"] == (
        "The model answered 'maybe billing?', which is not one of the labels "
        "(billing, bug, account, other), also after one repair round."
    )
    assert error["details"]["usage"]["total_tokens"] > 0


async def test_labels_are_checked_before_any_call(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    cases = [
        ({"text": "x", "labels": ["only"]}, "labels"),
        ({"text": "x", "labels": ["Bug", "bug"]}, "labels must differ (ignoring case): Bug, bug"),
        ({"text": "x", "labels": ["a", " "]}, "labels cannot be empty"),
        (
            {"text": "x", "labels": ["a", "b"], "descriptions": {"c": "?"}},
            "descriptions name labels that are not in labels: c",
        ),
    ]
    for inputs, expected in cases:
        execution = await run(svc, user, scenario(ai_cell("c", "classify", inputs, conn)))
        error = cell(execution, "c")["error"]
        assert error["code"] == "invalid_input" and expected in error["message"], error
    assert sim.requests == []


# -- summarize -----------------------------------------------------------------------------


async def test_summarize_asks_for_the_length_style_and_focus(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    text = (
        "The launch moved to May. Marketing needs the copy by Friday. "
        "Nobody objected to the budget."
    )
    inputs = {"text": text, "max_words": 12, "style": "bullets", "focus": "deadlines"}
    execution = await run(svc, user, scenario(ai_cell("s", "summarize", inputs, conn)))
    output = cell(execution, "s")["output"]
    assert output["summary"] == "The launch moved to May. Marketing needs the copy by Friday."
    assert output["model"] == MODEL and output["usage"]["completion_tokens"] == 11
    body = sim.requests[0]["body"]
    assert body["messages"][0]["content"] == (
        "Summarize the user's text in at most 12 words, as a short list of bullet points. "
        "Keep what matters most: deadlines."
    )
    assert body["max_tokens"] == 12 * 2 + 50


# -- errors and what the cell says ---------------------------------------------------------


async def test_a_cell_without_a_connection_says_which_connection_fields_to_set(
    svc: Cellwright, user: Any
) -> None:
    text = scenario(ai_cell("gen", "generate_text", {"prompt": "hi"}, None))
    execution = await run(svc, user, text)
    message = cell(execution, "gen")["error"]["message"]
    assert message.startswith("Cell 'gen' needs a AI model connection; pick one in the cell.")
    for part in (
        "model (a litellm model name such as openai/gpt-4o-mini",
        "api_key",
        "api_base",
        "sandbox connection",
    ):
        assert part in message
    doc = documents.loads(text)
    saved = svc.import_scenario(user.id, doc)
    with pytest.raises(Exception, match="needs a AI model connection. To connect a model, set"):
        await svc.publish(user.id, saved.id)


async def test_without_litellm_the_cell_says_to_install_the_extra(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)  # "import litellm" now fails
    execution = await run(
        svc, user, scenario(ai_cell("gen", "generate_text", {"prompt": "hi"}, conn))
    )
    error = cell(execution, "gen")["error"]
    assert error["code"] == "configuration_error"
    assert "pip install 'cellwright[assistant]'" in error["message"]
    assert sim.requests == []


async def test_a_refused_key_marks_the_connection_and_never_shows_the_key(
    svc: Cellwright,
    user: Any,
    conn: Any,
    sim: SimulatedModel,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.script[:] = [
        {
            "status": 401,
            "message": f"Incorrect API key provided: {API_KEY}",
            "type": "invalid_request_error",
        }
    ]
    execution = await run(
        svc, user, scenario(ai_cell("gen", "generate_text", {"prompt": "hi"}, conn))
    )
    error = cell(execution, "gen")["error"]
    assert error["code"] == "auth_invalid"
    assert "refused the AI model connection's API key" in error["message"]
    connection = svc.store.get_connection(user.id, conn.id)
    assert connection.status == "error"
    assert API_KEY not in json.dumps(execution) + (connection.status_message or "")
    assert API_KEY not in caplog.text and API_KEY[:-4] not in caplog.text
    printed = capfd.readouterr()
    assert API_KEY[:-4] not in printed.out + printed.err


async def test_a_provider_message_echoing_the_key_is_kept_without_it(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.script[:] = [
        {
            "status": 400,
            "message": f"context too long for key {API_KEY}",
            "type": "invalid_request_error",
        }
    ]
    execution = await run(
        svc, user, scenario(ai_cell("gen", "generate_text", {"prompt": "hi"}, conn))
    )
    error = cell(execution, "gen")["error"]
    assert error["code"] == "upstream_error" and error["details"]["status"] == 400
    assert error["message"] == (
        f"The model {MODEL} answered with an error (HTTP 400): context too long for key ***"
    )
    assert API_KEY not in json.dumps(execution) and API_KEY not in caplog.text
    stored = svc.store.get_connection(user.id, conn.id)
    assert stored.status == "active"


async def test_a_rate_limit_is_retried_by_the_runner(
    svc: Cellwright, user: Any, conn: Any, sim: SimulatedModel
) -> None:
    sim.script[:] = [
        {"status": 429, "message": "slow down", "type": "rate_limit", "retry_after": 0}
    ]
    text = scenario(ai_cell("c", "classify", {"text": MESSAGE, "labels": LABELS}, conn)).replace(
        "cells:\n", "settings: {retry_count: 1}\ncells:\n", 1
    )
    execution = await run(svc, user, text)
    assert execution["status"] == "completed", execution["error"]
    tries = [c for c in execution["cells"] if c["cell_id"] == "c"]
    assert [c["status"] for c in tries] == ["failed", "completed"]
    assert tries[0]["error"]["code"] == "rate_limited"


async def test_an_unreachable_server_is_a_network_error_naming_the_api_base(
    svc: Cellwright, user: Any
) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    connection = await svc.create_connection(
        user.id, "ai", credentials={"model": MODEL, "api_base": base}
    )
    assert connection is not None and connection.status == "error"
    assert f"Could not reach the model server at {base}" in (connection.status_message or "")
    execution = await run(
        svc, user, scenario(ai_cell("g", "generate_text", {"prompt": "hi"}, connection))
    )
    assert cell(execution, "g")["error"]["code"] == "network_error"


@pytest.mark.parametrize(
    ("model", "host"),
    [(MODEL, "127.0.0.1"), ("ollama/llama3", "127.0.0.1"), ("ollama/llama3", "localhost")],
)
async def test_the_network_policy_applies_to_the_model_server(
    make_settings: Callable[..., Settings],
    registry: Registry,
    base: str,
    sim: SimulatedModel,
    model: str,
    host: str,
) -> None:
    """OpenAI-compatible calls go through the guarded client; for litellm's other
    providers the api_base is checked first, a name by every address it resolves to."""
    async with running_service(make_settings(http_allow_private=False), registry) as svc:
        user = svc.local_user()
        connection = await svc.create_connection(
            user.id, "ai", credentials={"model": model, "api_base": base.replace("127.0.0.1", host)}
        )
        assert connection is not None and connection.status == "error"
        assert "not allowed" in (connection.status_message or "")
        text = scenario(ai_cell("g", "generate_text", {"prompt": "hi"}, connection))
        execution = await run(svc, user, text)
        assert cell(execution, "g")["error"]["code"] == "forbidden_destination"
    assert sim.requests == []


async def test_another_provider_is_called_by_litellm_itself(
    svc: Cellwright, user: Any, base: str, sim: SimulatedModel
) -> None:
    """An Ollama model at the simulator's address: litellm calls Ollama's own API there,
    which the simulator does not serve: the provider's 404 says so."""
    connection = await svc.create_connection(
        user.id,
        "ai",
        credentials={"model": "ollama/llama3", "api_base": base.removesuffix("/v1")},
    )
    assert connection is not None and connection.status == "error"
    assert (connection.status_message or "").startswith(
        "The model provider does not know the model ollama/llama3 (HTTP 404)."
    )


async def test_an_allowed_origin_opens_the_model_server(
    make_settings: Callable[..., Settings], registry: Registry, base: str, sim: SimulatedModel
) -> None:
    origin = base.removesuffix("/v1")
    settings = make_settings(http_allow_private=False, http_allowed_origins=[origin])
    async with running_service(settings, registry) as svc:
        connection = await svc.create_connection(
            svc.local_user().id, "ai", credentials={"model": MODEL, "api_base": base}
        )
        assert connection is not None and connection.status == "active", connection.status_message


# -- token usage in analytics --------------------------------------------------------------


async def test_tokens_reach_analytics_per_scenario_and_model_failed_calls_included(
    make_settings: Callable[..., Settings], registry: Registry, base: str, sim: SimulatedModel
) -> None:
    async with running_service(make_settings(analytics=True), registry) as svc:
        user = svc.local_user()
        conn = await svc.create_connection(
            user.id, "ai", credentials={"model": MODEL, "api_base": base}
        )
        ok = await run(
            svc,
            user,
            scenario(
                ai_cell("c", "classify", {"text": MESSAGE, "labels": LABELS}, conn)
                + ai_cell("s", "summarize", {"text": MESSAGE, "max_words": 10}, conn),
                name="Triage",
            ),
        )
        sim.script[:] = ["no", "still no"]
        bad = await run(
            svc,
            user,
            scenario(
                ai_cell("x", "extract", {"text": MESSAGE, "fields": FIELDS}, conn), name="Parse"
            ),
        )
        assert (ok["status"], bad["status"]) == ("completed", "failed")
        spent_ok = sum(cell(ok, c)["output"]["usage"]["total_tokens"] for c in ("c", "s"))
        spent_bad = cell(bad, "x")["error"]["details"]["usage"]["total_tokens"]
        by_scenario = svc.analytics.token_usage(user.id, by="scenario")
        assert by_scenario[["name", "calls", "total_tokens"]].values.tolist() == sorted(
            [["Triage", 2, spent_ok], ["Parse", 1, spent_bad]], key=lambda row: -row[2]
        )
        by_model = svc.analytics.token_usage(user.id, by="model")
        assert by_model[["key", "calls", "total_tokens"]].values.tolist() == [
            [MODEL, 3, spent_ok + spent_bad]
        ]
        prompt = int(by_model["prompt_tokens"][0])
        completion = int(by_model["completion_tokens"][0])
        assert prompt + completion == spent_ok + spent_bad
        assert svc.analytics.token_usage("someone-else", by="model").empty


# -- offline -------------------------------------------------------------------------------

GUARD = """
import asyncio, socket, sys
attempts = []
real_connect = socket.socket.connect
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else ""
    loopback = host.startswith("127.") or host == "::1"
    if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback:
        attempts.append(address)
        raise OSError("offline test")
    return real_connect(self, address)
socket.socket.connect = connect
real_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "::1") and not str(host).startswith("127."):
        attempts.append(host)
        raise socket.gaierror("offline test")
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
from connectors.ai import llm
from connectors.sdk import OperationContext, build_http, NetworkPolicy
async def main():
    await llm.load_litellm()
    http = build_http(app_key="ai", policy=NetworkPolicy(allow_private=True))
    ctx = OperationContext(http=http, credentials={"model": "openai/m", "api_base": sys.argv[1]})
    reply = await llm.complete(ctx, [{"role": "user", "content": "hello there"}])
    await http.aclose()
    print(reply.text)
asyncio.run(main())
print("ATTEMPTS", attempts)
"""


@pytest.mark.slow
def test_litellm_reaches_nothing_but_the_model_server(base: str, tmp_path: Path) -> None:
    """Importing litellm and calling a model open no connection and look up no name
    besides the configured server (its price list and catalogs are the bundled ones)."""
    script = tmp_path / "guard.py"
    script.write_text(GUARD)
    done = subprocess.run(
        [sys.executable, str(script), base],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(sandbox model) You said: hello there" in done.stdout
    assert "ATTEMPTS []" in done.stdout, done.stdout


# -- the sandbox and the template ----------------------------------------------------------


async def test_the_support_triage_template_runs_offline_on_a_sandbox_connection(
    svc: Cellwright, user: Any, sim: SimulatedModel
) -> None:
    from workspace.views.notebook_state import NotebookState
    from workspace.views.templates import GalleryState

    connection = await svc.create_connection(user.id, "ai", credentials={}, sandbox=True)
    assert connection is not None and connection.status == "active", connection.status_message
    scenario = GalleryState(svc, user).use("support_triage", {"ai": connection.id}, inputs={})
    execution = await NotebookState(svc, user, scenario.id).test_run()
    assert execution["status"] == "completed", execution["error"]
    topic, details = cell(execution, "topic")["output"], cell(execution, "details")["output"]
    assert topic["label"] == "billing" and topic["model"] == "openai/cellwright-sandbox"
    assert details["data"] == {"order_id": "1042", "wants_refund": None}
    body = cell(execution, "answer")["output"]["body"]
    assert body["team"] == "billing" and body["order"] == "1042"
    assert body["tokens"] == topic["usage"]["total_tokens"] + details["usage"]["total_tokens"] > 0
    assert sim.requests == []  # in process: the sandbox connection never used the network


async def test_tokens_of_a_failed_try_count_once_the_retry_succeeds(
    make_settings: Callable[..., Settings], registry: Registry, base: str, sim: SimulatedModel
) -> None:
    async with running_service(make_settings(analytics=True), registry) as svc:
        user = svc.local_user()
        conn = await svc.create_connection(
            user.id, "ai", credentials={"model": MODEL, "api_base": base}
        )
        sim.requests.clear()
        # the first try: an answer outside the labels, then the repair call fails with a 503
        sim.script[:] = ["money", {"status": 503, "message": "overloaded"}]
        text = scenario(ai_cell("c", "classify", {"text": MESSAGE, "labels": LABELS}, conn))
        execution = await run(
            svc, user, text.replace("cells:\n", "settings: {retry_count: 1}\ncells:\n", 1)
        )
        assert execution["status"] == "completed", execution["error"]
        first, second = [c for c in execution["cells"] if c["cell_id"] == "c"]
        assert first["error"]["code"] == "upstream_error"
        spent_first = words(sim.requests[0]["body"]) + 1  # "money"; the 503 cost nothing
        assert first["error"]["details"]["usage"]["total_tokens"] == spent_first
        assert first["error"]["details"]["model"] == MODEL
        spent_second = second["output"]["usage"]["total_tokens"]
        by_model = svc.analytics.token_usage(user.id, by="model")
        assert by_model[["calls", "total_tokens"]].values.tolist() == [
            [2, spent_first + spent_second]
        ]
