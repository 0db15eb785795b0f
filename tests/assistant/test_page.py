"""Headless tests of the Assistant page against a real Cellwright and the fake model."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sdk import CellwrightError
from tests.assistant.conftest import API_KEY, FakeModel
from tests.assistant.test_drafts import GOOD, PROMPT, UNKNOWN_OPERATION

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def settings(assistant_settings: Any) -> Any:
    """The service of these tests has the assistant set up (the fake model)."""
    return assistant_settings


async def test_draft_then_create_opens_the_new_scenario(
    svc: Any, user: Any, fake_model: FakeModel
) -> None:
    from workspace.views.assistant import AssistantPage

    fake_model.answers = [f"```yaml\n{GOOD}```\nPick a Slack connection."]
    visits: list[tuple[Any, ...]] = []
    page = AssistantPage(svc, user, nav=lambda *a, **k: visits.append(a))
    assert page.create_button.disabled
    page.request.value = PROMPT
    await page.on_draft()
    assert (
        page.banner.message == ""
        and not page.draft_button.disabled
        and page.draft_button.name == "Draft scenario"
    )
    assert not page.create_button.disabled
    assert "send_message" in page.result.object and "Pick a Slack connection." in page.result.object
    assert '<pre class="draft-yaml"' in page.result.object and API_KEY not in page.result.object
    await page.on_create()
    assert visits and visits[0][0] == "scenario"
    scenario = svc.store.get_scenario(user.id, visits[0][1])
    assert (
        scenario is not None
        and scenario.name == "Orders to Slack"
        and scenario.live_version is None
    )
    assert [c["id"] for c in scenario.document["cells"]] == ["order", "customer", "announce"]
    other = svc.store.create_user("eve@example.com")
    assert svc.store.get_scenario(other.id, scenario.id) is None  # the signed-in user's only


async def test_draft_with_problems_cannot_be_created(
    svc: Any, user: Any, fake_model: FakeModel
) -> None:
    from workspace.views.assistant import AssistantPage, AssistantState

    fake_model.answers = [f"```yaml\n{UNKNOWN_OPERATION}```"]
    page = AssistantPage(svc, user, nav=lambda *a, **k: None)
    page.request.value = PROMPT
    await page.on_draft()
    assert page.create_button.disabled
    assert "has no operation &#x27;post_message&#x27;" in page.result.object
    assert page.state.problems and page.state.document is None
    with pytest.raises(CellwrightError, match="no valid draft"):
        page.state.create()
    state = AssistantState(svc, user)
    assert state.unavailable is None and not state.can_create


async def test_model_errors_are_sentences(svc: Any, user: Any, fake_model: FakeModel) -> None:
    from workspace.views.assistant import AssistantPage

    fake_model.answers = [401]
    page = AssistantPage(svc, user, nav=lambda *a, **k: None)
    page.request.value = PROMPT
    await page.on_draft()
    assert (
        "refused the assistant's credentials" in page.banner.message and page.banner.kind == "error"
    )
    assert "Traceback" not in page.banner.message and API_KEY not in page.banner.message
    assert not page.draft_button.disabled and page.create_button.disabled
    page.request.value = ""
    await page.on_draft()
    assert "Describe the scenario" in page.banner.message


async def test_page_explains_when_not_set_up(make_settings: Any, registry: Any) -> None:
    from engine.service import Cellwright
    from workspace.app import NAV, VIEWS
    from workspace.views.assistant import AssistantPage

    svc = Cellwright(
        make_settings(data_dir=make_settings().data_dir.parent / "other"), apps=registry
    )
    try:
        user = svc.store.create_user("ada@example.com")
        page = AssistantPage(svc, user, nav=lambda *a, **k: None)
        text = page._layout[1].object
        assert "CELLWRIGHT_ASSISTANT_MODEL" in text and not hasattr(page, "request")
        assert ("assistant", "Assistant") in NAV and isinstance(
            VIEWS["assistant"](svc, user, None, ""), AssistantPage
        )
    finally:
        svc.close()
