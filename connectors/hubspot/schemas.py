"""HubSpot inputs and outputs. Field names follow HubSpot's internal property names
(``firstname``, ``dealstage``, ``hs_task_subject``…) where the user maps to them directly;
record IDs are HubSpot's numeric strings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.sdk import dynamic

ObjectType = Literal["contacts", "companies", "deals", "tickets", "notes", "tasks"]
PropertyValue = str | int | float | bool | None
RECORD_ID = r"^\d{1,20}$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _id_field(what: str) -> Any:
    return Field(
        None,
        pattern=RECORD_ID,
        examples=["1001"],
        description=f"Optional: the {what}'s record ID (digits) to associate the new record with.",
    )


def _owner() -> Any:
    return Field(
        None,
        pattern=RECORD_ID,
        description="Owner ID (a HubSpot user) to assign.",
        json_schema_extra=dynamic("owners"),
    )


def _extra() -> Any:
    return Field(
        None,
        description='Further properties by internal name (e.g. {"hs_lead_status": "NEW"}); '
        "values are sent as text.",
    )


# -- outputs -------------------------------------------------------------------------------


class Record(BaseModel):
    """A CRM record as HubSpot returns it."""

    id: str = Field(description="Record ID.")
    properties: dict[str, str | None] = Field(
        default_factory=dict,
        description="The record's properties by internal name (values as text).",
    )
    created_at: str | None = Field(None, description="When the record was created (ISO 8601).")
    updated_at: str | None = Field(None, description="When the record last changed (ISO 8601).")
    archived: bool = Field(False, description="True when the record is in the recycle bin.")

    @classmethod
    def of(cls, record: dict[str, Any], **extra: Any) -> Any:
        """From HubSpot's ``{id, properties, createdAt, updatedAt, archived}``."""
        props = dict(record.get("properties") or {})
        named = {name: props.get(name) for name in cls.model_fields if name in props}
        return cls(
            id=str(record["id"]),
            properties=props,
            created_at=record.get("createdAt"),
            updated_at=record.get("updatedAt"),
            archived=bool(record.get("archived", False)),
            **{**named, **extra},
        )


class Contact(Record):
    """A contact."""

    email: str | None = Field(None, description="Primary e-mail address.")
    firstname: str | None = Field(None, description="First name.")
    lastname: str | None = Field(None, description="Last name.")


class UpsertedContact(Contact):
    """A contact created or updated by e-mail."""

    created: bool = Field(
        description="True when no contact had this e-mail and one was created; "
        "false when it was updated."
    )


class Deal(Record):
    """A deal."""

    dealname: str | None = Field(None, description="Deal name.")
    amount: str | None = Field(None, description="Amount (as text, in the portal's currency).")
    pipeline: str | None = Field(None, description="Pipeline ID.")
    dealstage: str | None = Field(None, description="Deal stage ID.")
    closedate: str | None = Field(None, description="Close date (ISO 8601).")


class Task(Record):
    """A task."""

    hs_task_subject: str | None = Field(None, description="Subject.")
    hs_task_status: str | None = Field(
        None, description="Status (NOT_STARTED, IN_PROGRESS, WAITING, COMPLETED, DEFERRED)."
    )
    hs_task_priority: str | None = Field(None, description="Priority (LOW, MEDIUM, HIGH).")
    hs_timestamp: str | None = Field(None, description="Due date and time (ISO 8601).")
    associated: list[str] = Field(
        default_factory=list,
        description="Records it was associated with on creation, as 'type:id'.",
    )


class Note(Record):
    """A note."""

    hs_note_body: str | None = Field(None, description="The note's text (HTML allowed).")
    hs_timestamp: str | None = Field(None, description="When the note is dated (ISO 8601).")
    associated: list[str] = Field(
        default_factory=list,
        description="Records it was associated with on creation, as 'type:id'.",
    )


class AssociationType(BaseModel):
    """One association label between two records."""

    category: str = Field(description="HUBSPOT_DEFINED, USER_DEFINED or INTEGRATOR_DEFINED.")
    type_id: int = Field(description="Association type ID.")


class Association(BaseModel):
    """Two records now associated."""

    from_object_type: str = Field(description="Type of the first record.")
    from_id: str = Field(description="ID of the first record.")
    to_object_type: str = Field(description="Type of the second record.")
    to_id: str = Field(description="ID of the second record.")
    types: list[AssociationType] = Field(
        default_factory=list, description="The association types HubSpot set (both directions)."
    )


class FindContactOutput(BaseModel):
    """The contact found, if any."""

    found: bool = Field(description="True when a contact has this e-mail address.")
    contact: Contact | None = Field(None, description="The contact with this e-mail.")


class PropertyChange(BaseModel):
    """A contact's property got a new value."""

    change_id: str = Field(
        description="Identifies this change: contact ID and the change's timestamp."
    )
    contact_id: str = Field(description="Contact ID.")
    property: str = Field(description="The property that changed (internal name).")
    value: str | None = Field(None, description="The new value.")
    previous_value: str | None = Field(
        None, description="The value before, when HubSpot's history has it."
    )
    changed_at: str = Field(description="When it changed (ISO 8601).")
    source_type: str | None = Field(None, description="What changed it (CRM_UI, API, WORKFLOWS…).")
    email: str | None = Field(None, description="The contact's e-mail.")
    firstname: str | None = Field(None, description="The contact's first name.")
    lastname: str | None = Field(None, description="The contact's last name.")


class DealStageChange(BaseModel):
    """A deal moved to another stage."""

    change_id: str = Field(
        description="Identifies this change: deal ID and the change's timestamp."
    )
    deal_id: str = Field(description="Deal ID.")
    dealname: str | None = Field(None, description="Deal name.")
    pipeline: str | None = Field(None, description="Pipeline ID.")
    stage: str | None = Field(None, description="The new stage ID.")
    previous_stage: str | None = Field(
        None, description="The stage before, when HubSpot's history has it."
    )
    amount: str | None = Field(None, description="Amount (as text).")
    changed_at: str = Field(description="When it moved (ISO 8601).")
    source_type: str | None = Field(None, description="What moved it (CRM_UI, API, WORKFLOWS…).")


class WebhookEvent(BaseModel):
    """One event of a HubSpot webhook delivery."""

    event_id: str = Field(description="HubSpot's event ID (not unique on its own).")
    key: str = Field(
        description="Identifies the event across HubSpot's retries: portal, subscription, "
        "event ID, record and time."
    )
    subscription_type: str = Field(description="e.g. contact.creation, deal.propertyChange.")
    portal_id: int | None = Field(
        None, description="The HubSpot account (portal) the event happened in."
    )
    app_id: int | None = Field(None, description="The HubSpot app that received it.")
    object_id: str = Field(description="ID of the record the event is about.")
    occurred_at: str | None = Field(None, description="When it happened (ISO 8601).")
    property_name: str | None = Field(None, description="For property changes: the property.")
    property_value: str | None = Field(None, description="For property changes: the new value.")
    change_source: str | None = Field(None, description="What made the change (CRM_UI, API, …).")
    attempt_number: int = Field(
        0, description="0 for the first delivery; higher for HubSpot's retries."
    )


# -- action inputs --------------------------------------------------------------------------


class _ContactProperties(_Input):
    firstname: str | None = Field(None, max_length=1000, description="First name.")
    lastname: str | None = Field(None, max_length=1000, description="Last name.")
    phone: str | None = Field(None, max_length=100, description="Phone number.")
    company: str | None = Field(
        None,
        max_length=1000,
        description="Company name (the contact's text property, not an association).",
    )
    jobtitle: str | None = Field(None, max_length=1000, description="Job title.")
    website: str | None = Field(None, max_length=1000, description="Website URL.")
    lifecyclestage: str | None = Field(
        None,
        description="Lifecycle stage ID: subscriber, lead, marketingqualifiedlead, "
        "salesqualifiedlead, opportunity, customer, evangelist, other (or a custom stage's ID).",
    )
    owner_id: str | None = _owner()
    properties: dict[str, PropertyValue] | None = _extra()

    def contact_properties(self) -> dict[str, Any]:
        named = self.model_dump(exclude={"properties", "owner_id", "contact_id"}, exclude_none=True)
        if self.owner_id:
            named["hubspot_owner_id"] = self.owner_id
        return named


class CreateContactInput(_ContactProperties):
    email: str | None = Field(
        None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="E-mail address (unique per contact).",
        examples=["grace@example.com"],
    )

    @model_validator(mode="after")
    def _something(self) -> CreateContactInput:
        if not (self.email or self.firstname or self.lastname or self.properties):
            raise ValueError("give at least an email, a firstname or a lastname")
        return self


class UpdateContactInput(_ContactProperties):
    contact_id: str = Field(
        description="The contact to change: its record ID, or its e-mail address (contains @).",
        examples=["1001", "ada@example.com"],
    )
    email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", description="A new e-mail address."
    )

    @field_validator("contact_id")
    @classmethod
    def _id_or_email(cls, value: str) -> str:
        value = value.strip()
        if "@" not in value and not value.isdigit():
            raise ValueError("give the contact's record ID (digits) or its e-mail address")
        return value


class UpsertContactInput(_ContactProperties):
    email: str = Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="E-mail address: the contact with it is updated, or created.",
        examples=["ada@example.com"],
    )


class FindContactInput(_Input):
    email: str = Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="E-mail address to look for (exact match).",
        examples=["ada@example.com"],
    )
    properties: list[str] = Field(
        default_factory=list,
        description="Further properties to return by internal name (e.g. phone, lifecyclestage).",
    )


class CreateDealInput(_Input):
    dealname: str = Field(
        min_length=1, max_length=1000, description="Deal name.", examples=["Ada's order"]
    )
    pipeline: str = Field(
        "default", description="Pipeline ID.", json_schema_extra=dynamic("pipelines")
    )
    dealstage: str = Field(
        description="Deal stage ID (of that pipeline).",
        examples=["appointmentscheduled"],
        json_schema_extra=dynamic("deal_stages"),
    )
    amount: float | None = Field(None, ge=0, description="Amount in the portal's currency.")
    closedate: date | datetime | None = Field(None, description="Expected close date.")
    owner_id: str | None = _owner()
    contact_id: str | None = _id_field("contact")
    company_id: str | None = _id_field("company")
    properties: dict[str, PropertyValue] | None = _extra()


class CreateTaskInput(_Input):
    subject: str = Field(
        min_length=1, max_length=1000, description="The task's title.", examples=["Call Ada"]
    )
    body: str | None = Field(None, max_length=65536, description="Notes for the task.")
    due_at: datetime | None = Field(None, description="Due date and time; default: now.")
    status: Literal["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"] = Field(
        "NOT_STARTED", description="Status."
    )
    priority: Literal["NONE", "LOW", "MEDIUM", "HIGH"] | None = Field(None, description="Priority.")
    task_type: Literal["CALL", "EMAIL", "TODO"] = Field("TODO", description="Kind of task.")
    owner_id: str | None = _owner()
    contact_id: str | None = _id_field("contact")
    deal_id: str | None = _id_field("deal")
    company_id: str | None = _id_field("company")


class CreateNoteInput(_Input):
    body: str = Field(
        min_length=1,
        max_length=65536,
        description="The note's text (HTML allowed).",
        examples=["Met at the fair."],
    )
    timestamp: datetime | None = Field(
        None, description="When the note is dated (its place on the timeline); default: now."
    )
    owner_id: str | None = _owner()
    contact_id: str | None = _id_field("contact")
    deal_id: str | None = _id_field("deal")
    company_id: str | None = _id_field("company")

    @model_validator(mode="after")
    def _on_a_record(self) -> CreateNoteInput:
        if not (self.contact_id or self.deal_id or self.company_id):
            raise ValueError("give contact_id, deal_id or company_id: a note belongs on a record")
        return self


class AssociateInput(_Input):
    from_object_type: ObjectType = Field(description="Type of the first record.")
    from_id: str = Field(pattern=RECORD_ID, description="ID of the first record.")
    to_object_type: ObjectType = Field(description="Type of the second record.")
    to_id: str = Field(pattern=RECORD_ID, description="ID of the second record.")


# -- trigger inputs -------------------------------------------------------------------------


class NewDealInput(_Input):
    pipeline: str | None = Field(
        None,
        description="Only deals in this pipeline (ID); empty: all.",
        json_schema_extra=dynamic("pipelines"),
    )


class PropertyChangedInput(_Input):
    property: str = Field(
        "lifecyclestage",
        min_length=1,
        description="The contact property to watch (internal name).",
        examples=["lifecyclestage"],
    )
    value: str | None = Field(
        None, description="Only when it changes to this value; empty: any change."
    )


class DealStageChangedInput(_Input):
    pipeline: str | None = Field(
        None,
        description="Only deals in this pipeline (ID); empty: all.",
        json_schema_extra=dynamic("pipelines"),
    )
    stage: str | None = Field(
        None,
        description="Only when a deal enters this stage (ID); empty: any stage.",
        json_schema_extra=dynamic("deal_stages"),
    )


class InstantPropertyChangedInput(_Input):
    property: str = Field(
        min_length=1,
        description="The contact property to watch (internal name); your HubSpot app needs "
        "a contact.propertyChange subscription for it.",
        examples=["lifecyclestage"],
    )
    value: str | None = Field(
        None, description="Only when it changes to this value; empty: any change."
    )


class InstantDealStageChangedInput(_Input):
    stage: str | None = Field(
        None,
        description="Only when a deal enters this stage (ID); empty: any stage.",
        examples=["closedwon"],
    )
