"""The SMTP app against a real SMTP server (aiosmtpd on loopback): STARTTLS and implicit
TLS with a self-signed certificate trusted through the connection's ``ca_certificate``,
AUTH, what arrives (headers, envelope, parts), and each failure's message.

The client is built with ``allow_private`` because the server is on loopback; the test
of the network guard uses the default policy and proves the same server is refused.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cells.models import ActionCell
from cells.run import run_operation_cell
from connectors.registry import default_registry
from connectors.sdk import (
    App,
    AuthError,
    ForbiddenDestinationError,
    InvalidInputError,
    NetworkError,
    NetworkPolicy,
    OperationContext,
    UpstreamError,
    build_http,
)
from connectors.smtp import app, send_email
from connectors.smtp.auth import SmtpConnectionFields
from connectors.smtp.schemas import MAX_ATTACHMENT_BYTES, SendEmailInput
from tests.connectors.smtp_server import PASSWORD, USER, MailServer, free_port, smtp_server

OPEN = NetworkPolicy(allow_private=True)
FROM = "Cellwright Alerts <ada@example.com>"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MailServer]:
    with smtp_server(tmp_path, security="starttls", users={USER: PASSWORD}) as running:
        yield running


def credentials(server: MailServer, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "host": "localhost",
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from_address": FROM,
        "ca_certificate": server.certificate.pem if server.certificate else None,
    }
    values.update(overrides)
    return values


def context(creds: dict[str, Any], policy: NetworkPolicy = OPEN, key: str = "") -> OperationContext:
    return OperationContext(
        http=build_http(app_key="smtp", policy=policy), credentials=creds, idempotency_key=key
    )


async def send(ctx: OperationContext, **inputs: Any) -> Any:
    return await send_email.perform(ctx, SendEmailInput.model_validate(inputs))


async def test_a_message_with_cc_bcc_html_text_and_attachments_arrives_as_written(
    server: MailServer,
) -> None:
    pdf = b"%PDF-1.4 fake but binary \x00\x01\x02\xff"
    out = await send(
        context(credentials(server), key="exec-1:send:0"),
        to="Grace Hopper <grace@example.com>, linus@example.org",
        cc=["Margaret <margaret@example.com>"],
        bcc="hidden@example.net",
        reply_to="support@example.com",
        subject="Invoice 42 — paid ✓",
        body_text="Thanks for your payment.",
        body_html="<p>Thanks for your <b>payment</b>.</p>",
        attachments=[
            {
                "filename": "invoice-42.pdf",
                "content_base64": base64.b64encode(pdf).decode(),
                "content_type": "application/pdf",
            },
            {
                "filename": "lines.csv",
                "content_base64": base64.b64encode(b"a,b\n1,2\n").decode(),
                "content_type": "text/csv",
            },
        ],
    )
    [received] = server.messages
    # the envelope has every recipient, Bcc included, each once; the login was the account's
    assert received.rcpt_tos == [
        "grace@example.com",
        "linus@example.org",
        "margaret@example.com",
        "hidden@example.net",
    ]
    assert received.mail_from == "ada@example.com" and received.authenticated_as == USER
    mail = received.message
    assert mail["From"] == FROM
    assert mail["To"] == "Grace Hopper <grace@example.com>, linus@example.org"
    assert mail["Cc"] == "Margaret <margaret@example.com>"
    assert mail["Bcc"] is None and b"hidden@example.net" not in received.data
    assert mail["Reply-To"] == "support@example.com"
    assert mail["Subject"] == "Invoice 42 — paid ✓"
    assert mail.get_content_type() == "multipart/mixed"
    body = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert body is not None and body.get_content().strip() == "Thanks for your payment."
    assert html is not None and "<b>payment</b>" in html.get_content()
    files = {part.get_filename(): part for part in mail.iter_attachments()}
    assert set(files) == {"invoice-42.pdf", "lines.csv"}
    assert files["invoice-42.pdf"].get_content_type() == "application/pdf"
    assert files["invoice-42.pdf"].get_content() == pdf
    assert files["lines.csv"].get_content_type() == "text/csv"
    # the output tells what the server took; the Message-ID is the one sent
    assert out.accepted == received.rcpt_tos and out.refused == {}
    assert out.message_id == mail["Message-ID"]
    assert len(pdf) < out.size_bytes <= len(received.data) + 100
    send_email.output.model_validate(out.model_dump())


async def test_the_message_id_is_stable_for_one_cell_run(server: MailServer) -> None:
    """A resumed run that sends again repeats the same Message-ID (mail programs dedupe)."""
    ctx = context(credentials(server), key="exec-9:mail:0")
    first = await send(ctx, to="a@example.com", subject="s", body_text="x")
    second = await send(ctx, to="a@example.com", subject="s", body_text="x")
    other = await send(
        context(credentials(server), key="exec-9:mail:1"),
        to="a@example.com",
        subject="s",
        body_text="x",
    )
    assert first.message_id == second.message_id != other.message_id
    assert first.message_id.endswith("@example.com>")


async def test_html_only_and_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, security="tls", users={USER: PASSWORD}) as tls:
        creds = credentials(tls, security="tls")
        await send(context(creds), to="a@example.com", subject="Hi", body_html="<h1>Hi</h1>")
        [received] = tls.messages
        assert received.message.get_content_type() == "text/html"
        assert received.message.get_content().strip() == "<h1>Hi</h1>"


async def test_a_local_relay_without_tls_or_login(tmp_path: Path) -> None:
    """security none is allowed to this machine, and a server without AUTH needs no user."""
    with smtp_server(tmp_path, security="none") as relay:
        creds = {
            "host": "127.0.0.1",
            "port": relay.port,
            "security": "none",
            "from_address": "app@localhost",
        }
        info = await app.auth.test(context(creds))  # type: ignore[misc]
        assert info["label"] == "app@localhost via 127.0.0.1"
        await send(context(creds), to="ops@example.com", subject="Hi", body_text="plain")
        assert relay.messages[0].authenticated_as is None


async def test_the_connection_test_says_ehlo_auth_quit(server: MailServer) -> None:
    info = await app.auth.test(context(credentials(server)))  # type: ignore[misc]
    assert info["label"] == f"{USER} via localhost"
    assert "auth" in info["server_extensions"]
    assert server.handler.logins and server.handler.logins[0][0] == USER
    assert server.messages == []  # nothing was sent


async def test_a_wrong_password_is_an_auth_error_without_the_password(server: MailServer) -> None:
    wrong = "Tr0ub4dor&3-wrong"
    with pytest.raises(AuthError) as caught:
        await app.auth.test(context(credentials(server, password=wrong)))  # type: ignore[misc]
    message = str(caught.value)
    assert "refused the user name or password" in message and "535" in message
    assert wrong not in message and base64.b64encode(wrong.encode()).decode() not in message
    assert wrong not in repr(caught.value.to_dict())
    with pytest.raises(AuthError):
        await send(
            context(credentials(server, password=wrong)),
            to="a@example.com",
            subject="s",
            body_text="x",
        )
    assert server.messages == []


async def test_refused_recipients_are_named(tmp_path: Path) -> None:
    refuse = {"nobody@example.com": "550 5.1.1 <nobody@example.com>: no such user"}
    with smtp_server(tmp_path, users={USER: PASSWORD}, refuse=refuse) as mx:
        ctx = context(credentials(mx))
        with pytest.raises(InvalidInputError) as caught:
            await send(ctx, to="nobody@example.com", subject="s", body_text="x")
        assert "refused every recipient" in str(caught.value)
        assert "nobody@example.com (550" in str(caught.value)
        assert caught.value.errors[0]["field"] == "to" and not caught.value.retryable
        assert mx.messages == []
        # one refused among others: sent to the rest, the refusal is in the output
        out = await send(ctx, to="ok@example.com, nobody@example.com", subject="s", body_text="x")
        assert out.accepted == ["ok@example.com"]
        assert out.refused == {"nobody@example.com": "550 5.1.1 <nobody@example.com>: no such user"}
        assert mx.messages[0].rcpt_tos == ["ok@example.com"]


async def test_a_busy_mailbox_is_retryable(tmp_path: Path) -> None:
    """4yz replies are transient (RFC 5321 §4.2.1): the runner retries them."""
    refuse = {"full@example.com": "452 4.2.2 mailbox full, try later"}
    with smtp_server(tmp_path, users={USER: PASSWORD}, refuse=refuse) as mx:
        with pytest.raises(InvalidInputError) as caught:
            await send(context(credentials(mx)), to="full@example.com", subject="s", body_text="x")
        assert caught.value.retryable


async def test_a_refused_sender_names_the_from_address(tmp_path: Path) -> None:
    refuse = {"ada@example.com": "553 5.7.1 <ada@example.com>: sender not owned by user"}
    with smtp_server(tmp_path, users={USER: PASSWORD}, refuse=refuse) as mx:
        with pytest.raises(UpstreamError) as caught:
            await send(context(credentials(mx)), to="a@example.com", subject="s", body_text="x")
    message = str(caught.value)
    assert "refused the sender ada@example.com (553" in message and "from_address" in message
    assert not caught.value.retryable and caught.value.details["smtp_code"] == 553


async def test_a_message_refused_at_data_is_an_upstream_error(tmp_path: Path) -> None:
    for reply, retryable in (("554 5.7.1 looks like spam", False), ("451 4.7.1 greylisted", True)):
        with smtp_server(tmp_path / reply[:3], users={USER: PASSWORD}, refuse_data=reply) as mx:
            with pytest.raises(UpstreamError) as caught:
                await send(context(credentials(mx)), to="a@example.com", subject="s", body_text="x")
        assert f"answered {reply}" in str(caught.value) and "(send)" in str(caught.value)
        assert caught.value.retryable is retryable


async def test_a_login_on_a_server_without_auth(tmp_path: Path) -> None:
    with smtp_server(tmp_path, security="none") as relay:
        creds = {
            "host": "127.0.0.1",
            "port": relay.port,
            "security": "none",
            "username": "someone",
            "password": "pw-1234",
            "from_address": FROM,
        }
        with pytest.raises(AuthError, match="does not offer authentication"):
            await app.auth.test(context(creds))  # type: ignore[misc]


async def test_a_host_that_does_not_resolve() -> None:
    creds = {"host": "nothing-here.invalid", "from_address": FROM}
    with pytest.raises(NetworkError, match="could not resolve nothing-here.invalid"):
        await app.auth.test(context(creds))  # type: ignore[misc]


async def test_nothing_listening_is_a_network_error() -> None:
    creds = {
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "starttls",
        "from_address": FROM,
    }
    with pytest.raises(NetworkError) as caught:
        await send(context(creds), to="a@example.com", subject="s", body_text="x")
    assert f"could not connect to 127.0.0.1:{creds['port']}" in str(caught.value)
    assert caught.value.retryable


async def test_an_untrusted_certificate_is_refused_with_what_to_do(
    server: MailServer, tmp_path: Path
) -> None:
    """Verification is never turned off: without the CA the self-signed server is refused."""
    with pytest.raises(UpstreamError) as caught:
        await app.auth.test(context(credentials(server, ca_certificate=None)))  # type: ignore[misc]
    message = str(caught.value)
    assert "could not be verified" in message and "ca_certificate" in message
    assert not caught.value.retryable
    # trusting a certificate does not trust it for another name
    with smtp_server(
        tmp_path / "other", users={USER: PASSWORD}, certificate_for="mail.example.test"
    ) as other:
        with pytest.raises(UpstreamError, match="could not be verified") as caught:
            await app.auth.test(context(credentials(other)))  # type: ignore[misc]
        assert "localhost" in str(caught.value)


async def test_tls_against_a_starttls_port_says_which_setting(server: MailServer) -> None:
    with pytest.raises(UpstreamError) as caught:
        await app.auth.test(context(credentials(server, security="tls")))  # type: ignore[misc]
    assert "TLS" in str(caught.value) and PASSWORD not in str(caught.value)


async def test_starttls_to_a_server_without_it(tmp_path: Path) -> None:
    with smtp_server(tmp_path, security="none") as plain:
        creds = {
            "host": "127.0.0.1",
            "port": plain.port,
            "security": "starttls",
            "from_address": FROM,
        }
        with pytest.raises(UpstreamError, match="does not offer STARTTLS"):
            await app.auth.test(context(creds))  # type: ignore[misc]


async def test_the_network_guard_applies(server: MailServer) -> None:
    """With the default policy, an SMTP host on loopback is as refused as an HTTP one."""
    with pytest.raises(ForbiddenDestinationError):
        await send(
            context(credentials(server), policy=NetworkPolicy()),
            to="a@example.com",
            subject="s",
            body_text="x",
        )
    allowed = NetworkPolicy.build(networks=["127.0.0.0/8", "::1/128"])
    await send(
        context(credentials(server), policy=allowed), to="a@example.com", subject="s", body_text="x"
    )
    assert len(server.messages) == 1


async def test_a_message_over_the_servers_size_is_refused_before_sending(tmp_path: Path) -> None:
    with smtp_server(tmp_path, users={USER: PASSWORD}, data_size_limit=2000) as small:
        big = base64.b64encode(b"x" * 4000).decode()
        with pytest.raises(InvalidInputError, match="accepts at most 2,000"):
            await send(
                context(credentials(small)),
                to="a@example.com",
                subject="s",
                body_text="x",
                attachments=[{"filename": "big.bin", "content_base64": big}],
            )
        assert small.messages == []


async def test_through_the_cell_runner(server: MailServer) -> None:
    ctx = context(credentials(server))

    async def make(cell: Any, app: App, *, idempotency_key: str) -> Any:
        ctx.idempotency_key = idempotency_key
        return ctx

    cell = ActionCell(
        kind="action",
        id="mail",
        app="smtp",
        operation="send_email",
        connection="c1",
        inputs={
            "to": "{{ trigger.email }}",
            "subject": "Welcome {{ trigger.name }}",
            "body_text": "Hello!",
        },
    )
    result = await run_operation_cell(
        cell,
        {"trigger": {"email": "new@example.com", "name": "Ada"}, "steps": {}},
        apps=default_registry(),
        make_context=make,
        idempotency_key="exec-1:mail:0",
    )
    assert result.status == "completed", result.error
    assert server.messages[0].message["Subject"] == "Welcome Ada"


# -- the form and the inputs: clear errors naming the field ---------------------------------


def field_errors(model: Any, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]) or "(root)": e["msg"] for e in caught.value.errors()}


def test_unencrypted_smtp_is_refused_off_this_machine() -> None:
    base = {"security": "none", "from_address": FROM}
    errors = field_errors(SmtpConnectionFields, {**base, "host": "smtp.example.com"})
    assert "allow_insecure" in errors and "unencrypted" in errors["allow_insecure"]
    for host in ("localhost", "127.0.0.1", "::1", "mail.localhost"):
        SmtpConnectionFields.model_validate({**base, "host": host})
    SmtpConnectionFields.model_validate(
        {**base, "host": "relay.internal.example", "allow_insecure": True}
    )
    description = SmtpConnectionFields.model_fields["security"].description or ""
    assert "refused unless the host is this machine" in description


def test_the_connection_form_names_each_bad_field() -> None:
    errors = field_errors(
        SmtpConnectionFields,
        {
            "host": "smtp://mail.example.com:587",
            "port": 70000,
            "from_address": "not an address",
            "password": "p",
            "ca_certificate": "hello",
        },
    )
    assert set(errors) >= {"host", "port", "from_address", "password", "ca_certificate"}
    assert "a password needs a username" in errors["password"]
    assert "PEM" in errors["ca_certificate"]


def test_inputs_are_checked() -> None:
    ok = {"to": "a@example.com", "subject": "s", "body_text": "x"}
    assert "to" in field_errors(SendEmailInput, {**ok, "to": []})
    assert "to" in field_errors(SendEmailInput, {**ok, "to": "a@example.com, nope"})
    assert "cc" in field_errors(SendEmailInput, {**ok, "cc": "x@y.com\r\nBcc: evil@example.com"})
    assert "subject" in field_errors(SendEmailInput, {**ok, "subject": "hi\r\nBcc: evil@x.com"})
    errors = field_errors(SendEmailInput, {"to": "a@example.com", "subject": "s"})
    assert "give body_text, body_html or both" in errors["(root)"]
    bad = {"filename": "a.bin", "content_base64": "@@not base64@@"}
    assert (
        "not valid base64"
        in field_errors(SendEmailInput, {**ok, "attachments": [bad]})[
            "attachments.0.content_base64"
        ]
    )
    slash = {"filename": "../a.bin", "content_base64": "eA=="}
    assert "attachments.0.filename" in field_errors(SendEmailInput, {**ok, "attachments": [slash]})
    half = base64.b64encode(b"x" * (MAX_ATTACHMENT_BYTES // 2 + 1)).decode()
    two = [{"filename": f"{i}.bin", "content_base64": half} for i in range(2)]
    assert "at most" in field_errors(SendEmailInput, {**ok, "attachments": two})["(root)"]
    parsed = SendEmailInput.model_validate({**ok, "to": '"Hopper, Grace" <g@example.com>, b@x.io'})
    assert parsed.to == ['"Hopper, Grace" <g@example.com>', "b@x.io"]


async def test_stored_settings_that_no_longer_fit_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        await send(
            context({"host": "smtp.example.com", "security": "none", "from_address": FROM}),
            to="a@example.com",
            subject="s",
            body_text="x",
        )
    assert "allow_insecure" in str(caught.value) and "Edit the connection" in str(caught.value)


async def test_a_certificate_pasted_on_one_line_still_works(server: MailServer) -> None:
    """A single-line input turns a PEM's line breaks into spaces: they are put back."""
    assert server.certificate is not None
    flat = " ".join(server.certificate.pem.split())
    fields = SmtpConnectionFields.model_validate(credentials(server, ca_certificate=flat))
    assert fields.ca_certificate is not None and fields.ca_certificate.count("\n") > 3
    info = await app.auth.test(context(credentials(server, ca_certificate=flat)))  # type: ignore[misc]
    assert info["label"] == f"{USER} via localhost"
