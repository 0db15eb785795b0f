"""Headless tests of the alert rules' last webhook delivery (derived from the audit trail)."""

from __future__ import annotations

from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import InvalidInputError, UpstreamError

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

FAILING = (
    "name: Nightly sync\ncells:\n"
    "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
    "  - {id: boom, kind: action, app: probe, operation: count}\n"
)


async def fail_once(svc: Any, user: Any, probe: Any, scenario: Any) -> None:
    probe.fail("boom", UpstreamError("no", status=400))
    assert (await svc.run_now(user.id, scenario.id, {}, timeout=10))["status"] == "failed"
    await svc.runner.alerts.drain()  # deliveries are background tasks


async def test_each_webhook_rule_shows_its_last_delivery(
    svc: Any, user: Any, probe: Any, sink: Any, helpers: Any
) -> None:
    from workspace.views.alerts import AlertRules
    from workspace.views.settings import SettingsPage

    scenario = svc.import_scenario(user.id, documents.loads(FAILING))
    other = svc.import_scenario(user.id, documents.loads(FAILING.replace("Nightly sync", "Other")))
    rules = AlertRules(svc, user)
    ok = rules.add(scenario.id, notify_workspace=False, webhook_url=sink.plan("/ok"))
    flaky = rules.add(
        None,
        notify_workspace=False,
        webhook_url=sink.plan("/flaky", helpers.Reply(200), helpers.Reply(503)),
    )
    idle = rules.add(
        other.id, notify_workspace=False, webhook_url=sink.plan("/idle")
    )  # its scenario never fails
    inbox = rules.add(scenario.id)  # workspace only: no delivery to show
    assert rules.deliveries == {}

    await fail_once(svc, user, probe, scenario)
    rules.refresh()
    assert set(rules.deliveries) == {ok["id"], flaky["id"]}
    assert rules.deliveries[ok["id"]]["summary"] == "delivered (HTTP 200)"
    assert (
        rules.deliveries[ok["id"]]["delivered"] is True
        and rules.deliveries[ok["id"]]["attempts"] == 1
    )

    await fail_once(svc, user, probe, scenario)  # now /flaky answers 503 every time
    rules.refresh()
    last = rules.deliveries[flaky["id"]]
    attempts = svc.settings.alert_attempts
    assert last["summary"] == f"failed after {attempts} attempts (HTTP 503)"
    assert (last["delivered"], last["status"], last["attempts"], last["error"]) == (
        False,
        503,
        attempts,
        None,
    )
    newest = [e for e in svc.store.audit_entries(user.id) if e.action == "alert.delivery_failed"][0]
    assert last["execution_id"] == newest.object_id and last["at"] == newest.at.isoformat()
    assert idle["id"] not in rules.deliveries and inbox["id"] not in rules.deliveries

    page = SettingsPage(svc, user, nav=lambda *a, **k: None)
    shown = [row[0].object for row in page.alerts_box]
    by_rule = dict(zip([r["id"] for r in page.alerts.rules], shown, strict=True))
    assert "Last delivery: delivered (HTTP 200) · " in by_rule[ok["id"]]
    assert (
        f"Last delivery: <strong>failed after {attempts} attempts (HTTP 503)</strong>"
        in by_rule[flaky["id"]]
    )
    assert "Last delivery: none yet" in by_rule[idle["id"]]
    assert "Last delivery" not in by_rule[inbox["id"]]


async def test_an_email_rule_shows_where_it_sends_and_its_last_email(
    svc: Any, user: Any, probe: Any, tmp_path: Any
) -> None:
    """The Settings page adds an e-mail rule through the user's SMTP connection (another
    user's cannot be picked: it is not offered, and naming it is refused), then shows the
    recipients, the connection and the last alert e-mail."""
    from tests.connectors.smtp_server import PASSWORD, USER, smtp_server
    from workspace.views.alerts import AlertRules
    from workspace.views.settings import SettingsPage

    scenario = svc.import_scenario(user.id, documents.loads(FAILING))
    with smtp_server(tmp_path, users={USER: PASSWORD}) as mail:
        assert mail.certificate is not None
        credentials = {
            "host": "localhost",
            "port": mail.port,
            "username": USER,
            "password": PASSWORD,
            "from_address": USER,
            "ca_certificate": mail.certificate.pem,
        }
        mine = await svc.create_connection(user.id, "smtp", credentials=credentials, name="Mail")
        bob = svc.store.create_user("bob@example.com")
        bobs = await svc.create_connection(bob.id, "smtp", credentials=credentials, name="Bob's")
        rules = AlertRules(svc, user)
        assert rules.email_connections() == {"Mail": mine.id}
        with pytest.raises(InvalidInputError, match="not found among your connections"):
            rules.add(None, notify_workspace=False, email_connection_id=bobs.id, email_to="a@x.com")
        with pytest.raises(InvalidInputError, match="Choose where to be told"):
            rules.add(None, notify_workspace=False)
        rule = rules.add(
            scenario.id,
            notify_workspace=False,
            email_connection_id=mine.id,
            email_to="ops@example.com, oncall@example.com",
        )
        assert rule["email_to"] == ["ops@example.com", "oncall@example.com"]
        page = SettingsPage(svc, user, nav=lambda *a, **k: None)
        [row] = page.alerts_box
        assert (
            "e-mail to <code>ops@example.com, oncall@example.com</code> via Mail" in row[0].object
        )
        assert "Last e-mail: none yet" in row[0].object and "Last delivery" not in row[0].object

        await fail_once(svc, user, probe, scenario)
        assert len(mail.messages) == 1
    rules.refresh()
    assert rules.deliveries == {}  # no webhook
    assert rules.email_deliveries[rule["id"]]["summary"] == "delivered (e-mail to 2 recipients)"
    page = SettingsPage(svc, user, nav=lambda *a, **k: None)
    assert "Last e-mail: delivered (e-mail to 2 recipients) · " in page.alerts_box[0][0].object
