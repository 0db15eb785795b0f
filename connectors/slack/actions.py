"""Slack actions: one async function per operation, Web API methods via ``call``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from typing import Any

from connectors.sdk import Action, InvalidInputError, OperationContext, UpstreamError, load_sample
from connectors.slack.api import call, next_cursor, slack_error_code
from connectors.slack.schemas import (
    AddReactionInput,
    Channel,
    ChannelList,
    DeletedMessage,
    FindChannelInput,
    FindChannelOutput,
    FindUserInput,
    FindUserOutput,
    ListChannelsInput,
    MessageOutput,
    MessageRef,
    ReactionOutput,
    SendMessageInput,
    UpdateMessageInput,
    UploadedFile,
    UploadFileInput,
    User,
)

PAGE_SIZE = 200  # Slack recommends no more than 200 per page for conversations.list


def _message(data: Mapping[str, Any], channel: str) -> MessageOutput:
    message = dict(data.get("message") or {})
    return MessageOutput(
        channel=str(data.get("channel") or channel),
        ts=str(data.get("ts") or message.get("ts")),
        text=str(message.get("text") or data.get("text") or ""),
        thread_ts=message.get("thread_ts"),
        message=message,
    )


async def send_message(ctx: OperationContext, inputs: SendMessageInput) -> MessageOutput:
    """Post a message to a channel, a DM or a thread (``chat.postMessage``)."""
    data = await call(ctx, "chat.postMessage", inputs.model_dump(exclude_none=True))
    return _message(data, inputs.channel)


async def update_message(ctx: OperationContext, inputs: UpdateMessageInput) -> MessageOutput:
    """Replace the text or blocks of a message the app posted (``chat.update``)."""
    data = await call(ctx, "chat.update", inputs.model_dump(exclude_none=True))
    return _message(data, inputs.channel)


async def delete_message(ctx: OperationContext, inputs: MessageRef) -> DeletedMessage:
    """Delete a message the app posted (``chat.delete``)."""
    data = await call(ctx, "chat.delete", {"channel": inputs.channel, "ts": inputs.ts})
    return DeletedMessage(
        channel=str(data.get("channel") or inputs.channel), ts=str(data.get("ts") or inputs.ts)
    )


async def add_reaction(ctx: OperationContext, inputs: AddReactionInput) -> ReactionOutput:
    """Add an emoji reaction to a message (``reactions.add``)."""
    name = inputs.name.strip().strip(":")
    await call(
        ctx,
        "reactions.add",
        {"channel": inputs.channel, "timestamp": inputs.timestamp, "name": name},
    )
    return ReactionOutput(channel=inputs.channel, timestamp=inputs.timestamp, name=name)


def _channel(raw: Mapping[str, Any]) -> Channel:
    return Channel(
        id=raw["id"],
        name=raw.get("name"),
        is_private=bool(raw.get("is_private")),
        is_archived=bool(raw.get("is_archived")),
        is_member=raw.get("is_member"),
        num_members=raw.get("num_members"),
        topic=str((raw.get("topic") or {}).get("value") or ""),
        purpose=str((raw.get("purpose") or {}).get("value") or ""),
        created=raw.get("created"),
    )


async def conversations(
    ctx: OperationContext, types: list[str], exclude_archived: bool
) -> AsyncIterator[Mapping[str, Any]]:
    """Every conversation, following ``conversations.list`` cursors."""
    cursor: str | None = None
    while True:
        page = await call(
            ctx,
            "conversations.list",
            {
                "types": ",".join(types),
                "exclude_archived": exclude_archived,
                "limit": PAGE_SIZE,
                "cursor": cursor,
            },
            http_method="GET",
        )
        for raw in page.get("channels") or []:
            yield raw
        cursor = next_cursor(page)
        if cursor is None:
            return


async def list_channels(ctx: OperationContext, inputs: ListChannelsInput) -> ChannelList:
    """List channels (``conversations.list``, every page up to ``limit``)."""
    channels: list[Channel] = []
    async for raw in conversations(ctx, list(inputs.types), inputs.exclude_archived):
        channels.append(_channel(raw))
        if len(channels) >= inputs.limit:
            break
    return ChannelList(channels=channels, count=len(channels))


async def find_channel(ctx: OperationContext, inputs: FindChannelInput) -> FindChannelOutput:
    """Find a channel by name (``conversations.list``, stops at the first match)."""
    wanted = inputs.name.strip().lstrip("#").lower()
    async for raw in conversations(ctx, list(inputs.types), not inputs.include_archived):
        if str(raw.get("name") or "").lower() == wanted:
            return FindChannelOutput(found=True, channel=_channel(raw))
    return FindChannelOutput(found=False, channel=None)


def _user(raw: Mapping[str, Any]) -> User:
    profile = raw.get("profile") or {}
    return User(
        id=raw["id"],
        name=raw.get("name") or "",
        real_name=raw.get("real_name") or profile.get("real_name"),
        display_name=profile.get("display_name"),
        email=profile.get("email"),
        is_bot=bool(raw.get("is_bot")),
        deleted=bool(raw.get("deleted")),
        tz=raw.get("tz"),
        team_id=raw.get("team_id"),
    )


async def find_user(ctx: OperationContext, inputs: FindUserInput) -> FindUserOutput:
    """Find a user by e-mail (``users.lookupByEmail``) or ID (``users.info``)."""
    params: dict[str, Any]
    if inputs.email:
        method, params = "users.lookupByEmail", {"email": inputs.email.strip()}
    else:
        method, params = "users.info", {"user": inputs.user_id}
    try:
        data = await call(ctx, method, params, http_method="GET")
    except UpstreamError as error:
        if slack_error_code(error) in {"users_not_found", "user_not_found"}:
            return FindUserOutput(found=False, user=None)
        raise
    return FindUserOutput(found=True, user=_user(data["user"]))


def _file_bytes(inputs: UploadFileInput) -> bytes:
    if inputs.content is not None:
        return inputs.content.encode("utf-8")
    try:
        return base64.b64decode(inputs.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "content_base64 is not valid base64.",
            errors=[{"field": "content_base64", "message": "not valid base64"}],
        ) from None


async def upload_file(ctx: OperationContext, inputs: UploadFileInput) -> UploadedFile:
    """Upload a file and share it: ``files.getUploadURLExternal`` → POST the bytes →
    ``files.completeUploadExternal`` (Slack's current upload flow; ``files.upload`` is retired).
    """
    content = _file_bytes(inputs)
    if not content:
        raise InvalidInputError(
            "The file is empty: Slack refuses empty uploads.",
            errors=[{"field": "content", "message": "empty"}],
        )
    ticket = await call(
        ctx,
        "files.getUploadURLExternal",
        {
            "filename": inputs.filename,
            "length": len(content),
            "alt_txt": inputs.alt_txt,
            "snippet_type": inputs.snippet_type,
        },
    )
    # The upload URL is pre-authorised: like slack_sdk, send it no token (it is not Slack's
    # Web API, and the bot token has no business leaving for it).
    await ctx.http.request(
        "POST",
        str(ticket["upload_url"]),
        content=content,
        headers={"Content-Type": "application/octet-stream"},
        auth=None,
    )
    title = inputs.title or inputs.filename
    done = await call(
        ctx,
        "files.completeUploadExternal",
        {
            "files": [{"id": ticket["file_id"], "title": title}],
            "channel_id": inputs.channel_id,
            "initial_comment": inputs.initial_comment,
            "thread_ts": inputs.thread_ts,
        },
    )
    file = (done.get("files") or [{}])[0]
    return UploadedFile(
        file_id=str(file.get("id") or ticket["file_id"]),
        title=str(file.get("title") or title),
        channel_id=inputs.channel_id,
        size=len(content),
    )


ACTIONS: tuple[Action, ...] = (
    Action(
        key="send_message",
        name="Send message",
        description="Post a message to a channel, a direct message or a thread.",
        input=SendMessageInput,
        output=MessageOutput,
        sample=load_sample(__file__, "send_message"),
        example={"channel": "C0SANDBOX01", "text": "Hello from Cellwright"},
        perform=send_message,
    ),
    Action(
        key="update_message",
        name="Update message",
        description="Change the text or blocks of a message the app posted.",
        input=UpdateMessageInput,
        output=MessageOutput,
        sample=load_sample(__file__, "update_message"),
        example={
            "channel": "C0SANDBOX01",
            "ts": "1700000000.000200",
            "text": "Deploy finished (edited)",
        },
        perform=update_message,
        idempotent=True,
    ),
    Action(
        key="delete_message",
        name="Delete message",
        description="Delete a message the app posted.",
        input=MessageRef,
        output=DeletedMessage,
        sample=load_sample(__file__, "delete_message"),
        example={"channel": "C0SANDBOX01", "ts": "1700000000.000200"},
        perform=delete_message,
    ),
    Action(
        key="add_reaction",
        name="Add reaction",
        description="Add an emoji reaction to a message.",
        input=AddReactionInput,
        output=ReactionOutput,
        sample=load_sample(__file__, "add_reaction"),
        example={"channel": "C0SANDBOX01", "timestamp": "1700000000.000200", "name": "tada"},
        perform=add_reaction,
    ),
    Action(
        key="list_channels",
        name="List channels",
        description="List the workspace's channels.",
        input=ListChannelsInput,
        output=ChannelList,
        sample=load_sample(__file__, "list_channels"),
        example={"limit": 10},
        perform=list_channels,
        idempotent=True,
    ),
    Action(
        key="find_channel",
        name="Find channel",
        description="Find a channel by its name.",
        input=FindChannelInput,
        output=FindChannelOutput,
        sample=load_sample(__file__, "find_channel"),
        example={"name": "random"},
        perform=find_channel,
        idempotent=True,
    ),
    Action(
        key="find_user",
        name="Find user",
        description="Find a workspace member by e-mail address or user ID.",
        input=FindUserInput,
        output=FindUserOutput,
        sample=load_sample(__file__, "find_user"),
        example={"email": "ada@example.com"},
        perform=find_user,
        idempotent=True,
    ),
    Action(
        key="upload_file",
        name="Upload file",
        description="Upload a file and optionally share it in a channel or thread.",
        input=UploadFileInput,
        output=UploadedFile,
        sample=load_sample(__file__, "upload_file"),
        example={"filename": "hello.txt", "content": "Hello", "channel_id": "C0SANDBOX01"},
        perform=upload_file,
    ),
)
