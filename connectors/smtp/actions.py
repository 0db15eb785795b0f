"""Sending an e-mail over the connection's SMTP server."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from connectors.sdk import OperationContext
from connectors.smtp import client
from connectors.smtp.schemas import SendEmailInput, SentEmail


def message_id(idempotency_key: str, from_address: str) -> str:
    """A Message-ID stable for (execution, cell, item): a run resumed after a crash in the
    middle of sending repeats the same id, so mail programs can tell it is one message."""
    domain = client.envelope_address(from_address).rpartition("@")[2] or "cellwright.local"
    if not idempotency_key:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def compose(inputs: SendEmailInput, from_address: str, msg_id: str) -> EmailMessage:
    """The RFC 5322 message: text and/or HTML (multipart/alternative), then attachments."""
    mail = EmailMessage()
    mail["From"] = from_address
    mail["To"] = ", ".join(inputs.to)
    if inputs.cc:
        mail["Cc"] = ", ".join(inputs.cc)
    if inputs.reply_to:
        mail["Reply-To"] = ", ".join(inputs.reply_to)
    mail["Subject"] = inputs.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = msg_id
    # Bcc is never a header: its addresses are only in the envelope
    if inputs.body_text is not None and inputs.body_text != "":
        mail.set_content(inputs.body_text)
        if inputs.body_html:
            mail.add_alternative(inputs.body_html, subtype="html")
    else:
        mail.set_content(inputs.body_html or "", subtype="html")
    for attachment in inputs.attachments:
        main, _, sub = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content(), maintype=main, subtype=sub, filename=attachment.filename
        )
    return mail


async def send_email(ctx: OperationContext, inputs: SendEmailInput) -> SentEmail:
    settings = client.SmtpSettings.from_credentials(ctx.credentials)
    mail = compose(
        inputs, settings.from_address, message_id(ctx.idempotency_key, settings.from_address)
    )
    recipients = client.unique([*inputs.to, *inputs.cc, *inputs.bcc])
    refused = await client.send(settings, ctx.http.policy, mail, recipients)
    return SentEmail(
        message_id=str(mail["Message-ID"]),
        accepted=[r for r in recipients if r not in refused],
        refused=refused,
        size_bytes=len(mail.as_bytes()),
    )
