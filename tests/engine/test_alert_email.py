"""E-mail alerts: a rule names one of its owner's SMTP connections and recipients; a failed
run sends one plain-text message per connection (scenario, execution, failed cell, error,
a link to the execution page) with no secrets or trigger data, retried like a webhook,
audited; a rule can never send through another user's connection.

The SMTP server is real (aiosmtpd on loopback, STARTTLS with a self-signed certificate
the connection trusts through its ``ca_certificate``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cells import document as documents
from connectors.registry import Registry
from connectors.sdk import InvalidInputError, UpstreamError
from engine.service import Cellwright
from engine.settings import Settings
from tests.conftest import running_service
from tests.connectors.smtp_server import PASSWORD, USER, MailServer, smtp_server

PUBLIC_URL = "https://cellwright.example.com"
TRIGGER_SECRET = "trigger-data-7f3a9c"  # noqa: S105 - what must never reach an alert e-mail
MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
BOOM = "  - {id: boom, kind: action, app: probe, operation: count}\n"


@pytest.fixture
async def svc(
    make_settings: Callable[..., Settings], registry: Registry
) -> AsyncIterator[Cellwright]:
    async with running_service(make_settings(public_url=PUBLIC_URL), registry) as app:
        yield app


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailServer]:
    with smtp_server(tmp_path / "mx", users={USER: PASSWORD}) as server:
        yield server


def smtp_credentials(server: MailServer) -> dict[str, Any]:
    assert server.certificate is not None
    return {
        "host": "localhost",
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from_address": "Cellwright <ada@example.com>",
        "ca_certificate": server.certificate.pem,
    }


async def smtp_connection(svc: Cellwright, owner: Any, server: MailServer) -> Any:
    connection = await svc.create_connection(
        owner.id, "smtp", credentials=smtp_credentials(server), name="Mail"
    )
    assert connection is not None and connection.status == "active", connection
    return connection


def failing_scenario(svc: Cellwright, owner: Any, name: str = "Nightly sync") -> Any:
    return svc.import_scenario(owner.id, documents.loads(f"name: {name}\ncells:\n{MANUAL}{BOOM}"))


async def fail_once(svc: Cellwright, owner: Any, scenario: Any, probe: Any) -> dict[str, Any]:
    probe.fail("boom", UpstreamError("the vendor said no", status=400))
    result: dict[str, Any] = await svc.run_now(
        owner.id, scenario.id, {"token": TRIGGER_SECRET}, timeout=10
    )
    await svc.runner.alerts.drain()
    assert result["status"] == "failed"
    return result


def outcomes(svc: Cellwright, owner: Any) -> list[Any]:
    return [
        e
        for e in svc.store.audit_entries(owner.id)
        if e.action in ("alert.delivered", "alert.delivery_failed")
    ]


async def test_a_failed_run_emails_the_rules_recipients_once(
    svc: Cellwright, user: Any, probe: Any, mail: MailServer
) -> None:
    connection = await smtp_connection(svc, user, mail)
    scenario = failing_scenario(svc, user)
    own = svc.accounts.add_alert_rule(
        user.id,
        scenario_id=scenario.id,
        notify_workspace=False,
        email_connection_id=connection.id,
        email_to="ops@example.com, On call <oncall@example.com>",
    )
    anyone = svc.accounts.add_alert_rule(
        user.id, email_connection_id=connection.id, email_to=["ops@example.com"]
    )
    assert own.email_to == ["ops@example.com", "On call <oncall@example.com>"]
    result = await fail_once(svc, user, scenario, probe)

    [sent] = mail.messages  # one message for both rules, each address once
    assert sent.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert sent.authenticated_as == USER
    message = sent.message
    assert message["Subject"] == 'Cellwright: "Nightly sync" failed'
    assert message["From"] == "Cellwright <ada@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Scenario:     Nightly sync" in body
    assert f"Execution:    {result['id']}" in body
    assert "Failed cell:  boom" in body
    assert "Error:        upstream_error: " in body and "the vendor said no" in body
    assert f"Open the execution: {PUBLIC_URL}/?page=execution&id={result['id']}" in body
    raw = sent.data.decode()
    assert TRIGGER_SECRET not in raw and PASSWORD not in raw and "BEGIN CERTIFICATE" not in raw

    [outcome] = outcomes(svc, user)
    assert outcome.action == "alert.delivered" and outcome.object_id == result["id"]
    assert outcome.details == {
        "channel": "email",
        "rule_ids": [own.id, anyone.id],
        "host": "localhost",
        "recipients": 2,
        "attempts": 1,
        "status": None,
        "error": None,
    }


async def test_the_smtp_password_is_stored_encrypted(
    svc: Cellwright, user: Any, mail: MailServer
) -> None:
    """The connection's form is encrypted by the vault like every connection's; the API's
    record carries no credentials."""
    from sqlalchemy import text

    connection = await smtp_connection(svc, user, mail)
    with svc.store._engine.connect() as conn:
        stored = conn.execute(
            text("SELECT credentials FROM connections WHERE id = :id"), {"id": connection.id}
        ).scalar_one()
    assert PASSWORD not in str(stored) and "localhost" not in str(stored)
    assert svc.store.connection_credentials(connection.id)["password"] == PASSWORD
    assert PASSWORD not in str(connection.to_dict())
    assert connection.name == "Mail"


async def test_a_completed_run_emails_nothing(svc: Cellwright, user: Any, mail: MailServer) -> None:
    connection = await smtp_connection(svc, user, mail)
    scenario = failing_scenario(svc, user)
    svc.accounts.add_alert_rule(
        user.id, email_connection_id=connection.id, email_to=["a@example.com"]
    )
    result = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    await svc.runner.alerts.drain()
    assert result["status"] == "completed" and mail.messages == []


async def test_a_rule_cannot_name_another_users_connection(
    svc: Cellwright, user: Any, mail: MailServer, tmp_path: Path
) -> None:
    bob = svc.store.create_user("bob@example.com")
    bobs = await smtp_connection(svc, bob, mail)
    with pytest.raises(InvalidInputError) as caught:
        svc.accounts.add_alert_rule(
            user.id, email_connection_id=bobs.id, email_to=["ops@example.com"]
        )
    assert caught.value.errors == [{"field": "email_connection_id", "message": "not found"}]
    assert "not found among your connections" in str(caught.value)
    # the same answer as for a connection that does not exist
    with pytest.raises(InvalidInputError, match="not found among your connections"):
        svc.accounts.add_alert_rule(user.id, email_connection_id="nope", email_to=["a@example.com"])
    assert svc.accounts.alert_rules(user.id) == []


async def test_the_rules_fields_are_checked(svc: Cellwright, user: Any, mail: MailServer) -> None:
    connection = await smtp_connection(svc, user, mail)
    http = svc.store.create_connection(user.id, "stripe", "Stripe", {"api_key": "sk_test_1"})

    def field_of(**kwargs: Any) -> str:
        with pytest.raises(InvalidInputError) as caught:
            svc.accounts.add_alert_rule(user.id, **kwargs)
        return str(caught.value.errors[0]["field"])

    assert (
        field_of(email_connection_id=http.id, email_to=["a@example.com"]) == "email_connection_id"
    )
    assert field_of(email_to=["a@example.com"]) == "email_connection_id"
    assert field_of(email_connection_id=connection.id, email_to=[]) == "email_to"
    assert field_of(email_connection_id=connection.id, email_to="ops, a@example.com") == "email_to"
    many = [f"u{i}@example.com" for i in range(21)]
    assert field_of(email_connection_id=connection.id, email_to=many) == "email_to"
    assert svc.accounts.alert_rules(user.id) == []


async def test_delivery_uses_only_the_owners_connection(
    svc: Cellwright, user: Any, probe: Any, mail: MailServer
) -> None:
    """A rule written into the store with another user's connection (no check there) sends
    nothing: the connection is looked up again with the execution's owner."""
    bob = svc.store.create_user("bob@example.com")
    bobs = await smtp_connection(svc, bob, mail)
    svc.store.create_alert_rule(user.id, email_connection_id=bobs.id, email_to=["x@example.com"])
    await fail_once(svc, user, failing_scenario(svc, user), probe)
    assert mail.messages == []
    [outcome] = outcomes(svc, user)
    assert outcome.action == "alert.delivery_failed"
    assert outcome.details["error"] == "configuration_error" and outcome.details["attempts"] == 0


async def test_a_transient_refusal_is_retried_then_audited(
    svc: Cellwright, user: Any, probe: Any, tmp_path: Path
) -> None:
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    svc.runner.alerts.sleep = sleep
    refuse = {"ops@example.com": "451 4.3.0 try again later"}
    with smtp_server(tmp_path / "busy", users={USER: PASSWORD}, refuse=refuse) as busy:
        connection = await smtp_connection(svc, user, busy)
        svc.accounts.add_alert_rule(
            user.id, email_connection_id=connection.id, email_to=["ops@example.com"]
        )
        await fail_once(svc, user, failing_scenario(svc, user), probe)
    attempts = svc.settings.alert_attempts
    assert len(waits) == attempts - 1
    [outcome] = outcomes(svc, user)
    assert outcome.action == "alert.delivery_failed"
    assert outcome.details["attempts"] == attempts
    assert outcome.details["error"] == "invalid_input"


async def test_a_wrong_password_is_not_retried_and_never_logged(
    svc: Cellwright, user: Any, probe: Any, mail: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-but-secret-pw"
    connection = await svc.create_connection(
        user.id, "smtp", credentials={**smtp_credentials(mail), "password": wrong}, name="Mail"
    )
    assert connection is not None and connection.status == "error"
    assert wrong not in (connection.status_message or "")
    svc.accounts.add_alert_rule(
        user.id, email_connection_id=connection.id, email_to=["ops@example.com"]
    )
    await fail_once(svc, user, failing_scenario(svc, user), probe)
    [outcome] = outcomes(svc, user)
    assert outcome.details["error"] == "auth_invalid" and outcome.details["attempts"] == 1
    assert wrong not in caplog.text and wrong not in str(outcome.details)


async def test_a_failure_that_pauses_the_scenario_says_so(
    svc: Cellwright, user: Any, probe: Any, mail: MailServer
) -> None:
    connection = await smtp_connection(svc, user, mail)
    scenario = svc.import_scenario(
        user.id,
        documents.loads(
            f"name: Nightly sync\nsettings: {{pause_after_failures: 1}}\ncells:\n{MANUAL}{BOOM}"
        ),
    )
    scenario = await svc.enable(user.id, scenario.id)
    svc.accounts.add_alert_rule(
        user.id, email_connection_id=connection.id, email_to=["ops@example.com"]
    )
    probe.fail("boom", UpstreamError("the vendor said no", status=400))
    execution, _ = await svc.trigger(scenario, {}, wait=10)
    await svc.runner.alerts.drain()

    paused = svc.scenario(user.id, scenario.id)
    assert paused.status == "error" and paused.status_reason
    [sent] = mail.messages
    assert sent.message["Subject"] == 'Cellwright: "Nightly sync" failed and was paused'
    body = sent.message.get_content()
    assert body.startswith('The scenario "Nightly sync" failed and was paused')
    assert (
        "Paused after 1 failed run in a row (setting pause_after_failures). "
        f"The last one, execution {execution.id}" in body
    )
