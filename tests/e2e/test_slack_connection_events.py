"""One Slack app feeds every Slack trigger of its connection, end to end.

A Slack app has one Events API Request URL, so the URL belongs to the Slack connection
(``/hooks/apps/slack/<token>``). Real components only: a uvicorn server in a thread, the
store on ``tmp_path``, sandbox Slack connections, and the Slack simulator's ``deliver``
posting signed deliveries over HTTP the way Slack does (retries included).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.sdk import InvalidInputError
from connectors.slack import sandbox as sb
from engine.service import Cellwright
from workspace.server import create_app

GENERAL, RANDOM = "C0SANDBOX01", "C0SANDBOX02"


def slack_scenario(name: str, connection_id: str, operation: str, inputs: str = "{}") -> Any:
    return documents.loads(
        f"name: {name}\ncells:\n"
        f"  - {{id: slack_in, kind: trigger, app: slack, operation: {operation}, "
        f"connection: {connection_id}, inputs: {inputs}}}\n"
        "  - {id: count, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ trigger.event_id }}'}}\n"
    )


def message(event_id: str, channel: str = GENERAL, text: str = "hello") -> dict[str, Any]:
    return sb.event_callback(
        {
            "type": "message",
            "channel": channel,
            "user": "U0SANDBOX01",
            "text": text,
            "ts": "1764061200.000200",
            "channel_type": "channel",
        },
        event_id=event_id,
    )


def reaction(event_id: str) -> dict[str, Any]:
    return sb.event_callback(
        {
            "type": "reaction_added",
            "user": "U0SANDBOX02",
            "reaction": "eyes",
            "item": {"type": "message", "channel": GENERAL, "ts": "1764061200.000200"},
        },
        event_id=event_id,
    )


def runs(svc: Cellwright, user: Any, scenario: Any) -> list[Any]:
    return svc.store.list_executions(user.id, scenario_id=scenario.id)


async def test_one_connection_url_feeds_every_listening_scenario(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    with helpers.ThreadedServer(create_app(svc, start=False)) as server:
        svc.settings.public_url = server.url
        bob = svc.store.create_user("bob@example.com", name="Bob")
        alice_slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
        spare = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
        bob_slack = await svc.create_connection(bob.id, "slack", credentials={}, sandbox=True)
        assert alice_slack.status == "active", alice_slack.status_message
        url = svc.connection_events_url(user.id, alice_slack.id)
        assert url is not None and url.startswith(f"{server.url}/hooks/apps/slack/")
        assert (
            svc.connection_events_url(bob.id, alice_slack.id) is None
        )  # Bob never sees Alice's URL

        # Slack checks the URL when it is saved: answered before any scenario exists
        check = await sb.deliver(
            url, sb.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        )
        assert check.status_code == 200
        assert check.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}

        messages = svc.import_scenario(
            user.id,
            slack_scenario(
                "Messages in general", alice_slack.id, "new_message", f"{{channel: {GENERAL}}}"
            ),
        )
        reactions = svc.import_scenario(
            user.id, slack_scenario("Reactions", alice_slack.id, "reaction_added")
        )
        idle = svc.import_scenario(
            user.id, slack_scenario("Never enabled", alice_slack.id, "new_message")
        )
        bobs = svc.import_scenario(
            bob.id, slack_scenario("Bob's messages", bob_slack.id, "new_message")
        )
        naming_alices = slack_scenario(
            "Bob names Alice's connection", alice_slack.id, "new_message"
        )
        with pytest.raises(InvalidInputError, match="not found among your connections"):
            svc.import_scenario(
                bob.id, naming_alices
            )  # refused on save; one stored before that check:
        borrowed = svc.store.save_scenario(
            bob.id, naming_alices.to_data(), nodes=documents.node_rows(naming_alices)
        )
        svc.store.publish_scenario(bob.id, borrowed.id)
        svc.store.set_scenario_status(bob.id, borrowed.id, "active")
        for owner, scenario in ((user, messages), (user, reactions), (bob, bobs)):
            await svc.enable(owner.id, scenario.id)

        # a message in #general: exactly one run, the message scenario's — answered before it runs
        probe.sleeps["count"] = 2.0
        # never waits for the runs (Slack wants an answer within 3 s): the run the answer
        # names is still queued or running (its cell sleeps 2 s) when the answer arrives
        taken = await sb.deliver(url, message("Ev0MSG0001"))
        assert taken.status_code == 200
        [first] = taken.json()["execution_ids"]
        assert taken.json()["accepted"] == 1
        assert [(e.id, e.status) for e in runs(svc, user, messages)] in (
            [(first, "queued")],
            [(first, "running")],
        )  # stored, not yet run
        done = await helpers.finished(svc, first)
        probe.sleeps.clear()
        assert done["status"] == "completed", done["error"]
        assert done["cells"][1]["output"]["value"] == "Ev0MSG0001"
        assert done["trigger"]["channel"] == GENERAL and done["trigger"]["text"] == "hello"

        # Slack's retry of the same delivery (same event_id, X-Slack-Retry-Num): no second run
        again = await sb.deliver(url, message("Ev0MSG0001"), retry=1)
        assert again.status_code == 200 and again.json()["execution_ids"] == [first]
        assert len(runs(svc, user, messages)) == 1

        # a reaction: the other scenario's run only
        reacted = await sb.deliver(url, reaction("Ev0REACT001"))
        assert reacted.status_code == 200 and reacted.json()["accepted"] == 1
        [on_reaction] = runs(svc, user, reactions)
        assert reacted.json()["execution_ids"] == [on_reaction.id]
        assert (await helpers.finished(svc, on_reaction.id))["status"] == "completed"

        # what no trigger asks for is acknowledged (Slack turns off a URL that keeps failing)
        elsewhere = await sb.deliver(url, message("Ev0MSG0002", channel=RANDOM))
        assert elsewhere.status_code == 200 and elsewhere.json() == {
            "accepted": 0,
            "execution_ids": [],
        }
        unwanted = await sb.deliver(
            svc.connection_events_url(user.id, spare.id) or "", message("Ev0MSG0003")
        )
        assert unwanted.status_code == 200 and unwanted.json()["accepted"] == 0

        # a bad signature is refused and stores nothing; an unknown URL is a 404
        count = svc.store.count_executions(user.id)
        forged = await sb.deliver(url, message("Ev0MSG0004"), secret="not-the-signing-secret")
        assert forged.status_code == 401 and forged.json()["error"] == "webhook_unverified"
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            unknown = await sb.deliver(
                "/hooks/apps/slack/no-such-token", message("Ev0MSG0005"), client=client
            )
            assert (
                unknown.status_code == 404
                and unknown.json()["message"] == "No connection listens at this URL."
            )
            other_app = await sb.deliver(
                url.replace("/apps/slack/", "/apps/webhook/"), message("Ev0MSG0006"), client=client
            )
            assert other_app.status_code == 404
        assert svc.store.count_executions(user.id) == count

        # a saved trigger change is a draft: events follow the live version until it is published
        svc.import_scenario(
            user.id,
            slack_scenario("Reactions", alice_slack.id, "new_message", f"{{channel: {GENERAL}}}"),
            scenario_id=reactions.id,
        )
        draft = await sb.deliver(url, message("Ev0MSG0007"))
        assert draft.json()["accepted"] == 1 and len(runs(svc, user, reactions)) == 1
        assert (await sb.deliver(url, reaction("Ev0REACT002"))).json()[
            "accepted"
        ] == 1  # still on reactions
        await svc.publish(user.id, reactions.id)
        published = await sb.deliver(url, message("Ev0MSG0008"))
        assert published.json()["accepted"] == 2
        assert {
            svc.store.get_execution(user.id, i).scenario_id
            for i in published.json()["execution_ids"]
        } == {messages.id, reactions.id}
        assert (await sb.deliver(url, reaction("Ev0REACT003"))).json()["accepted"] == 0

        # the scenario never enabled and Bob's scenarios got nothing; Bob's own URL is his own
        assert runs(svc, user, idle) == []
        assert svc.store.count_executions(bob.id) == 0
        bob_url = svc.connection_events_url(bob.id, bob_slack.id)
        assert bob_url is not None and bob_url != url
        for_bob = await sb.deliver(bob_url, message("Ev0MSG0009"))
        assert for_bob.json()["accepted"] == 1
        assert [e.scenario_id for e in svc.store.list_executions(bob.id)] == [bobs.id]

        # the scenario's own URL keeps working as before (one Slack app per scenario)
        own = await sb.deliver(svc.webhook_url(messages) or "", message("Ev0MSG0010"))
        assert own.status_code == 202 and own.json()["accepted"] == 1
        for execution in svc.store.list_executions(user.id) + svc.store.list_executions(bob.id):
            await helpers.finished(svc, execution.id)


async def test_a_disabled_scenario_stops_receiving_and_a_new_signing_secret_applies_at_once(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    with helpers.ThreadedServer(create_app(svc, start=False)) as server:
        svc.settings.public_url = server.url
        slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
        url = svc.connection_events_url(user.id, slack.id) or ""
        scenario = svc.import_scenario(user.id, slack_scenario("Messages", slack.id, "new_message"))
        await svc.enable(user.id, scenario.id)
        taken = await sb.deliver(url, message("Ev0MSG0101"))
        assert taken.json()["accepted"] == 1
        await svc.disable(user.id, scenario.id)
        assert (await sb.deliver(url, message("Ev0MSG0102"))).json()["accepted"] == 0

        await svc.enable(user.id, scenario.id)
        await svc.update_connection(
            user.id, slack.id, credentials={"signing_secret": "a-rotated-signing-secret"}
        )
        assert (
            await sb.deliver(url, message("Ev0MSG0103"))
        ).status_code == 401  # the old secret, refused
        renewed = await sb.deliver(url, message("Ev0MSG0104"), secret="a-rotated-signing-secret")
        assert renewed.status_code == 200 and renewed.json()["accepted"] == 1
        assert (
            svc.connection_events_url(user.id, slack.id) == url
        )  # same URL: nothing to change in Slack
        for execution in svc.store.list_executions(user.id):
            await helpers.finished(svc, execution.id)
