"""Drafts and publishing: saving never changes what runs; publishing does, and re-arms a
changed trigger (engine.arming)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.sdk import ConfigurationError, UpstreamError
from engine.service import Cellwright, Conflict, NotFound

WEBHOOK = """\
name: Live
cells:
  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}
  - {id: a, kind: action, app: probe, operation: count, inputs: {value: VALUE}}
"""

HOOKED = """\
name: Subscribed
cells:
  - {id: hook, kind: trigger, app: probe, operation: hook, inputs: {response: RESPONSE}}
  - {id: a, kind: action, app: probe, operation: count, inputs: {value: VALUE}}
"""


def webhook_doc(value: str) -> Any:
    return documents.loads(WEBHOOK.replace("VALUE", value))


def hooked_doc(response: str = "async", value: str = "one") -> Any:
    return documents.loads(HOOKED.replace("RESPONSE", response).replace("VALUE", value))


async def fire(
    anon: httpx.AsyncClient, svc: Cellwright, scenario: Any, helpers: Any
) -> dict[str, Any]:
    """What the scenario's trigger runs: a webhook delivery, then the finished execution."""
    answer = await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 1})
    assert answer.status_code == 202, answer.text
    return await helpers.finished(svc, answer.json()["execution_id"])


def ran(execution: dict[str, Any]) -> tuple[int, Any]:
    return execution["scenario_version"], execution["cells"][-1]["output"]["value"]


async def test_a_saved_draft_does_not_run_until_published(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = svc.import_scenario(user.id, webhook_doc("first"))
    assert scenario.live_version is None
    enabled = await svc.enable(user.id, scenario.id)
    assert (enabled.status, enabled.live_version) == ("active", 1)
    assert ran(await fire(anon, svc, scenario, helpers)) == (1, "first")

    saved = svc.import_scenario(user.id, webhook_doc("second"), scenario_id=scenario.id)
    assert (saved.version, saved.live_version, saved.status) == (2, 1, "active")
    assert ran(await fire(anon, svc, scenario, helpers)) == (
        1,
        "first",
    )  # the live version still runs
    # a test run and "rerun on the latest version" use the saved draft, published or not
    tested = await svc.run_now(
        user.id, scenario.id, {"method": "POST", "headers": {}, "query": {}, "body": {}}
    )
    assert ran(tested) == (2, "second")
    earlier = await fire(anon, svc, scenario, helpers)
    rerun = await svc.rerun(user.id, earlier["id"], from_start=True, latest=True)
    assert ran(await helpers.finished(svc, rerun.id)) == (2, "second")
    again = await svc.rerun(user.id, earlier["id"], from_start=True)  # its own version
    assert ran(await helpers.finished(svc, again.id)) == (1, "first")

    published = await svc.publish(user.id, scenario.id)
    assert (published.version, published.live_version) == (2, 2)
    assert ran(await fire(anon, svc, scenario, helpers)) == (2, "second")
    rolled_back = await svc.publish(user.id, scenario.id, version=1)
    assert rolled_back.live_version == 1
    assert ran(await fire(anon, svc, scenario, helpers)) == (1, "first")
    audit = [
        (e.action, (e.details or {}).get("version"))
        for e in reversed(svc.store.audit_entries(user.id))
        if e.action == "scenario.publish"
    ]
    assert audit == [("scenario.publish", 1), ("scenario.publish", 2), ("scenario.publish", 1)]


async def test_publishing_a_changed_instant_trigger_replaces_its_subscription(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = svc.import_scenario(user.id, hooked_doc("async"))
    await svc.enable(user.id, scenario.id)
    url = svc.webhook_url(scenario)
    assert probe.subscribed == [url]
    [first] = svc.store.webhook_subscriptions(scenario.id)

    svc.import_scenario(user.id, hooked_doc("sync"), scenario_id=scenario.id)
    assert probe.subscribed == [url] and probe.unsubscribed == []  # saving re-arms nothing
    await svc.publish(user.id, scenario.id)
    assert probe.unsubscribed == [{"id": "sub-1", "secret": "probe-signing-secret"}]
    assert probe.subscribed == [url, url]
    [second] = svc.store.webhook_subscriptions(scenario.id)
    assert second.id != first.id and second.external_id == "sub-2"

    # only a step changed: the subscription stays as it is
    svc.import_scenario(user.id, hooked_doc("sync", value="two"), scenario_id=scenario.id)
    published = await svc.publish(user.id, scenario.id)
    assert published.live_version == 3
    assert len(probe.subscribed) == 2 and len(probe.unsubscribed) == 1
    assert [s.id for s in svc.store.webhook_subscriptions(scenario.id)] == [second.id]

    # disabling removes what the live version subscribed
    await svc.disable(user.id, scenario.id)
    assert probe.unsubscribed[-1] == {"id": "sub-2", "secret": "probe-signing-secret"}
    assert svc.store.webhook_subscriptions(scenario.id) == []


async def test_publishing_a_paused_scenario_arms_nothing_until_enabled(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = svc.import_scenario(user.id, hooked_doc("async"))
    svc.import_scenario(user.id, hooked_doc("sync"), scenario_id=scenario.id)
    published = await svc.publish(user.id, scenario.id, version=1)
    assert (published.status, published.live_version) == ("draft", 1)
    assert probe.subscribed == [] and svc.store.webhook_subscriptions(scenario.id) == []
    enabled = await svc.enable(user.id, scenario.id)  # something is live: enable does not publish
    assert (enabled.status, enabled.live_version, enabled.version) == ("active", 1, 2)
    assert len(probe.subscribed) == 1


async def test_enable_publishes_the_latest_version_when_nothing_is_live(
    svc: Cellwright, user: Any
) -> None:
    scenario = svc.import_scenario(user.id, webhook_doc("first"))
    svc.import_scenario(user.id, webhook_doc("second"), scenario_id=scenario.id)
    enabled = await svc.enable(user.id, scenario.id)
    assert (enabled.status, enabled.version, enabled.live_version) == ("active", 2, 2)
    actions = [e.action for e in reversed(svc.store.audit_entries(user.id))]
    assert actions[-2:] == ["scenario.publish", "scenario.enable"]
    await svc.disable(user.id, scenario.id)
    svc.import_scenario(user.id, webhook_doc("third"), scenario_id=scenario.id)
    again = await svc.enable(user.id, scenario.id)
    assert (again.version, again.live_version) == (3, 2)  # turning it back on is not publishing


async def test_a_trigger_that_cannot_be_rearmed_pauses_the_scenario(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = svc.import_scenario(user.id, hooked_doc("async"))
    await svc.enable(user.id, scenario.id)
    svc.import_scenario(user.id, hooked_doc("sync"), scenario_id=scenario.id)
    probe.fail("subscribe", UpstreamError("the vendor is down", status=503))
    with pytest.raises(
        ConfigurationError,
        match=(
            "Version 2 is live, but its trigger could not be set up, "
            "so the scenario was paused: the vendor is down"
        ),
    ):
        await svc.publish(user.id, scenario.id)
    now = svc.scenario(user.id, scenario.id)
    assert (now.status, now.live_version) == ("paused", 2)
    assert svc.store.webhook_subscriptions(scenario.id) == []
    assert (await svc.enable(user.id, scenario.id)).status == "active"  # fixed: enable again
    assert [s.external_id for s in svc.store.webhook_subscriptions(scenario.id)] == ["sub-2"]


async def test_publish_refuses_missing_versions_and_other_users(svc: Cellwright, user: Any) -> None:
    scenario = svc.import_scenario(user.id, webhook_doc("first"))
    with pytest.raises(NotFound, match="has no version 2"):
        await svc.publish(user.id, scenario.id, version=2)
    other = svc.store.create_user("eve@example.com")
    with pytest.raises(NotFound):
        await svc.publish(other.id, scenario.id)
    with pytest.raises(NotFound):
        await svc.publish(user.id, "0" * 32)
    assert svc.scenario(user.id, scenario.id).live_version is None


async def test_a_connection_the_live_version_uses_cannot_be_deleted(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-1"}, sandbox=True
    )
    uses = documents.loads(
        "name: Uses a connection\ncells:\n"
        "  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: who, kind: action, app: keyed, "
        f"operation: whoami, connection: {connection.id}}}\n"
    )
    scenario = svc.import_scenario(user.id, uses)
    await svc.enable(user.id, scenario.id)
    svc.import_scenario(
        user.id, webhook_doc("no connection"), scenario_id=scenario.id
    )  # a draft without it
    with pytest.raises(Conflict, match="used by the enabled scenario"):
        svc.delete_connection(user.id, connection.id)
    await svc.publish(user.id, scenario.id)
    svc.delete_connection(user.id, connection.id)


async def test_a_version_with_gaps_cannot_go_live(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    """A draft may be saved half-done; publishing (and
    enabling, which publishes) lists what is missing."""
    from connectors.sdk import InvalidInputError

    text = (
        "name: Shout\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
        "  - {id: up, kind: transformer, app: formatter, "
        "operation: text, name: Shout it, inputs: {transform: upper%s}}\n"
    )
    scenario = svc.import_scenario(
        user.id, documents.loads(text % "")
    )  # saving a draft with a gap is fine
    for attempt in (svc.publish, svc.enable):
        with pytest.raises(
            InvalidInputError,
            match="Version 1 cannot go live yet: Cell 'Shout it': fill in 'value'",
        ) as info:
            await attempt(user.id, scenario.id)
        assert info.value.details["errors"][0]["field"] == "value"
    again = svc.scenario(user.id, scenario.id)
    assert (again.live_version, again.status) == (None, "draft")  # nothing changed
    fixed = svc.import_scenario(
        user.id,
        documents.loads(text % ", value: '{{ trigger.body.n }} done'"),
        scenario_id=scenario.id,
    )
    assert (await svc.enable(user.id, fixed.id)).live_version == 2
    answer = await anon.post(f"/hooks/{fixed.webhook_token}", json={"n": 1})
    done = await helpers.finished(svc, answer.json()["execution_id"])
    assert (done["scenario_version"], done["cells"][-1]["output"]["result"]) == (2, "1 DONE")


async def test_the_stored_retry_count_is_what_the_document_says(svc: Cellwright, user: Any) -> None:
    doc = webhook_doc("one")
    scenario = svc.import_scenario(user.id, doc)
    assert doc.settings.retry_count == 2  # the engine's default, left out of the stored document
    assert scenario.error_handling["retry_count"] == 2
    changed = documents.loads(WEBHOOK.replace("VALUE", "one") + "settings: {retry_count: 0}\n")
    saved = svc.import_scenario(user.id, changed, scenario_id=scenario.id)
    assert saved.error_handling["retry_count"] == 0


async def test_a_static_value_of_the_wrong_type_cannot_go_live(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    """Publishing refuses what the run would refuse, every problem at once; a mapped value
    (its type known only at run time) and a value the run would coerce pass."""
    from connectors.sdk import InvalidInputError

    text = (
        "name: Typed\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
        "  - {id: a, kind: action, app: probe, operation: count, name: Wait, inputs: {sleep: %s}}\n"
        "  - {id: b, kind: action, app: probe, operation: count, inputs: {sleep: %s}}\n"
    )
    scenario = svc.import_scenario(user.id, documents.loads(text % ("soon", "[1]")))
    with pytest.raises(InvalidInputError, match="Version 1 cannot go live yet: ") as info:
        await svc.publish(user.id, scenario.id)
    assert [(e["cell_id"], e["field"]) for e in info.value.details["errors"]] == [
        ("a", "sleep"),
        ("b", "sleep"),
    ]
    assert "Cell 'Wait': 'sleep' has a wrong value: Input should be a valid number" in str(
        info.value
    )
    assert svc.scenario(user.id, scenario.id).live_version is None  # nothing changed
    fixed = svc.import_scenario(
        user.id,
        documents.loads(text % ("'0'", "'{{ trigger.body.s }}'")),
        scenario_id=scenario.id,
    )
    assert (await svc.enable(user.id, fixed.id)).live_version == 2
    answer = await anon.post(f"/hooks/{fixed.webhook_token}", json={"s": 0})
    done = await helpers.finished(svc, answer.json()["execution_id"])
    assert done["status"] == "completed"
