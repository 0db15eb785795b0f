"""SMTP: send e-mail through any mail server (RFC 5321), with
STARTTLS or TLS and AUTH (RFC 4954)."""

from __future__ import annotations

from connectors.sdk import Action, App, load_sample
from connectors.smtp import actions
from connectors.smtp.auth import SMTP_AUTH
from connectors.smtp.schemas import SendEmailInput, SentEmail

send_email = Action(
    key="send_email",
    name="Send e-mail",
    description="Sends an e-mail through your SMTP server: to, cc and bcc recipients, a subject, "
    "a text and/or HTML body, a reply-to address and attachments (base64). Fails naming the "
    "recipient when the server refuses every one; lists those it refused among others.",
    input=SendEmailInput,
    output=SentEmail,
    sample=load_sample(__file__, "send_email"),
    example={
        "to": "ada@example.com, Grace <grace@example.com>",
        "subject": "Your order shipped",
        "body_text": "Hello! Your order is on its way.",
    },
    perform=actions.send_email,
)

app = App(
    key="smtp",
    name="E-mail (SMTP)",
    description="Send e-mail through any SMTP server (your provider's, a company relay, a "
    "transactional mail service): STARTTLS or TLS, login, text and HTML, attachments.",
    category="Built-in",
    icon="smtp",
    auth=SMTP_AUTH,
    actions=(send_email,),
    builtin=True,
    docs_url="https://www.rfc-editor.org/rfc/rfc5321",
)
