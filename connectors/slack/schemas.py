"""Inputs and outputs of the Slack operations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.sdk.options import dynamic

CHANNEL = "Channel ID (C…, G…) or name (#general). For a direct message give a user ID (U…)."
CHANNELS = dynamic("channels")
"""The field's choices: the channels the app can see (connectors/slack/options.py)."""
TS = "The message's timestamp (ts), e.g. 1503435956.000247: its ID within the channel."


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- messages ------------------------------------------------------------------------


class SendMessageInput(_Input):
    """A message to post as the app's bot user."""

    channel: str = Field(description=CHANNEL, min_length=1, json_schema_extra=CHANNELS)
    text: str | None = Field(
        None,
        description="The message text (Slack mrkdwn). Required unless blocks are given; "
        "with blocks it is the notification fallback.",
    )
    blocks: list[dict[str, Any]] | None = Field(
        None, description="Block Kit blocks, as a JSON list."
    )
    thread_ts: str | None = Field(
        None, description="Reply in the thread of this parent message ts."
    )
    reply_broadcast: bool = Field(
        False, description="With thread_ts: also show the reply in the channel."
    )
    unfurl_links: bool | None = Field(None, description="Show previews of links in the text.")
    unfurl_media: bool | None = Field(None, description="Show previews of media links in the text.")
    mrkdwn: bool = Field(
        True, description="Format the text with Slack mrkdwn (*bold*, _italic_, <url|label>)."
    )

    @model_validator(mode="after")
    def _text_or_blocks(self) -> SendMessageInput:
        if not self.text and not self.blocks:
            raise ValueError("give a text or blocks")
        return self


class UpdateMessageInput(_Input):
    """New content for a message the app posted."""

    channel: str = Field(
        description="Channel ID of the message.", min_length=1, json_schema_extra=CHANNELS
    )
    ts: str = Field(description=TS, min_length=1)
    text: str | None = Field(None, description="The new text. Required unless blocks are given.")
    blocks: list[dict[str, Any]] | None = Field(
        None, description="New Block Kit blocks, as a JSON list."
    )

    @model_validator(mode="after")
    def _text_or_blocks(self) -> UpdateMessageInput:
        if not self.text and not self.blocks:
            raise ValueError("give a text or blocks")
        return self


class MessageRef(_Input):
    """Which message."""

    channel: str = Field(
        description="Channel ID of the message.", min_length=1, json_schema_extra=CHANNELS
    )
    ts: str = Field(description=TS, min_length=1)


class MessageOutput(BaseModel):
    """The posted or edited message."""

    channel: str = Field(description="Channel ID the message is in.")
    ts: str = Field(description=TS)
    text: str = Field(description="The message text as Slack stored it.")
    thread_ts: str | None = Field(
        None, description="Parent message ts when the message is a thread reply."
    )
    message: dict[str, Any] = Field(
        default_factory=dict, description="The full message object Slack returned."
    )


class DeletedMessage(BaseModel):
    """The deleted message's reference."""

    channel: str = Field(description="Channel ID the message was in.")
    ts: str = Field(description="Timestamp of the deleted message.")


class AddReactionInput(_Input):
    """An emoji reaction to add to a message."""

    channel: str = Field(
        description="Channel ID of the message.", min_length=1, json_schema_extra=CHANNELS
    )
    timestamp: str = Field(description=TS, min_length=1)
    name: str = Field(
        description="Emoji name, e.g. thumbsup or white_check_mark (colons are removed).",
        min_length=1,
    )


class ReactionOutput(BaseModel):
    """The reaction that was added."""

    channel: str = Field(description="Channel ID of the message.")
    timestamp: str = Field(description="Timestamp of the message.")
    name: str = Field(description="Emoji name that was added.")


# -- channels and users ----------------------------------------------------------------

ChannelType = Literal["public_channel", "private_channel", "mpim", "im"]


def _public() -> list[ChannelType]:
    return ["public_channel"]


def _channels() -> list[ChannelType]:
    return ["public_channel", "private_channel"]


class Channel(BaseModel):
    """A Slack conversation."""

    id: str = Field(description="Channel ID.")
    name: str | None = Field(
        None, description="Channel name without '#' (none for direct messages)."
    )
    is_private: bool = Field(False, description="True for private channels.")
    is_archived: bool = Field(False, description="True when the channel is archived.")
    is_member: bool | None = Field(
        None, description="True when the app's bot user is in the channel."
    )
    num_members: int | None = Field(None, description="Number of members, when Slack reports it.")
    topic: str = Field("", description="The channel topic.")
    purpose: str = Field("", description="The channel purpose.")
    created: int | None = Field(None, description="Creation time, Unix seconds.")


class ListChannelsInput(_Input):
    """Which channels to list."""

    types: list[ChannelType] = Field(
        default_factory=_public,
        description="Kinds of conversations: public_channel, private_channel "
        "(needs an invitation), mpim, im.",
        min_length=1,
    )
    exclude_archived: bool = Field(True, description="Leave archived channels out.")
    limit: int = Field(
        200, ge=1, le=2000, description="Return at most this many channels (pages are followed)."
    )


class ChannelList(BaseModel):
    """Channels found."""

    channels: list[Channel] = Field(description="The channels, in Slack's order.")
    count: int = Field(description="How many channels were returned.")


class FindChannelInput(_Input):
    """A channel to look up by name."""

    name: str = Field(description="Channel name, with or without '#', e.g. general.", min_length=1)
    types: list[ChannelType] = Field(
        default_factory=_channels,
        description="Kinds of conversations to search.",
        min_length=1,
    )
    include_archived: bool = Field(False, description="Also match archived channels.")


class FindChannelOutput(BaseModel):
    """The channel, if one has that name."""

    found: bool = Field(
        description="True when a channel with that name exists (and the app can see it)."
    )
    channel: Channel | None = Field(None, description="The channel, when found.")


class FindUserInput(_Input):
    """A user to look up: by e-mail address or by ID."""

    email: str | None = Field(
        None, description="The user's e-mail address (needs the users:read.email scope)."
    )
    user_id: str | None = Field(None, description="The user's ID (U… or W…).")

    @model_validator(mode="after")
    def _one_key(self) -> FindUserInput:
        if bool(self.email) == bool(self.user_id):
            raise ValueError("give either email or user_id")
        return self


class User(BaseModel):
    """A member of the workspace."""

    id: str = Field(description="User ID.")
    name: str = Field(description="User name (handle).")
    real_name: str | None = Field(None, description="Full name.")
    display_name: str | None = Field(None, description="Display name shown in Slack.")
    email: str | None = Field(None, description="E-mail address, when the app may read it.")
    is_bot: bool = Field(False, description="True for bot users.")
    deleted: bool = Field(False, description="True for deactivated users.")
    tz: str | None = Field(None, description="Time zone, e.g. Europe/Paris.")
    team_id: str | None = Field(None, description="Workspace ID.")


class FindUserOutput(BaseModel):
    """The user, if found."""

    found: bool = Field(description="True when the user exists.")
    user: User | None = Field(None, description="The user, when found.")


# -- files -----------------------------------------------------------------------------


class UploadFileInput(_Input):
    """A file to upload and (optionally) share in a channel."""

    filename: str = Field(
        description="File name including its extension, e.g. report.csv.", min_length=1
    )
    content: str | None = Field(None, description="The file's content as text (UTF-8).")
    content_base64: str | None = Field(
        None, description="The file's content as base64, for binary files."
    )
    channel_id: str | None = Field(
        None,
        description="Share the file in this channel (ID). Without it the file stays private.",
        json_schema_extra=CHANNELS,
    )
    title: str | None = Field(None, description="Title shown in Slack; defaults to the file name.")
    initial_comment: str | None = Field(None, description="Message text posted with the file.")
    thread_ts: str | None = Field(
        None, description="Share the file as a reply in this thread (needs channel_id)."
    )
    alt_txt: str | None = Field(None, description="Description of an image for screen readers.")
    snippet_type: str | None = Field(
        None, description="Syntax type for a text snippet, e.g. python."
    )

    @model_validator(mode="after")
    def _one_content(self) -> UploadFileInput:
        if (self.content is None) == (self.content_base64 is None):
            raise ValueError("give either content or content_base64")
        if self.thread_ts and not self.channel_id:
            raise ValueError("thread_ts needs channel_id")
        return self


class UploadedFile(BaseModel):
    """The uploaded file."""

    file_id: str = Field(description="Slack file ID (F…).")
    title: str = Field(description="File title.")
    channel_id: str | None = Field(None, description="Channel the file was shared in, if any.")
    size: int = Field(description="Size in bytes.")


# -- triggers --------------------------------------------------------------------------


class EventEnvelope(BaseModel):
    """Fields of Slack's event wrapper every Slack trigger output carries."""

    model_config = ConfigDict(extra="allow")
    team_id: str = Field(description="Workspace ID the event happened in.")
    event_id: str = Field(
        description="Unique event ID (Slack retries keep it: use it to spot duplicates)."
    )
    event_time: int = Field(description="When Slack dispatched the event, Unix seconds.")


class NewMessageInput(_Input):
    """Which channel messages start the scenario."""

    channel: str | None = Field(
        None,
        description="Only messages in this channel ID; all channels when empty.",
        json_schema_extra=CHANNELS,
    )
    include_bot_messages: bool = Field(
        False, description="Also fire for messages posted by bots and apps."
    )
    include_subtypes: bool = Field(
        False, description="Also fire for edits, deletions, joins and other message subtypes."
    )
    include_thread_replies: bool = Field(True, description="Also fire for replies in threads.")


class NewMessageOutput(EventEnvelope):
    """A new message (the Slack message event, plus the wrapper's IDs)."""

    channel: str = Field(description="Channel ID.")
    user: str | None = Field(None, description="Author's user ID (absent for some bot messages).")
    text: str = Field("", description="Message text.")
    ts: str = Field(description=TS)
    thread_ts: str | None = Field(
        None, description="Parent message ts when this is a thread reply."
    )
    subtype: str | None = Field(
        None,
        description="Message subtype (bot_message, message_changed…), none for plain messages.",
    )
    bot_id: str | None = Field(None, description="Bot ID when a bot posted it.")
    channel_type: str | None = Field(None, description="channel (public) or group (private).")


class ReactionAddedInput(_Input):
    """Which reactions start the scenario."""

    channel: str | None = Field(
        None,
        description="Only reactions on messages in this channel ID.",
        json_schema_extra=CHANNELS,
    )
    reaction: str | None = Field(
        None, description="Only this emoji name, e.g. white_check_mark (without colons)."
    )


class ReactionAddedOutput(EventEnvelope):
    """A reaction added to a message."""

    user: str = Field(description="ID of the user who reacted.")
    reaction: str = Field(description="Emoji name.")
    item_user: str | None = Field(None, description="ID of the user who wrote the message.")
    item: dict[str, Any] = Field(description="The reacted item: type, channel, ts.")
    channel: str | None = Field(None, description="Channel of the reacted message.")
    message_ts: str | None = Field(None, description="ts of the reacted message.")
    event_ts: str = Field(description="When the reaction was added (Slack ts).")


class ChannelCreatedOutput(EventEnvelope):
    """A new channel."""

    channel_id: str = Field(description="The new channel's ID.")
    channel_name: str = Field(description="The new channel's name.")
    creator: str | None = Field(None, description="ID of the user who created it.")
    created: int | None = Field(None, description="Creation time, Unix seconds.")
    channel: dict[str, Any] = Field(description="The channel object Slack sent.")


class TeamJoinOutput(EventEnvelope):
    """A new member of the workspace."""

    user_id: str = Field(description="The new user's ID.")
    name: str | None = Field(None, description="User name (handle).")
    real_name: str | None = Field(None, description="Full name.")
    email: str | None = Field(None, description="E-mail address, when the app may read it.")
    is_bot: bool = Field(False, description="True for bot users.")
    user: dict[str, Any] = Field(description="The user object Slack sent.")
