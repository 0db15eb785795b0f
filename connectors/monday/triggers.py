"""monday.com triggers: board webhooks (instant) and a polling fallback for new items.

Instant triggers create a webhook on the board when the scenario is enabled
(``create_webhook``) and delete it when disabled (``delete_webhook``). monday first
POSTs ``{"challenge": …}`` to the URL, *while* ``create_webhook`` runs, and expects it
echoed: ``parse`` answers that without running anything and without needing state.
Webhooks created with a personal token carry no signature (the hook URL's secret token
is what authenticates them); those created with an app's OAuth token carry a JWT in
``Authorization`` signed (HS256) with the app's signing secret, checked by ``verify``
(https://developer.monday.com/api-reference/docs/webhooks,
https://developer.monday.com/apps/docs/authorization-header).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import OctKey

from connectors.monday import api
from connectors.monday.api import ITEM_FIELDS, board_columns, collect, gql, item_output
from connectors.monday.columns import value_text
from connectors.monday.schemas import (
    BoardInput,
    ColumnChangedEvent,
    ColumnChangedInput,
    Item,
    ItemCreatedEvent,
    NewItemPollInput,
    StatusChangedInput,
    UpdateCreatedEvent,
)
from connectors.sdk import (
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    WebhookReply,
    WebhookVerificationError,
    load_sample,
    secret_value,
)

CREATE_WEBHOOK = """mutation CreateWebhook(
  $board: ID!, $url: String!, $event: WebhookEventType!, $config: JSON
) {
  create_webhook(board_id: $board, url: $url, event: $event, config: $config) { id board_id event }
}"""
DELETE_WEBHOOK = "mutation DeleteWebhook($id: ID!) { delete_webhook(id: $id) { id board_id } }"
NEW_ITEMS = (
    ITEM_FIELDS
    + """query NewItems($board: [ID!], $limit: Int!, $query: ItemsQuery) {
  complexity { before after reset_in_x_seconds }
  boards(ids: $board) {
    items_page(limit: $limit, query_params: $query) { cursor items { ...ItemFields } }
  }
}"""
)
NEWEST_FIRST = {"order_by": [{"column_id": "__creation_log__", "direction": "desc"}]}

Subscription = Callable[[OperationContext, Any], Awaitable[tuple[str, dict[str, Any] | None]]]


# -- subscribing -------------------------------------------------------------------------------


async def _status_labels(ctx: OperationContext, board_id: str, column_id: str) -> dict[str, int]:
    """Label → index of a status column, from its settings."""
    column = next((c for c in await board_columns(ctx, board_id) if c["id"] == column_id), None)
    if column is None or column["type"] != "status":
        raise InvalidInputError(
            f"Board {board_id} has no status column '{column_id}'.",
            errors=[{"field": "column_id", "message": "not a status column of this board"}],
        )
    labels = json.loads(column.get("settings_str") or "{}").get("labels") or {}
    if isinstance(labels, list):  # newer settings: [{"id"|"index", "label"}]
        return {str(v["label"]): int(v.get("index", v.get("id"))) for v in labels}
    return {str(label): int(index) for index, label in labels.items()}


async def _new_item(ctx: OperationContext, inputs: BoardInput) -> tuple[str, dict[str, Any] | None]:
    return "create_item", None


async def _column_changed(
    ctx: OperationContext, inputs: ColumnChangedInput
) -> tuple[str, dict[str, Any] | None]:
    if inputs.column_id:
        return "change_specific_column_value", {"columnId": inputs.column_id}
    return "change_column_value", None


async def _status_changed(
    ctx: OperationContext, inputs: StatusChangedInput
) -> tuple[str, dict[str, Any] | None]:
    labels = await _status_labels(ctx, inputs.board_id, inputs.column_id)
    if not inputs.label:
        return "change_status_column_value", {
            "columnId": inputs.column_id,
            "columnValue": {"$any$": True},
        }
    index = next((i for label, i in labels.items() if label.lower() == inputs.label.lower()), None)
    if index is None:
        raise InvalidInputError(
            f"The status column '{inputs.column_id}' has no label '{inputs.label}'. "
            f"Labels: {', '.join(labels)}.",
            errors=[{"field": "label", "message": "no such label"}],
        )
    return "change_status_column_value", {
        "columnId": inputs.column_id,
        "columnValue": {"index": index},
    }


async def _new_update(
    ctx: OperationContext, inputs: BoardInput
) -> tuple[str, dict[str, Any] | None]:
    return "create_update", None


def _subscriber(event_and_config: Subscription) -> Callable[..., Awaitable[Mapping[str, Any]]]:
    async def subscribe(
        ctx: OperationContext, inputs: BoardInput, webhook_url: str
    ) -> Mapping[str, Any]:
        event, config = await event_and_config(ctx, inputs)
        data = await gql(
            ctx,
            CREATE_WEBHOOK,
            {
                "board": inputs.board_id,
                "url": webhook_url,
                "event": event,
                "config": json.dumps(config) if config is not None else None,
            },
        )
        hook = data.get("create_webhook") or {}
        if not hook.get("id"):
            raise UpstreamError("monday.com did not create the webhook.", body=data)
        return {
            "webhook_id": str(hook["id"]),
            "board_id": inputs.board_id,
            "event": event,
            "webhook_url": webhook_url,
            # Only webhooks created with an app's OAuth token are signed
            # (a personal token has no app).
            "signed": "access_token" in ctx.credentials,
        }

    return subscribe


async def unsubscribe(ctx: OperationContext, inputs: Any, state: Mapping[str, Any]) -> None:
    """Delete the board webhook; one already gone is fine."""
    if not state.get("webhook_id"):
        return
    try:
        await gql(ctx, DELETE_WEBHOOK, {"id": state["webhook_id"]})
    except UpstreamError as error:
        if error.status != 404:
            raise


# -- receiving ---------------------------------------------------------------------------------


def _challenge(body: bytes) -> Any:
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(payload, Mapping) and "challenge" in payload and "event" not in payload:
        return payload["challenge"]
    return None


WEBHOOK_SECRETS = ("signing_secret", "client_secret")
"""Where the key of a signed webhook's JWT comes from: the operator's monday app
(``CELLWRIGHT_OAUTH_CLIENTS__monday__SIGNING_SECRET``, else its ``__CLIENT_SECRET``), which
the engine hands to ``verify`` beside an OAuth connection's token set. monday signs board
webhooks made with an app's token with the app's Signing Secret, and app lifecycle webhooks
with its Client Secret (https://developer.monday.com/apps/docs/authorization-header)."""


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """Check the JWT monday puts in ``Authorization`` for webhooks created with an OAuth app."""
    if not state.get("signed") or _challenge(request.body) is not None:
        return  # unsigned webhook, or the challenge handshake (it runs nothing)
    keys = [
        secret
        for secret in (secret_value(credentials.get(name)) for name in WEBHOOK_SECRETS)
        if secret
    ]
    if not keys:
        raise WebhookVerificationError(
            "The monday.com app's signing secret is not configured: cannot check this webhook. "
            "Set CELLWRIGHT_OAUTH_CLIENTS__monday__SIGNING_SECRET (monday Developer Center → "
            "your app → Basic information)."
        )
    token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
    if not token:
        raise WebhookVerificationError("The monday.com webhook has no Authorization JWT.")
    claims: dict[str, Any] = {"exp": {"essential": True}}
    if state.get("webhook_url"):
        claims["aud"] = {"essential": True, "value": state["webhook_url"]}
    problem: Exception | None = None
    for key in keys:
        try:
            decoded = jwt.decode(token, OctKey.import_key(key), algorithms=["HS256"])
            jwt.JWTClaimsRegistry(**claims).validate(decoded.claims)
            return
        except (JoseError, ValueError) as error:
            if problem is None or not isinstance(error, BadSignatureError):
                problem = error  # a key that matched the signature has the more useful complaint
    raise WebhookVerificationError(f"The monday.com webhook JWT is not valid ({problem}).")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _common(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event_type": event.get("type"),
        "board_id": _text(event.get("boardId")),
        "item_id": _text(event.get("pulseId")),
        "item_name": event.get("pulseName"),
        "group_id": event.get("groupId"),
        "user_id": _text(event.get("userId")),
        "triggered_at": event.get("triggerTime"),
        "trigger_uuid": event.get("triggerUuid"),
        "subscription_id": _text(event.get("subscriptionId")),
    }


Select = Callable[[Mapping[str, Any], Any], dict[str, Any] | None]


def _parser(select: Select) -> Callable[..., Awaitable[WebhookReply]]:
    async def parse(
        request: IncomingRequest, inputs: BoardInput, state: Mapping[str, Any]
    ) -> WebhookReply:
        challenge = _challenge(request.body)
        if challenge is not None:
            return WebhookReply(response=(200, {"challenge": challenge}, {}))
        payload = request.json()
        event = payload.get("event") if isinstance(payload, Mapping) else None
        if not isinstance(event, Mapping) or event.get("pulseId") is None:
            return WebhookReply()
        if str(event.get("boardId")) != inputs.board_id:
            return WebhookReply()  # not this trigger's board
        fields = select(event, inputs)
        return WebhookReply(events=[{**_common(event), **fields}] if fields is not None else [])

    return parse


def _item_created(event: Mapping[str, Any], inputs: Any) -> dict[str, Any]:
    raw = dict(event.get("columnValues") or {})
    return {
        "columns": {key: value_text(value) for key, value in raw.items()},
        "column_values_raw": raw,
    }


def _column_changed_event(event: Mapping[str, Any], inputs: Any) -> dict[str, Any] | None:
    if not event.get("columnId"):
        return None
    if getattr(inputs, "column_id", None) and event["columnId"] != inputs.column_id:
        return None
    value, previous = event.get("value"), event.get("previousValue")
    return {
        "column_id": event["columnId"],
        "column_title": event.get("columnTitle"),
        "column_type": event.get("columnType"),
        "value": value_text(value),
        "previous_value": value_text(previous),
        "value_raw": value,
        "previous_value_raw": previous,
    }


def _status_changed_event(
    event: Mapping[str, Any], inputs: StatusChangedInput
) -> dict[str, Any] | None:
    fields = _column_changed_event(event, inputs)
    if fields is None or (inputs.label and (fields["value"] or "").lower() != inputs.label.lower()):
        return None
    return fields


def _update_created(event: Mapping[str, Any], inputs: Any) -> dict[str, Any] | None:
    if event.get("updateId") is None:
        return None
    return {
        "update_id": str(event["updateId"]),
        "body": event.get("body"),
        "text_body": event.get("textBody"),
    }


# -- polling -----------------------------------------------------------------------------------


async def fetch_new_items(
    ctx: OperationContext, inputs: NewItemPollInput, since: Any
) -> list[Mapping[str, Any]]:
    """The newest items (``items_page`` by creation, then ``next_items_page``), filtered."""
    data = await gql(
        ctx,
        NEW_ITEMS,
        {
            "board": [inputs.board_id],
            "limit": min(api.PAGE_SIZE, inputs.max_items),
            "query": NEWEST_FIRST,
        },
    )
    boards = data.get("boards") or []
    if not boards:
        raise InvalidInputError(
            f"There is no board {inputs.board_id}, or the connection cannot see it.",
            errors=[{"field": "board_id", "message": "board not found"}],
        )
    raw = await collect(ctx, boards[0]["items_page"], data.get("complexity"), inputs.max_items)
    items = [item_output(r) for r in raw]
    if inputs.group_id:
        items = [i for i in items if i["group_id"] == inputs.group_id]
    if inputs.status_label:
        column = inputs.status_column_id or "status"
        items = [
            i
            for i in items
            if (i["columns"].get(column) or "").lower() == inputs.status_label.lower()
        ]
    return list(items)


SETUP = (
    " The webhook is created on the board when the scenario is turned on and removed "
    "when it is turned off."
)


BOARD = {"board_id": "1234567890"}  # the sandbox's demo board, for the examples


def _instant(
    key: str,
    name: str,
    description: str,
    input: Any,
    output: Any,
    subscription: Subscription,
    select: Select,
    example: dict[str, Any] = BOARD,
) -> InstantTrigger:
    return InstantTrigger(
        key=key,
        name=name,
        description=description + SETUP,
        input=input,
        output=output,
        sample=load_sample(__file__, key),
        example=example,
        subscribe=_subscriber(subscription),
        unsubscribe=unsubscribe,
        verify=verify,
        parse=_parser(select),
        dedupe_key="trigger_uuid",
    )


TRIGGERS: tuple[InstantTrigger | PollingTrigger, ...] = (
    _instant(
        "new_item",
        "New item",
        "Fires at once when an item is created on the board.",
        BoardInput,
        ItemCreatedEvent,
        _new_item,
        _item_created,
    ),
    _instant(
        "column_value_changed",
        "Column value changed",
        "Fires when a column value of an item changes (one column, or any).",
        ColumnChangedInput,
        ColumnChangedEvent,
        _column_changed,
        _column_changed_event,
    ),
    _instant(
        "status_changed",
        "Status changed",
        "Fires when an item's status changes, optionally only to one label (e.g. Approved).",
        StatusChangedInput,
        ColumnChangedEvent,
        _status_changed,
        _status_changed_event,
        {**BOARD, "label": "Approved"},
    ),
    _instant(
        "new_update",
        "New update",
        "Fires when someone posts an update (comment) on an item of the board.",
        BoardInput,
        UpdateCreatedEvent,
        _new_update,
        _update_created,
    ),
    PollingTrigger(
        key="new_item_polling",
        name="New item (polling)",
        description="Checks the board for new items every few minutes, optionally only "
        "those with a given status (e.g. Approved). Gives every column by ID and by title. "
        "Use it where webhooks cannot be created.",
        input=NewItemPollInput,
        output=Item,
        sample=load_sample(__file__, "new_item_polling"),
        example={**BOARD, "status_column_id": "status", "status_label": "Approved"},
        fetch=fetch_new_items,
        dedupe_key="id",
    ),
)
