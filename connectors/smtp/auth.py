"""An SMTP connection: the server, how it is secured, the account and the sender.

The whole form is the connection's credentials, encrypted by the vault like every
connection's. The test call connects, says EHLO, starts TLS, authenticates (AUTH,
RFC 4954) and says QUIT: nothing is sent.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from connectors.sdk import CustomAuth, OperationContext
from connectors.smtp import client
from connectors.smtp.client import Security, is_loopback_name

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")
_IP6 = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?$")
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$|^[^@\s<>,;\"]+@localhost$")
"""A deliverable address: local part, @, a domain with a dot (or ``localhost``)."""


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def display_address(name: str, address: str) -> str:
    """``Name <a@b>`` with the name quoted when it holds specials (RFC 5322 §3.2.3), or ``a@b``."""
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def check_address(value: str) -> str:
    """``a@b.example`` or ``Name <a@b.example>``; no line breaks (header injection)."""
    value = value.strip()
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    name, address = parseaddr(value)
    if not address or not ADDRESS.match(address):
        raise ValueError(f"'{value}' is not an e-mail address (write name@example.com)")
    return value


class SmtpConnectionFields(BaseModel):
    """The SMTP server and the account that sends."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(
        description="The SMTP server's host name, e.g. smtp.example.com (no scheme, no port).",
        examples=["smtp.example.com"],
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="The port. Empty: 587 for starttls, 465 for tls, 25 for none.",
    )
    security: Security = Field(
        "starttls",
        description="How the connection is encrypted: starttls (port 587, RFC 3207: the session "
        "is upgraded to TLS before logging in), tls (port 465, implicit TLS, RFC 8314) or none. "
        "none sends the password and every message unencrypted, so it is refused unless the host "
        "is this machine (localhost, 127.0.0.1, ::1) or allow_insecure is ticked.",
    )
    allow_insecure: bool = Field(
        False,
        validate_default=True,
        description="Allow security none to a host other than this machine (a relay on a trusted "
        "private network). The password and the mail then cross the network unencrypted.",
    )
    username: str | None = Field(
        None,
        description="The account's user name for AUTH (often the e-mail address). Empty: the "
        "server needs no login (a local relay).",
    )
    password: SecretStr | None = Field(
        None, description="The account's password or app password (needs username)."
    )
    from_address: str = Field(
        description="The sender, e.g. alerts@example.com or Cellwright <alerts@example.com>; "
        "servers usually accept only the account's own addresses.",
        examples=["Cellwright <alerts@example.com>"],
    )
    ca_certificate: str | None = Field(
        None,
        # "text": the form shows a text area, keeping line breaks
        title="CA certificate (PEM text)",
        description="A PEM certificate to trust besides the system's, for a server with a "
        "private CA or a self-signed certificate (starts with -----BEGIN CERTIFICATE-----). "
        "Certificates are always verified.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not (_HOST.match(value) or _IP6.match(value)) or "://" in value:
            raise ValueError("write the server's host name alone, e.g. smtp.example.com")
        return value.strip("[]")

    @field_validator("allow_insecure")
    @classmethod
    def _secured(cls, value: bool, info: ValidationInfo) -> bool:
        host, security = info.data.get("host"), info.data.get("security")
        if security == "none" and not value and host and not is_loopback_name(host):
            raise ValueError(
                "security is none, which sends the password and every message unencrypted "
                f"to {host}: choose starttls or tls, or tick allow_insecure if the server "
                "is on a trusted network"
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and value.get_secret_value() and not info.data.get("username"):
            raise ValueError("a password needs a username")
        return value

    @field_validator("ca_certificate")
    @classmethod
    def _ca(cls, value: str | None) -> str | None:
        value = _pem_lines((value or "").strip()) or None
        if value is None:
            return None
        try:
            ssl.create_default_context().load_verify_locations(cadata=value)
        except (ssl.SSLError, ValueError):
            raise ValueError(
                "not a PEM certificate (paste the text from -----BEGIN CERTIFICATE----- "
                "to -----END CERTIFICATE-----)"
            ) from None
        return value


_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def _pem_lines(text: str) -> str:
    """PEM blocks with their line breaks back (a one-line field turns them into spaces)."""
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        return text
    out = []
    for body in blocks:
        compact = "".join(body.split())
        lines = [compact[i : i + 64] for i in range(0, len(compact), 64)]
        out.append("\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----"]))
    return "\n".join(out) + "\n"


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """EHLO, STARTTLS or TLS, AUTH, QUIT: proves the server is reachable and the login works."""
    settings = client.SmtpSettings.from_credentials(ctx.credentials)
    return await client.check(settings, ctx.http.policy)


def _nothing_on_http(credentials: Mapping[str, Any], request: Any) -> None:
    """SMTP credentials never go on an HTTP request."""


SMTP_AUTH = CustomAuth(
    fields=SmtpConnectionFields,
    apply=_nothing_on_http,
    test=test_connection,
    label_template="{label}",
)
