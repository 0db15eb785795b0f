"""Inputs and outputs of the Mailchimp operations.

Outputs name the fields people map most and allow the rest (``extra="allow"``). The
stored description's member schema was lost in its OpenAPI conversion (every member
answer is typed as the member *collection*), so members follow Mailchimp's reference:
https://mailchimp.com/developer/marketing/api/list-members/get-member-info/.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from connectors.sdk.options import dynamic

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


EmailStr = Annotated[str, AfterValidator(_email)]


def _split_tags(value: Any) -> Any:
    """One text (a picked tag, a mapped value) is a comma-separated list of tags."""
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return value


Tags = Annotated[list[str], BeforeValidator(_split_tags)]
Status = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
LIST_ID = "The audience (list) ID: Audience → Settings → Audience name and defaults → Audience ID."
MERGE_FIELDS = (
    'Merge fields by tag, e.g. {"FNAME": "Ada", "LNAME": "Lovelace"} (the tags are '
    "in Audience → Settings → Audience fields)."
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Output(BaseModel):
    model_config = ConfigDict(extra="allow")


def _list_id() -> Any:
    return Field(description=LIST_ID, min_length=1, json_schema_extra=dynamic("audiences"))


def _tags(description: str) -> Any:
    return Field(description=description, min_length=1, json_schema_extra=dynamic("tags"))


# -- objects -----------------------------------------------------------------------------------


class MemberTag(_Output):
    id: int = Field(description="The tag's id.")
    name: str = Field(description="The tag's name.")


class Member(_Output):
    """A contact in an audience."""

    id: str = Field(description="The member's id: the MD5 hash of the lower-cased e-mail address.")
    email_address: str = Field(description="E-mail address.")
    unique_email_id: str | None = Field(
        None, description="An id for the address across all audiences."
    )
    contact_id: str | None = Field(None, description="The contact's id.")
    full_name: str | None = Field(None, description="The contact's name.")
    status: str = Field(
        description="subscribed, unsubscribed, cleaned, pending, transactional or archived."
    )
    merge_fields: dict[str, Any] = Field(
        default_factory=dict, description="Merge fields by tag (FNAME, LNAME…)."
    )
    list_id: str = Field(description="The audience's ID.")
    timestamp_opt: str | None = Field(
        None, description="When the contact confirmed the subscription (ISO 8601)."
    )
    last_changed: str | None = Field(
        None, description="When the member was last changed (ISO 8601)."
    )
    tags: list[MemberTag] = Field(default_factory=list, description="The member's tags.")
    vip: bool = Field(False, description="VIP status.")
    language: str | None = Field(None, description="The contact's language.")


class SubscriberEvent(_Output):
    """One audience webhook delivery, decoded from its form fields."""

    type: str = Field(description="subscribe, unsubscribe, profile, upemail, cleaned or campaign.")
    fired_at: str = Field(description="When Mailchimp sent it (YYYY-MM-DD HH:MM:SS, UTC).")
    id: str | None = Field(None, description="The member's id (data[id]).")
    email: str | None = Field(
        None, description="The member's e-mail address (for upemail: the new one)."
    )
    old_email: str | None = Field(None, description="The previous e-mail address (upemail only).")
    email_type: str | None = Field(None, description="html or text.")
    list_id: str = Field(description="The audience's ID.")
    merges: dict[str, Any] = Field(
        default_factory=dict,
        description="Merge fields by tag, as Mailchimp sent them (FNAME, LNAME, INTERESTS…).",
    )
    ip_opt: str | None = Field(None, description="The IP address the contact confirmed from.")
    ip_signup: str | None = Field(None, description="The IP address the contact signed up from.")
    reason: str | None = Field(
        None, description="Why (unsubscribe: manual or abuse; cleaned: hard or abuse)."
    )
    action: str | None = Field(None, description="unsubscribe only: unsub or delete.")
    campaign_id: str | None = Field(
        None, description="The campaign the contact unsubscribed from, if any."
    )
    web_id: str | None = Field(None, description="The member's web id.")
    event_key: str = Field(
        description="An id of this delivery (type, member, time): a repeated delivery "
        "starts no second run."
    )


class Campaign(_Output):
    """An e-mail campaign."""

    id: str = Field(description="The campaign's id.")
    web_id: int | None = Field(
        None, description="The id in Mailchimp's web app (…/campaigns/edit?id=<web_id>)."
    )
    type: str = Field(description="regular, plaintext, absplit, rss or variate.")
    status: str = Field(description="save, paused, schedule, sending or sent.")
    create_time: str | None = Field(None, description="When it was created (ISO 8601).")
    send_time: str | None = Field(
        None, description="When it was sent (ISO 8601; empty until sent)."
    )
    emails_sent: int | None = Field(None, description="How many e-mails were sent.")
    archive_url: str | None = Field(None, description="The public archive link.")
    recipients: dict[str, Any] = Field(
        default_factory=dict, description="Who receives it (list_id, list_name, recipient_count…)."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="subject_line, title, from_name, reply_to, template_id…"
    )


class Note(_Output):
    """A note on a member."""

    id: int = Field(description="The note's id.")
    note: str = Field(description="The text.")
    created_at: str | None = Field(None, description="When it was written (ISO 8601).")
    list_id: str | None = Field(None, description="The audience's ID.")
    email_id: str | None = Field(None, description="The member's id.")


# -- inputs ------------------------------------------------------------------------------------


class SubscriberInput(_Input):
    list_id: str = _list_id()
    email: EmailStr = Field(description="The subscriber's e-mail address.")


class AddOrUpdateSubscriberInput(SubscriberInput):
    status_if_new: Status = Field(
        "subscribed",
        description="The status of a contact who is not in the audience yet ('pending' sends "
        "a confirmation e-mail).",
    )
    status: Status | None = Field(
        None, description="Also change an existing member's status (leave empty to keep it)."
    )
    merge_fields: dict[str, Any] = Field(default_factory=dict, description=MERGE_FIELDS)
    tags: Tags = Field(
        default_factory=list,
        description="Tags to add to the member (created if new); existing tags stay.",
        json_schema_extra=dynamic("tags"),
    )
    language: str | None = Field(
        None, description="The contact's language code, e.g. 'en' or 'fr'."
    )
    vip: bool | None = Field(None, description="Mark the contact as a VIP.")


class AddSubscriberInput(SubscriberInput):
    status: Status = Field(
        "subscribed", description="The new member's status ('pending' sends a confirmation e-mail)."
    )
    merge_fields: dict[str, Any] = Field(default_factory=dict, description=MERGE_FIELDS)
    tags: Tags = Field(
        default_factory=list,
        description="Tags for the new member.",
        json_schema_extra=dynamic("tags"),
    )


class TagsInput(SubscriberInput):
    tags: Tags = _tags("Tag names (a list, or one text with commas).")


class TagsOutput(_Output):
    email: str = Field(description="The member's e-mail address.")
    subscriber_hash: str = Field(description="The member's id (MD5 of the lower-cased address).")
    tags: list[str] = Field(description="The tags added or removed.")


class UnsubscribeInput(SubscriberInput):
    pass


class AddNoteInput(SubscriberInput):
    note: str = Field(
        description="The note's text (up to 1,000 characters).", min_length=1, max_length=1000
    )


class FindSubscriberInput(_Input):
    email: EmailStr = Field(description="The e-mail address to look for (exact match).")
    list_id: str | None = Field(
        None,
        description="Only in this audience (leave empty to look in all).",
        json_schema_extra=dynamic("audiences"),
    )


class FindSubscriberOutput(_Output):
    found: bool = Field(description="Whether a member with this address exists.")
    member: Member | None = Field(
        None, description="The first match (the one in the given audience, if any)."
    )
    count: int = Field(0, description="In how many audiences the address is.")


class CreateCampaignInput(_Input):
    list_id: str = _list_id()
    subject_line: str = Field(description="The e-mail's subject.", min_length=1, max_length=150)
    from_name: str = Field(description="The sender's name shown to recipients.", min_length=1)
    reply_to: EmailStr = Field(description="The reply-to address (a verified domain in Mailchimp).")
    title: str | None = Field(
        None, description="The campaign's name inside Mailchimp (default: the subject)."
    )
    preview_text: str | None = Field(
        None, description="The snippet shown after the subject in most inboxes."
    )
    html: str | None = Field(None, description="The e-mail's HTML (or use a template).")
    plain_text: str | None = Field(
        None, description="A plain-text version (Mailchimp makes one from the HTML otherwise)."
    )
    template_id: int | None = Field(
        None,
        description="A saved template to use instead of HTML.",
        json_schema_extra=dynamic("templates"),
    )
    send_now: bool = Field(
        False, description="Send it at once (otherwise it stays a draft to check in Mailchimp)."
    )

    @model_validator(mode="after")
    def _content(self) -> CreateCampaignInput:
        if (self.html is None) == (self.template_id is None):
            raise ValueError("give the content as html or as template_id (one of them)")
        return self


class SendCampaignInput(_Input):
    campaign_id: str = Field(
        description="The campaign to send now (a draft that is ready).", min_length=1
    )


class SendCampaignOutput(_Output):
    campaign_id: str = Field(description="The campaign's id.")
    status: str = Field(description="Its status after the send request (sending or sent).")


class AudienceInput(_Input):
    list_id: str = _list_id()
