"""A real SMTP server for tests (aiosmtpd on a free loopback port): AUTH (RFC 4954),
STARTTLS (RFC 3207) or implicit TLS with a self-signed certificate made here with
``cryptography``, recipients it refuses, and every message it accepted."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "ada@example.com"
PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - the test server's account


@dataclass(frozen=True)
class Certificate:
    pem: str
    cert_file: Path
    key_file: Path


def self_signed(directory: Path, name: str = "localhost") -> Certificate:
    """A self-signed certificate for ``name`` (and 127.0.0.1 when it is ``localhost``), with
    its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name)]
                + (
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    if name == "localhost"
                    else []
                )
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(pem, cert_file, key_file)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    authenticated_as: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    refuse: dict[str, str] = field(default_factory=dict)
    """address (a sender or a recipient) → the reply
    that refuses it (``550 5.1.1 No such user``)."""
    refuse_data: str | None = None
    """The reply to every message's DATA, instead of accepting it (``554 5.7.1 spam``)."""
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_data is not None:
            return self.refuse_data
        who = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, who)
        )
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, handler: Handler, users: dict[str, str]) -> None:
        self.handler = handler
        self.users = users

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.handler.logins.append((login, mechanism))
        ok = self.users.get(login) == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class MailServer:
    host: str
    port: int
    handler: Handler
    certificate: Certificate | None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(
    tmp_path: Path,
    *,
    security: Literal["starttls", "tls", "none"] = "starttls",
    users: dict[str, str] | None = None,
    refuse: dict[str, str] | None = None,
    data_size_limit: int | None = None,
    certificate_for: str = "localhost",
    refuse_data: str | None = None,
) -> Iterator[MailServer]:
    """A running server; with ``users`` it offers AUTH (after TLS, unless security is none)."""
    handler = Handler(refuse=dict(refuse or {}), refuse_data=refuse_data)
    certificate = self_signed(tmp_path / "certs", certificate_for) if security != "none" else None
    context: ssl.SSLContext | None = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert_file, certificate.key_file)
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": free_port(),
        "data_size_limit": data_size_limit,
        "ready_timeout": 10.0,
    }
    if users is not None:
        kwargs |= {
            "authenticator": Authenticator(handler, users),
            # aiosmtpd counts only STARTTLS as TLS for this check; implicit TLS is TLS from
            # the first byte, so requiring it there would hide AUTH altogether
            "auth_require_tls": security == "starttls",
        }
    if security == "starttls":
        kwargs |= {"tls_context": context, "require_starttls": True}
    elif security == "tls":
        kwargs |= {"ssl_context": context}
    controller = Controller(handler, **kwargs)
    if security == "tls":
        # the controller's readiness probe opens a plain socket: wrap it as a client would
        controller._trigger_server = _trigger_tls(controller, certificate)  # type: ignore[method-assign]
    controller.start()
    try:
        yield MailServer("127.0.0.1", kwargs["port"], handler, certificate)
    finally:
        controller.stop()


def _trigger_tls(controller: Controller, certificate: Certificate | None) -> Any:
    def trigger() -> None:
        client = ssl.create_default_context()
        assert certificate is not None
        client.load_verify_locations(cadata=certificate.pem)
        with (
            socket.create_connection((controller.hostname, controller.port), 1.0) as raw,
            client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.recv(1024)

    return trigger
