"""Drafting against a fake OpenAI-compatible server through the real litellm."""

from __future__ import annotations

import importlib
import re
import sys
import time
from typing import Any

import pytest

from assistant import Draft, catalog, check, draft, split_answer
from assistant.catalog import in_focus
from cells import document as documents
from connectors.registry import default_registry
from connectors.sdk import AssistantError, AssistantUnavailableError, InvalidInputError
from tests.assistant.conftest import API_KEY, FakeModel
from tests.conftest import free_port

GOOD = """\
schema: cellwright/scenario@1
name: Orders to Slack
description: Announce each order posted to the webhook.
cells:
  - id: order
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: customer
    kind: transformer
    app: formatter
    operation: text
    inputs: {value: "{{ trigger.body.customer }}", transform: upper}
  - id: announce
    kind: action
    app: slack
    operation: send_message
    connection: CONNECTION_ID
    inputs:
      channel: "#orders"
      text: "New order from {{ steps.customer.result }}"
"""

UNKNOWN_OPERATION = GOOD.replace("operation: send_message", "operation: post_message")
BAD_MAPPING = GOOD.replace(
    "{{ steps.customer.result }}", "{{ steps.customer.result | nosuchfilter }}"
)
PROMPT = (
    "When an order arrives at a webhook, "
    "post the customer's name in upper case to #orders on Slack."
)


def test_litellm_is_installed() -> None:
    """CI installs the extra (scripts/test): without it these tests must fail, not skip."""
    assert importlib.util.find_spec("litellm") is not None, (
        "install the extra: uv sync --frozen --extra assistant"
    )


async def test_good_draft(fake_model: FakeModel, assistant_settings: Any) -> None:
    fake_model.answers = [f"```yaml\n{GOOD}```\nPick your Slack connection in the notebook."]
    result = await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    assert isinstance(result, Draft) and result.problems == []
    assert result.document is not None and [c.id for c in result.document.cells] == [
        "order",
        "customer",
        "announce",
    ]
    assert all(
        getattr(c, "connection", None) is None for c in result.document.cells
    )  # the user picks them
    assert documents.loads(result.yaml_text).to_data() == result.document.to_data()
    assert result.notes == "Pick your Slack connection in the notebook."
    assert len(fake_model.requests) == 1
    request = fake_model.requests[0]
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["body"]["model"] == "fake-drafter"
    sent = fake_model.text_of(0)
    assert (
        PROMPT in sent and "send_message" in sent and "catch_hook" in sent and "app slack" in sent
    )
    assert "connection" in sent and "notebook" in sent
    assert len(request["body"]["messages"][0]["content"]) < 12_000  # a few KB


async def test_unknown_operation_is_repaired_once(
    fake_model: FakeModel, assistant_settings: Any
) -> None:
    fake_model.answers = [f"```yaml\n{UNKNOWN_OPERATION}```", f"```yaml\n{GOOD}```"]
    result = await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    assert result.document is not None and result.problems == []
    assert len(fake_model.requests) == 2
    repair = fake_model.requests[1]["body"]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert "post_message" in repair[3]["content"] and "has no operation" in repair[3]["content"]


async def test_broken_answer_after_repair_returns_problems(
    fake_model: FakeModel, assistant_settings: Any
) -> None:
    fake_model.answers = [BAD_MAPPING]  # the same broken answer twice, without a fence
    result = await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    assert result.document is None and len(fake_model.requests) == 2
    assert result.problems and "nosuchfilter" in " ".join(result.problems)
    assert result.yaml_text == BAD_MAPPING.strip()
    assert "nosuchfilter" in fake_model.requests[1]["body"]["messages"][3]["content"]


async def test_not_yaml_at_all(fake_model: FakeModel, assistant_settings: Any) -> None:
    fake_model.answers = ["Sorry, I cannot help with that."]
    result = await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    assert result.document is None and result.problems and len(fake_model.requests) == 2


async def test_server_down_is_a_clear_error(make_settings: Any) -> None:
    port = free_port()
    settings = make_settings(
        assistant_model="openai/fake",
        assistant_api_base=f"http://127.0.0.1:{port}/v1",
        assistant_api_key=API_KEY,
        assistant_timeout_seconds=5,
    )
    started = time.monotonic()
    with pytest.raises(AssistantError) as caught:
        await draft(PROMPT, registry=default_registry(), settings=settings)
    # no long retries against a server that is down (generous: a loaded machine is slow)
    assert time.monotonic() - started < 60
    message = str(caught.value)
    assert "reach the model provider" in message and "CELLWRIGHT_ASSISTANT_API_BASE" in message
    assert str(port) not in message and "127.0.0.1" not in message and API_KEY not in message
    assert caught.value.__cause__ is None


async def test_refused_key_is_a_clear_error(fake_model: FakeModel, assistant_settings: Any) -> None:
    fake_model.answers = [401]
    with pytest.raises(AssistantError, match="refused the assistant's credentials") as caught:
        await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    assert API_KEY not in str(caught.value) and fake_model.url not in str(caught.value)
    assert len(fake_model.requests) == 1  # no retries


async def test_litellm_missing_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, assistant_settings: Any
) -> None:
    from assistant import model

    monkeypatch.setitem(sys.modules, "litellm", None)  # what an install without the extra sees
    monkeypatch.setattr(model, "installed", lambda: False)
    with pytest.raises(AssistantUnavailableError, match=r"pip install 'cellwright\[assistant\]'"):
        await draft(PROMPT, registry=default_registry(), settings=assistant_settings)
    reason = model.unavailable_reason(
        assistant_settings.model_copy(update={"assistant_model": None})
    )
    assert (
        reason is not None
        and "cellwright[assistant]" in reason
        and "CELLWRIGHT_ASSISTANT_MODEL" in reason
    )


async def test_not_configured_names_the_variable(make_settings: Any) -> None:
    with pytest.raises(AssistantUnavailableError, match="CELLWRIGHT_ASSISTANT_MODEL") as caught:
        await draft(PROMPT, registry=default_registry(), settings=make_settings())
    assert caught.value.code == "assistant_unavailable"


async def test_empty_prompt_is_refused(assistant_settings: Any, fake_model: FakeModel) -> None:
    with pytest.raises(InvalidInputError, match="Describe"):
        await draft("  ", registry=default_registry(), settings=assistant_settings)
    assert fake_model.requests == []


def test_fenced_and_bare_answers() -> None:
    assert split_answer(f"Here it is:\n```yaml\n{GOOD}```\nNotes.") == (
        GOOD.strip(),
        "Here it is:\n\nNotes.",
    )
    assert split_answer(f"```YML\n{GOOD}```") == (GOOD.strip(), "")
    assert split_answer(f"```\n{GOOD}") == (GOOD.strip(), "")  # an unclosed fence
    assert split_answer(GOOD) == (GOOD.strip(), "")


def test_check_lists_every_problem() -> None:
    text = UNKNOWN_OPERATION.replace("app: formatter", "app: nosuchapp")
    doc, problems = check(text, default_registry())
    assert doc is None and len(problems) == 2
    assert "no app 'nosuchapp'" in problems[0] and "no operation 'post_message'" in problems[1]
    doc, problems = check("name: x\ncells: []\n", default_registry())
    assert doc is None and any("cells" in p for p in problems)


def test_catalog_is_compact_and_complete() -> None:
    everything = catalog(default_registry())
    for app in default_registry():
        assert f"app {app.key} (" in everything
        for op in (*app.triggers, *app.actions):
            assert f' {op.key} "{op.name}"' in everything
    # for a request, the apps it names (and the built-ins) in full, the others by their keys
    text = catalog(default_registry(), focus=PROMPT)
    assert len(text) < 10_000
    sections = {part.split(" ", 1)[0]: part for part in ("\n" + text).split("\napp ")[1:]}
    assert list(sections) == [app.key for app in default_registry()]
    for app in default_registry():
        full = in_focus(app, PROMPT)
        for op in (*app.triggers, *app.actions):
            assert (f' {op.key} "{op.name}"' in sections[app.key]) == full, (app.key, op.key)
            assert re.search(rf"[ ,] ?{op.key}\b", sections[app.key]), (app.key, op.key)
    focused = {app.key for app in default_registry() if in_focus(app, PROMPT)}
    assert {"slack", "webhook", "formatter", "http"} <= focused and not {
        "hubspot",
        "mailchimp",
        "wordpress",
    } & focused
    gmail = catalog(
        default_registry(), focus="Each new Gmail message with an invoice becomes a monday.com item"
    )
    assert (
        ' gmail_new_email "' in gmail
        and ' create_item "' in gmail
        and ' create_contact "' not in gmail
    )
    assert "needs: value,operation(parse|format|math)" in text  # required fields, short choices
