"""Slack triggers: Events API deliveries (instant; no history polling).

Slack sends a Slack app's events to the one *Request URL* set in the app's settings
(Event Subscriptions; https://api.slack.com/apis/events-api#subscribing), so there is
nothing to subscribe through the API (``subscribe=None``). A Slack app is one Slack
connection here, so the URL belongs to the connection (``CONNECTION_WEBHOOK``,
``/hooks/apps/slack/<token>``): the user pastes it once and subscribes the bot events
their triggers name, and every enabled scenario with a Slack trigger on that
connection gets the events its trigger picks. (A scenario's own ``/hooks/<token>`` URL
still works for a Slack app that feeds a single scenario.) Every delivery is signed
with the app's signing secret (kept in the Slack connection):
``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"))``
(https://api.slack.com/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from connectors.sdk import (
    ConnectionWebhook,
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    NoInput,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    hmac_hex,
    load_sample,
    secret_value,
)
from connectors.slack.schemas import (
    ChannelCreatedOutput,
    NewMessageInput,
    NewMessageOutput,
    ReactionAddedInput,
    ReactionAddedOutput,
    TeamJoinOutput,
)

TOLERANCE_SECONDS = 300
clock: Callable[[], float] = time.time
"""The verifier's clock (a module attribute so tests can pin it to Slack's documented example)."""


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """A trigger's ``verify`` (a scenario's own URL): :func:`verify_signature`."""
    verify_signature(request, credentials)


def verify_signature(request: IncomingRequest, credentials: Mapping[str, Any]) -> None:
    """Check Slack's request signature over the raw body and the timestamp's freshness."""
    secret = secret_value(credentials.get("signing_secret"))
    if not secret:
        raise WebhookVerificationError(
            "The Slack connection has no signing secret: add the Slack app's Signing "
            "Secret to the connection."
        )
    timestamp = request.header("x-slack-request-timestamp") or ""
    signature = request.header("x-slack-signature") or ""
    if not timestamp or not signature:
        raise WebhookVerificationError(
            "Missing X-Slack-Signature or X-Slack-Request-Timestamp header."
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError(
            "X-Slack-Request-Timestamp is not a Unix timestamp."
        ) from None
    if abs(clock() - sent_at) > TOLERANCE_SECONDS:
        raise WebhookVerificationError(
            "The Slack request timestamp is more than 5 minutes off: refused as a possible replay."
        )
    expected = "v0=" + hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + request.body)
    if not constant_time_equals(expected, signature):
        raise WebhookVerificationError(
            "The X-Slack-Signature does not match: wrong signing secret or altered body."
        )


def _challenge_answer(payload: Any) -> tuple[int, Any, dict[str, str]] | None:
    if isinstance(payload, Mapping) and payload.get("type") == "url_verification":
        return 200, {"challenge": payload.get("challenge")}, {}
    return None


def challenge(request: IncomingRequest) -> tuple[int, Any, dict[str, str]] | None:
    """The answer to Slack's ``url_verification`` (sent when a Request URL is saved): the
    challenge echoed back; ``None`` for any other delivery."""
    try:
        return _challenge_answer(request.json())
    except InvalidInputError:
        return None  # not JSON: not a URL check (the triggers' parse reports it)


Select = Callable[[Mapping[str, Any], Any], dict[str, Any] | None]


def _events_parser(event_type: str, select: Select) -> Callable[..., Any]:
    """A ``parse`` for one Slack event type: the challenge reply, or 0/1 event."""

    async def parse(
        request: IncomingRequest, inputs: BaseModel, state: Mapping[str, Any]
    ) -> WebhookReply:
        payload = request.json()
        if not isinstance(payload, Mapping):
            return WebhookReply()
        answer = _challenge_answer(payload)
        if answer is not None:
            return WebhookReply(response=answer)
        event = payload.get("event")
        if (
            payload.get("type") != "event_callback"
            or not isinstance(event, Mapping)
            or event.get("type") != event_type
        ):
            return WebhookReply()  # another event of the same Slack app: acknowledge, run nothing
        fields = select(event, inputs)
        if fields is None:
            return WebhookReply()
        envelope = {
            "team_id": payload.get("team_id"),
            "event_id": payload.get("event_id"),
            "event_time": payload.get("event_time"),
        }
        return WebhookReply(events=[{**fields, **envelope}])

    return parse


def _message(event: Mapping[str, Any], inputs: NewMessageInput) -> dict[str, Any] | None:
    if event.get("channel_type") not in ("channel", "group"):
        return None  # direct messages belong to other events (message.im)
    if inputs.channel and event.get("channel") != inputs.channel:
        return None
    subtype = event.get("subtype")
    is_bot = bool(event.get("bot_id")) or subtype == "bot_message"
    if is_bot and not inputs.include_bot_messages:
        return None
    if subtype and subtype != "bot_message" and not inputs.include_subtypes:
        return None
    thread_ts = event.get("thread_ts")
    if thread_ts and thread_ts != event.get("ts") and not inputs.include_thread_replies:
        return None
    return dict(event)


def _reaction(event: Mapping[str, Any], inputs: ReactionAddedInput) -> dict[str, Any] | None:
    item = dict(event.get("item") or {})
    if inputs.channel and item.get("channel") != inputs.channel:
        return None
    if inputs.reaction and event.get("reaction") != inputs.reaction.strip(":"):
        return None
    return {**event, "item": item, "channel": item.get("channel"), "message_ts": item.get("ts")}


def _channel_created(event: Mapping[str, Any], inputs: Any) -> dict[str, Any]:
    channel = dict(event.get("channel") or {})
    return {
        "channel_id": channel.get("id"),
        "channel_name": channel.get("name"),
        "creator": channel.get("creator"),
        "created": channel.get("created"),
        "channel": channel,
    }


def _team_join(event: Mapping[str, Any], inputs: Any) -> dict[str, Any]:
    user = dict(event.get("user") or {})
    profile = user.get("profile") or {}
    return {
        "user_id": user.get("id"),
        "name": user.get("name"),
        "real_name": user.get("real_name") or profile.get("real_name"),
        "email": profile.get("email"),
        "is_bot": bool(user.get("is_bot")),
        "user": user,
    }


SETUP = (
    " Paste your Slack connection's Events Request URL (on the Connections page, "
    "and shown in this trigger) as the Request URL in your Slack app's Event Subscriptions, "
    "once for all scenarios on that connection, and subscribe the bot event {event}; "
    "put the app's Signing Secret in the Slack connection."
)

CONNECTION_WEBHOOK = ConnectionWebhook(
    verify=verify_signature,
    challenge=challenge,
    label="Events Request URL",
    instructions="paste it in your Slack app's Event Subscriptions (Request URL). "
    "Every enabled scenario with a Slack trigger on this connection gets the events it asks for.",
)
"""One URL per Slack connection: a Slack app has one Request URL for all its events."""

TRIGGERS: tuple[InstantTrigger, ...] = (
    InstantTrigger(
        key="new_message",
        name="New message in channel",
        description="Fires for each new message in a public or private channel the app is in."
        + SETUP.format(event="message.channels (and message.groups)"),
        input=NewMessageInput,
        output=NewMessageOutput,
        sample=load_sample(__file__, "new_message"),
        example={"channel": "C0SANDBOX01"},
        parse=_events_parser("message", _message),
        verify=verify,
        dedupe_key="event_id",
    ),
    InstantTrigger(
        key="reaction_added",
        name="New reaction",
        description="Fires when someone adds an emoji reaction to a message."
        + SETUP.format(event="reaction_added"),
        input=ReactionAddedInput,
        output=ReactionAddedOutput,
        sample=load_sample(__file__, "reaction_added"),
        example={"reaction": "white_check_mark"},
        parse=_events_parser("reaction_added", _reaction),
        verify=verify,
        dedupe_key="event_id",
    ),
    InstantTrigger(
        key="channel_created",
        name="New channel",
        description="Fires when a channel is created." + SETUP.format(event="channel_created"),
        input=NoInput,
        output=ChannelCreatedOutput,
        sample=load_sample(__file__, "channel_created"),
        example={},
        parse=_events_parser("channel_created", _channel_created),
        verify=verify,
        dedupe_key="event_id",
    ),
    InstantTrigger(
        key="team_join",
        name="New user",
        description="Fires when a new member joins the workspace."
        + SETUP.format(event="team_join"),
        input=NoInput,
        output=TeamJoinOutput,
        sample=load_sample(__file__, "team_join"),
        example={},
        parse=_events_parser("team_join", _team_join),
        verify=verify,
        dedupe_key="event_id",
    ),
)
