"""Talking to an SMTP server (RFC 5321), with AUTH (RFC 4954) and TLS (RFC 3207, RFC 8314).

Used by the SMTP app's action and connection test, and by the engine's e-mail alerts
(``engine/alerts.py``), so both connect, authenticate and map failures the same way.

- The connection goes through the operator's network policy (the same
  ``NetworkPolicy`` as the HTTP client's SSRF guard): the host is resolved here, every
  address it resolves to is checked, and the socket is opened to a checked address
  (``aiosmtplib`` gets the connected socket), so a name cannot resolve to a private
  address between the check and the connection.
- Certificates are always verified against the host name; a server with a private CA
  or a self-signed certificate is trusted by pasting that certificate into the
  connection (``ca_certificate``), never by turning verification off.
- ``aiosmtplib`` rather than the standard library's ``smtplib`` in worker threads: no
  thread held per session (a slow server would hold the pool's threads), and
  ``benchmarks/bench_smtp.py`` measured it faster here (STARTTLS + AUTH, one session per
  message, 20 at once: 137 against 101 messages/s, 5.9 against 7.5 ms CPU per message).
- Errors are the SDK's classes with messages that name the host, the failed step and
  the server's reply; the password never appears (the server's reply is scrubbed of it
  and of its base64 forms too).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

import aiosmtplib
from pydantic import ValidationError

from connectors.sdk import (
    AuthError,
    CallTimeoutError,
    CellwrightError,
    InvalidInputError,
    NetworkError,
    NetworkPolicy,
    UpstreamError,
)
from connectors.sdk.auth import secret_value
from connectors.sdk.netguard import forbidden

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: Mapping[str, int] = {"starttls": 587, "tls": 465, "none": 25}
TIMEOUT_SECONDS = 30.0
"""Connect, each command and the message's transfer (aiosmtplib's ``timeout``)."""


@dataclass(frozen=True)
class SmtpSettings:
    """A connection's settings, validated (``SmtpConnectionFields``) and with secrets unwrapped."""

    host: str
    port: int
    security: Security
    username: str | None
    password: str | None
    from_address: str
    allow_insecure: bool = False
    ca_certificate: str | None = None

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> SmtpSettings:
        """Settings from a stored connection's credentials (``InvalidInputError`` naming the
        field when they no longer fit the form, e.g. stored before a rule tightened)."""
        from connectors.smtp.auth import SmtpConnectionFields

        try:
            fields = SmtpConnectionFields.model_validate(dict(credentials))
        except ValidationError as exc:
            listed = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:5]
            )
            raise InvalidInputError(
                f"smtp: the connection's settings are not valid — {listed}. Edit the connection.",
                errors=[
                    {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ],
            ) from None
        return cls(
            host=fields.host,
            port=fields.port or DEFAULT_PORTS[fields.security],
            security=fields.security,
            username=fields.username or None,
            password=secret_value(fields.password) or None,
            from_address=fields.from_address,
            allow_insecure=fields.allow_insecure,
            ca_certificate=fields.ca_certificate or None,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def is_loopback_name(host: str) -> bool:
    """``localhost`` (and ``*.localhost``, RFC 6761) or a loopback IP literal."""
    name = host.strip().rstrip(".").lower().strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def tls_context(ca_certificate: str | None) -> ssl.SSLContext:
    """The system's trust store, plus the connection's own CA certificate when it has one.
    Hostname checks and certificate verification stay on."""
    context = ssl.create_default_context()
    if ca_certificate:
        context.load_verify_locations(cadata=ca_certificate)
    return context


class _Redactor:
    """Scrubs the password (plain and base64, as AUTH PLAIN/LOGIN send it) from text."""

    def __init__(self, settings: SmtpSettings) -> None:
        secrets: list[str] = []
        if settings.password:
            password = settings.password
            secrets.append(password)
            secrets.append(base64.b64encode(password.encode()).decode())
            user = settings.username or ""
            secrets.append(base64.b64encode(f"\0{user}\0{password}".encode()).decode())
        self._secrets = sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


async def _resolve(host: str, port: int, policy: NetworkPolicy) -> list[tuple[Any, ...]]:
    """Every address ``host`` resolves to, each checked by the network policy."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkError(
            f"smtp: could not resolve {host}: {exc.strerror or exc}. Check the connection's host."
        ) from None
    for info in infos:
        if not policy.address_allowed(str(info[4][0])):
            raise forbidden(host)
    return list(infos)


async def _open_socket(settings: SmtpSettings, policy: NetworkPolicy) -> socket.socket:
    """A socket connected to one of the host's (checked) addresses."""
    infos = await _resolve(settings.host, settings.port, policy)
    if settings.security == "none" and not settings.allow_insecure:
        # the loopback exception of the form holds for what the name resolves to, too
        if not all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos):
            raise InvalidInputError(
                f"smtp: {settings.host} does not resolve to this machine, and the connection "
                "sends without TLS. Choose starttls or tls (or tick allow_insecure).",
                errors=[{"field": "security", "message": "none is only for this machine"}],
            )
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), TIMEOUT_SECONDS)
        except TimeoutError:
            sock.close()
            raise CallTimeoutError(
                f"smtp: connecting to {settings.where} timed out after {TIMEOUT_SECONDS:.0f} s"
            ) from None
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    reason = (last.strerror if last is not None else None) or "no address to connect to"
    raise NetworkError(
        f"smtp: could not connect to {settings.where}: {reason.lower()}. "
        "Check the host and port, and that the server accepts connections from here."
    )


@asynccontextmanager
async def session(settings: SmtpSettings, policy: NetworkPolicy) -> AsyncIterator[aiosmtplib.SMTP]:
    """Connected (EHLO, TLS as the connection says) and authenticated when it has a user
    name; QUIT on the way out. Failures are raised as the SDK's errors."""
    redact = _Redactor(settings)
    sock = await _open_socket(settings, policy)
    context = tls_context(settings.ca_certificate) if settings.security != "none" else None
    client = aiosmtplib.SMTP(
        hostname=settings.host,  # the name certificates are checked against (and SNI)
        sock=sock,
        use_tls=settings.security == "tls",
        start_tls=settings.security == "starttls",
        tls_context=context,
        timeout=TIMEOUT_SECONDS,
    )
    step = "connect"
    handed_over = False  # once asyncio has a transport on the socket, the transport closes it
    try:
        try:
            try:
                await client.connect()
            finally:
                handed_over = client.transport is not None
            if (
                client.is_ehlo_or_helo_needed
            ):  # after STARTTLS the server is asked again (RFC 3207 §4.2)
                await client.ehlo()
            if settings.username:
                step = "authenticate"
                await client.login(settings.username, settings.password or "")
        except BaseException as exc:
            raise _mapped(exc, step, settings, redact) from None
        try:
            yield client
        except aiosmtplib.SMTPException as exc:
            raise _mapped(exc, "send", settings, redact) from None
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        if not handed_over:
            sock.close()


async def check(settings: SmtpSettings, policy: NetworkPolicy) -> dict[str, Any]:
    """The connection test: connect, EHLO, STARTTLS or TLS, AUTH, QUIT."""
    async with session(settings, policy) as client:
        extensions = sorted(client.esmtp_extensions)
    who = settings.username or settings.from_address
    return {
        "label": f"{who} via {settings.host}",
        "server_extensions": extensions,
    }


async def send(
    settings: SmtpSettings,
    policy: NetworkPolicy,
    message: EmailMessage,
    recipients: Sequence[str],
) -> dict[str, str]:
    """Send ``message`` to ``recipients`` (the envelope: To, Cc and Bcc). Returns the
    recipients the server refused while accepting others (``{address: reply}``); when it
    refuses every one, raises ``InvalidInputError`` naming each."""
    sender = envelope_address(settings.from_address)
    async with session(settings, policy) as client:
        limit = _size_limit(client.esmtp_extensions)
        size = len(message.as_bytes())
        if limit is not None and size > limit:
            raise InvalidInputError(
                f"smtp: the message is {size:,} bytes and {settings.host} accepts at "
                f"most {limit:,} (SIZE). Send smaller attachments.",
                errors=[{"field": "attachments", "message": "message too large for the server"}],
            )
        refused, _ = await client.send_message(message, sender=sender, recipients=list(recipients))
    return {address: f"{reply.code} {reply.message}" for address, reply in refused.items()}


def envelope_address(value: str) -> str:
    """The bare address of ``"Name <a@b>"`` (or of ``a@b``)."""
    from email.utils import parseaddr

    return parseaddr(value)[1] or value


def _size_limit(extensions: Mapping[str, str]) -> int | None:
    value = (extensions.get("size") or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _reply(exc: aiosmtplib.SMTPResponseException, redact: _Redactor) -> str:
    return f"{exc.code} {redact(str(exc.message)).strip()}"


def _transient(code: int) -> bool:
    """RFC 5321 §4.2.1: 4yz replies are transient (try again later), 5yz permanent."""
    return 400 <= code < 500


def _mapped(
    exc: BaseException, step: str, settings: SmtpSettings, redact: _Redactor
) -> BaseException:
    """The SDK error for what went wrong at ``step`` (connect, authenticate, send)."""
    where = settings.where
    if isinstance(exc, CellwrightError | asyncio.CancelledError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return AuthError(
            f"smtp: {settings.host} refused the user name or password ({_reply(exc, redact)}). "
            "Check the connection's username and password (many providers need an app password)."
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = [
            f"{r.recipient} ({r.code} {redact(str(r.message)).strip()})" for r in exc.recipients
        ]
        error = InvalidInputError(
            f"smtp: {settings.host} refused every recipient: {', '.join(refused)}",
            errors=[
                {"field": "to", "message": f"refused: {r.recipient} ({r.code})"}
                for r in exc.recipients
            ],
        )
        error.retryable = all(_transient(r.code) for r in exc.recipients)
        return error
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        error = UpstreamError(
            f"smtp: {settings.host} refused the sender {exc.sender} ({_reply(exc, redact)}). "
            "Check the connection's from_address: servers often accept only "
            "the account's own address.",
            smtp_code=exc.code,
        )
        error.retryable = _transient(exc.code)
        return error
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError | aiosmtplib.SMTPReadTimeoutError):
        return CallTimeoutError(f"smtp: {where} did not answer in time ({step})")
    if isinstance(exc, ssl.SSLCertVerificationError) or _cause(exc, ssl.SSLCertVerificationError):
        cert = exc if isinstance(exc, ssl.SSLError) else _cause(exc, ssl.SSLCertVerificationError)
        reason = getattr(cert, "verify_message", None) or str(cert)
        return _tls_error(
            f"smtp: the TLS certificate of {where} could not be verified ({reason}). "
            "If the server uses a private CA or a self-signed certificate, paste that certificate "
            "into the connection's ca_certificate."
        )
    if isinstance(exc, ssl.SSLError) or _cause(exc, ssl.SSLError):
        return _tls_error(
            f"smtp: the TLS handshake with {where} failed ({_first_line(exc)}). "
            "Check the connection's security: port 465 is usually tls, 587 starttls."
        )
    plain = isinstance(exc, aiosmtplib.SMTPException) and not isinstance(
        exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPServerDisconnected
    )  # aiosmtplib's own refusals, before anything is sent
    if plain and step == "connect" and "STARTTLS" in str(exc).upper():
        return _tls_error(
            f"smtp: {where} does not offer STARTTLS. Choose security tls (port 465) if the server "
            "uses implicit TLS."
        )
    if plain and step == "authenticate" and "AUTH" in str(exc).upper():
        return AuthError(
            f"smtp: {where} does not offer authentication (AUTH) on this connection; "
            "leave username empty if the server needs none, or use STARTTLS/TLS (servers often "
            "offer AUTH only after TLS)."
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        error = UpstreamError(
            f"smtp: {where} answered {_reply(exc, redact)} ({step})", smtp_code=exc.code
        )
        error.retryable = _transient(exc.code)
        return error
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return NetworkError(f"smtp: lost the connection to {where} ({step}): {_first_line(exc)}")
    if isinstance(exc, aiosmtplib.SMTPException):
        return UpstreamError(f"smtp: {where}: {redact(_first_line(exc))} ({step})")
    return exc


def _tls_error(message: str) -> UpstreamError:
    error = UpstreamError(message)
    error.retryable = False  # a certificate or a protocol mismatch does not pass by retrying
    return error


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unique(addresses: Iterable[str]) -> list[str]:
    """Envelope addresses without repeats (case-insensitive), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        bare = envelope_address(address)
        if bare.lower() not in seen:
            seen.add(bare.lower())
            out.append(bare)
    return out
