"""Webhook: catch any HTTP request at a unique URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.sdk import (
    Action,
    App,
    IncomingRequest,
    InstantTrigger,
    OperationContext,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    hmac_hex,
    load_sample,
)


class CatchHookInput(BaseModel):
    """How the hook checks that a request is authentic."""

    model_config = ConfigDict(extra="forbid")
    verification: Literal["none", "shared_secret", "hmac_sha256"] = Field(
        "none",
        description="none: accept any request. shared_secret: the sender puts the secret "
        "in a header. hmac_sha256: the sender signs the raw body with the secret "
        "(hex HMAC-SHA256) in a header.",
    )
    secret: SecretStr | None = Field(None, description="The shared secret or HMAC key.")
    header: str = Field(
        "X-Cellwright-Signature",
        description="The header that carries the secret or the signature "
        "(a 'sha256=' prefix is accepted).",
    )
    methods: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE"]] = Field(
        default_factory=lambda: ["POST"], description="HTTP methods the hook accepts."
    )
    response: Literal["async", "sync"] = Field(
        "async",
        description="async: answer 202 with the execution id at once. sync: wait for the run and "
        "answer with the output of the scenario's last cell (or its 'respond' cell).",
    )


class CatchHookOutput(BaseModel):
    """The request as received."""

    model_config = ConfigDict(extra="allow")
    method: str = Field("POST", description="HTTP method.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers, lower-case names."
    )
    query: dict[str, str] = Field(default_factory=dict, description="Query-string parameters.")
    body: Any = Field(None, description="The body: parsed JSON, form fields, or text.")


def verify(
    request: IncomingRequest,
    inputs: CatchHookInput,
    state: Mapping[str, Any],
    credentials: Mapping[str, Any],
) -> None:
    if inputs.verification == "none":
        return
    secret = inputs.secret.get_secret_value() if inputs.secret else ""
    given = request.header(inputs.header) or ""
    if not secret or not given:
        raise WebhookVerificationError(f"Missing {inputs.header} header.")
    if inputs.verification == "shared_secret":
        ok = constant_time_equals(given, secret)
    else:
        signature = given.removeprefix("sha256=")
        ok = constant_time_equals(signature, hmac_hex(secret, request.body))
    if not ok:
        raise WebhookVerificationError(f"The {inputs.header} header does not match.")


async def parse(
    request: IncomingRequest, inputs: CatchHookInput, state: Mapping[str, Any]
) -> WebhookReply:
    event = {
        "method": request.method,
        "headers": {k: v for k, v in request.headers.items() if k != inputs.header.lower()},
        "query": dict(request.query),
        "body": request.parsed_body(),
    }
    return WebhookReply(events=[event])


catch_hook = InstantTrigger(
    key="catch_hook",
    name="Catch hook",
    description="Starts the scenario when an HTTP request arrives at the scenario's webhook URL.",
    input=CatchHookInput,
    output=CatchHookOutput,
    sample=load_sample(__file__, "catch_hook"),
    parse=parse,
    verify=verify,
    methods=("GET", "POST", "PUT", "PATCH", "DELETE"),
)


class RespondInput(BaseModel):
    """The answer a synchronous webhook sends back."""

    model_config = ConfigDict(extra="forbid")
    status: int = Field(200, ge=100, le=599, description="HTTP status code of the answer.")
    body: Any = Field(None, description="The answer's body: JSON data, or text.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra response headers.")


class RespondOutput(BaseModel):
    status: int = Field(description="HTTP status code sent.")
    body: Any = Field(None, description="Body sent.")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers sent.")


async def respond(ctx: OperationContext, inputs: RespondInput) -> RespondOutput:
    """The runner hands this cell's output to the waiting webhook request."""
    return RespondOutput(status=inputs.status, body=inputs.body, headers=inputs.headers)


respond_action = Action(
    key="respond",
    name="Webhook response",
    description="Sets the answer of a webhook whose response mode is 'sync'. "
    "The last one that runs wins.",
    input=RespondInput,
    output=RespondOutput,
    sample=load_sample(__file__, "respond"),
    perform=respond,
    transformer=True,
)

app = App(
    key="webhook",
    name="Webhook",
    description="Receive HTTP requests from any service at a unique URL.",
    category="Built-in",
    icon="webhook",
    triggers=(catch_hook,),
    actions=(respond_action,),
    builtin=True,
)
