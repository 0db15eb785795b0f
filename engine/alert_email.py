"""The e-mail channel of alert rules: a plain-text message through the user's SMTP connection.

A rule names one of its owner's SMTP connections and the recipients. When a run fails,
:class:`engine.alerts.Alerts` sends one message per connection, to every recipient the
matching rules name (each address once), with the same retries as a webhook (a
connection that does not answer, a 4yz reply: RFC 5321's "try again later"). The
connection is looked up again with the execution's owner at send time, so a rule never
sends through another user's connection, nor through one deleted since.

The message says which scenario failed, the execution, the failed cell, the error and
a link to the execution page (the server's public URL). It carries no credentials and
no trigger or cell data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

MAX_ERROR_CHARS = 1000
MAX_NAME_CHARS = 150


def envelope_address(value: str) -> str:
    """The bare address of ``"Name <a@b>"`` (or of ``a@b``)."""
    return parseaddr(value)[1] or value


def execution_link(public_url: str, execution_id: str) -> str:
    """The workspace page of one execution."""
    return f"{public_url.rstrip('/')}/?page=execution&id={execution_id}"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def alert_message(
    *,
    execution_id: str,
    scenario_id: str,
    scenario_name: str,
    error: Any,
    finished_at: str | None,
    public_url: str,
    from_address: str,
    recipients: list[str],
    connection_id: str,
    paused: str | None = None,
) -> EmailMessage:
    """The alert e-mail of a failed execution; ``paused``: why the failure paused the
    scenario (after failed runs in a row), said first and in the subject."""
    name = _one_line(scenario_name or f"scenario {scenario_id}", MAX_NAME_CHARS)
    details: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = str(details.get("code") or "error")
    message = str(details.get("message") or "The run failed.")
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    cell = details.get("cell_id")
    lines = [f'The scenario "{name}" failed.', ""]
    if paused:
        lines = [
            f'The scenario "{name}" failed and was paused: its trigger no longer starts runs.',
            "",
            _one_line(paused, MAX_ERROR_CHARS),
            "",
        ]
    lines += [
        f"Scenario:     {name}",
        f"Execution:    {execution_id}",
        f"Failed cell:  {cell}"
        if cell
        else "Failed cell:  (none: the run failed before or between cells)",
        f"Error:        {code}: {message}",
    ]
    if finished_at:
        lines.append(f"Finished at:  {finished_at}")
    lines += [
        "",
        f"Open the execution: {execution_link(public_url, execution_id)}",
        "",
        "-- ",
        "You get this e-mail because of an alert rule in Cellwright (Settings → Alert rules).",
    ]
    mail = EmailMessage()
    mail["From"] = from_address
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = (
        f'Cellwright: "{name}" failed and was paused' if paused else f'Cellwright: "{name}" failed'
    )
    mail["Date"] = formatdate(usegmt=True)
    domain = envelope_address(from_address).rpartition("@")[2] or "cellwright.local"
    # one id per (execution, connection): a retried delivery is the same message
    digest = hashlib.sha256(f"{execution_id}/{connection_id}".encode()).hexdigest()[:32]
    mail["Message-ID"] = f"<alert-{digest}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
    mail.set_content("\n".join(lines) + "\n")
    return mail


__all__ = ["alert_message", "execution_link"]
