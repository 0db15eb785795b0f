"""The Assistant page in Chromium, against a real ``cellwright serve`` whose model is
the fake OpenAI-compatible server of tests/assistant: describe → draft → create →
the notebook. Pages are screenshotted and checked with axe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.routing import Route

from tests.assistant.conftest import API_KEY, FakeModel
from tests.assistant.test_drafts import GOOD, PROMPT
from tests.conftest import ThreadedServer
from tests.ui.conftest import Server, audit, serve

pytestmark = pytest.mark.ui

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModel]:
    fake = FakeModel(answers=[f"```yaml\n{GOOD}```\nPick your Slack connection in the notebook."])
    with ThreadedServer(
        Starlette(routes=[Route("/v1/chat/completions", fake.completions, methods=["POST"])])
    ) as running:
        fake.url = running.url
        yield fake


@pytest.fixture(scope="module")
def assistant_server(
    tmp_path_factory: pytest.TempPathFactory, model: FakeModel
) -> Iterator[Server]:
    env = {
        "CELLWRIGHT_ASSISTANT_MODEL": "openai/fake-drafter",
        "CELLWRIGHT_ASSISTANT_API_BASE": f"{model.url}/v1",
        "CELLWRIGHT_ASSISTANT_API_KEY": API_KEY,
        "CELLWRIGHT_ASSISTANT_TIMEOUT_SECONDS": "20",
    }
    with serve(tmp_path_factory.mktemp("ui-assistant-data"), env=env) as server:
        yield server


def test_draft_and_create_from_the_assistant(
    page: Page, assistant_server: Server, model: FakeModel, screenshots: Path
) -> None:
    page.goto(assistant_server.url + "/")
    page.fill("#email", assistant_server.admin_email)
    page.fill("#password", assistant_server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)
    page.locator(".nav-assistant button").click()
    request = page.get_by_label("Describe the scenario you want")
    expect(request).to_be_visible(timeout=TIMEOUT)
    audit(page, "30-assistant", screenshots)
    request.fill(PROMPT)
    page.locator(".assistant-draft button").click()
    expect(page.locator("pre.draft-yaml")).to_contain_text("send_message", timeout=TIMEOUT)
    expect(page.locator(".assistant-create button")).to_be_enabled()
    audit(page, "31-assistant-draft", screenshots)
    assert PROMPT in model.text_of(0)
    page.locator(".assistant-create button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".scenario-name input")).to_have_value("Orders to Slack")
    assert API_KEY not in assistant_server.log.read_text(errors="replace")
