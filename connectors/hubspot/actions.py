"""HubSpot actions (VENDORS.md §5.3): contacts, deals, tasks, notes, associations.

Records are written through the CRM objects API (``/crm/objects/2026-03/{objectType}``,
https://developers.hubspot.com/docs/api-reference/latest/crm/objects/guide). A new deal,
task or note is associated with the records the user names in the same request
(``associations`` with HubSpot-defined type IDs, listed in ``ASSOCIATION_TYPES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from connectors.hubspot import schemas as s
from connectors.hubspot.api import objects, properties, search
from connectors.sdk import (
    Action,
    ActionFactory,
    InvalidInputError,
    OperationContext,
    UpstreamError,
)

ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("deals", "contacts"): 3,
    ("deals", "companies"): 341,
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("tasks", "deals"): 216,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
}
"""HUBSPOT_DEFINED association type IDs (from → to), from HubSpot's table:
https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide#association-type-id-values"""

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "jobtitle",
    "lifecyclestage",
    "createdate",
    "lastmodifieddate",
)


def iso(moment: datetime | date) -> str:
    """A HubSpot datetime value: ISO 8601 in UTC with milliseconds (naive times are UTC)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0), tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def associations(from_type: str, targets: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """The ``associations`` of a create request: one per named record."""
    return [
        {
            "to": {"id": record_id},
            "types": [
                {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ASSOCIATION_TYPES[(from_type, to_type)],
                }
            ],
        }
        for to_type, record_id in targets.items()
        if record_id
    ]


async def _create(
    ctx: OperationContext,
    object_type: str,
    props: dict[str, str],
    targets: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"properties": props}
    linked = associations(object_type, targets or {})
    if linked:
        body["associations"] = linked
    record: dict[str, Any] = await ctx.http.post(objects(object_type), json=body)
    return record


def _linked(targets: Mapping[str, str | None]) -> list[str]:
    return [f"{kind}:{record_id}" for kind, record_id in targets.items() if record_id]


# -- contacts ------------------------------------------------------------------------------


async def create_contact_perform(ctx: OperationContext, inputs: s.CreateContactInput) -> s.Contact:
    props = properties({"email": inputs.email, **inputs.contact_properties()}, inputs.properties)
    return s.Contact.of(await _create(ctx, "contacts", props))  # type: ignore[no-any-return]


async def update_contact_perform(ctx: OperationContext, inputs: s.UpdateContactInput) -> s.Contact:
    props = properties({"email": inputs.email, **inputs.contact_properties()}, inputs.properties)
    if not props:
        raise InvalidInputError(
            "Nothing to change: give at least one property.",
            errors=[{"field": "properties", "message": "no property given"}],
        )
    if "@" in inputs.contact_id:  # addressed by e-mail (idProperty=email)
        record = await ctx.http.patch(
            objects("contacts", quote(inputs.contact_id, safe="@")),
            params={"idProperty": "email"},
            json={"properties": props},
        )
    else:
        record = await ctx.http.patch(
            objects("contacts", inputs.contact_id), json={"properties": props}
        )
    return s.Contact.of(record)  # type: ignore[no-any-return]


async def upsert_contact_perform(
    ctx: OperationContext, inputs: s.UpsertContactInput
) -> s.UpsertedContact:
    """``POST …/contacts/batch/upsert`` with ``idProperty: email``: one call, no race
    between looking up and creating (a plain create answers 409 for a known e-mail)."""
    props = properties({"email": inputs.email, **inputs.contact_properties()}, inputs.properties)
    answer = await ctx.http.post(
        objects("contacts", "batch", "upsert"),
        json={"inputs": [{"id": inputs.email, "idProperty": "email", "properties": props}]},
    )
    results = answer.get("results") or []
    if not results:  # 207 multi-status: the one input failed
        errors = answer.get("errors") or [{}]
        raise UpstreamError(
            "HubSpot did not create "
            f"or update {inputs.email}: {errors[0].get('message', 'no result')}",
            body=answer,
        )
    record = results[0]
    return s.UpsertedContact.of(record, created=bool(record.get("new", False)))  # type: ignore[no-any-return]


async def find_contact_perform(
    ctx: OperationContext, inputs: s.FindContactInput
) -> s.FindContactOutput:
    found = await search(
        ctx,
        "contacts",
        {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": inputs.email}]}
            ],
            "properties": list(dict.fromkeys([*CONTACT_PROPERTIES, *inputs.properties])),
            "limit": 1,
        },
        max_pages=1,
    )
    if not found:
        return s.FindContactOutput(found=False, contact=None)
    return s.FindContactOutput(found=True, contact=s.Contact.of(found[0]))


# -- deals, tasks, notes, associations -----------------------------------------------------


async def create_deal_perform(ctx: OperationContext, inputs: s.CreateDealInput) -> s.Deal:
    named = {
        "dealname": inputs.dealname,
        "pipeline": inputs.pipeline,
        "dealstage": inputs.dealstage,
        "amount": inputs.amount,
        "closedate": iso(inputs.closedate) if inputs.closedate else None,
        "hubspot_owner_id": inputs.owner_id,
    }
    record = await _create(
        ctx,
        "deals",
        properties(named, inputs.properties),
        {"contacts": inputs.contact_id, "companies": inputs.company_id},
    )
    return s.Deal.of(record)  # type: ignore[no-any-return]


async def create_task_perform(ctx: OperationContext, inputs: s.CreateTaskInput) -> s.Task:
    named = {
        "hs_task_subject": inputs.subject,
        "hs_task_body": inputs.body,
        "hs_timestamp": iso(inputs.due_at or datetime.now(UTC)),
        "hs_task_status": inputs.status,
        "hs_task_priority": inputs.priority,
        "hs_task_type": inputs.task_type,
        "hubspot_owner_id": inputs.owner_id,
    }
    targets = {
        "contacts": inputs.contact_id,
        "deals": inputs.deal_id,
        "companies": inputs.company_id,
    }
    record = await _create(ctx, "tasks", properties(named), targets)
    return s.Task.of(record, associated=_linked(targets))  # type: ignore[no-any-return]


async def create_note_perform(ctx: OperationContext, inputs: s.CreateNoteInput) -> s.Note:
    named = {
        "hs_note_body": inputs.body,
        "hs_timestamp": iso(inputs.timestamp or datetime.now(UTC)),
        "hubspot_owner_id": inputs.owner_id,
    }
    targets = {
        "contacts": inputs.contact_id,
        "deals": inputs.deal_id,
        "companies": inputs.company_id,
    }
    record = await _create(ctx, "notes", properties(named), targets)
    return s.Note.of(record, associated=_linked(targets))  # type: ignore[no-any-return]


async def associate_perform(ctx: OperationContext, inputs: s.AssociateInput) -> s.Association:
    """``PUT …/{fromType}/{fromId}/associations/default/{toType}/{toId}``: the default
    (unlabeled) association, whichever the two types are."""
    path = objects(
        inputs.from_object_type,
        inputs.from_id,
        "associations",
        "default",
        inputs.to_object_type,
        inputs.to_id,
    )
    answer = await ctx.http.put(path)
    types = [
        s.AssociationType(
            category=str(spec.get("associationCategory")),
            type_id=int(spec.get("associationTypeId", 0)),
        )
        for result in (answer or {}).get("results") or []
        for spec in [result.get("associationSpec") or {}]
    ]
    return s.Association(
        from_object_type=inputs.from_object_type,
        from_id=inputs.from_id,
        to_object_type=inputs.to_object_type,
        to_id=inputs.to_id,
        types=types,
    )


_action = ActionFactory(__file__)


ACTIONS: tuple[Action, ...] = (
    _action(
        "create_or_update_contact",
        "Create or update contact",
        "Updates the contact with this e-mail address, or creates it "
        "when there is none (upsert by e-mail). The output says which happened.",
        s.UpsertContactInput,
        s.UpsertedContact,
        upsert_contact_perform,
        {
            "email": "ada@example.com",
            "properties": {
                "firstname": "Ada",
                "lastname": "Lovelace",
                "company": "Analytical Engines",
            },
        },
        idempotent=True,
    ),
    _action(
        "create_contact",
        "Create contact",
        "Creates a contact. Fails when a contact already has the e-mail address "
        "(use Create or update contact for that).",
        s.CreateContactInput,
        s.Contact,
        create_contact_perform,
        {
            "email": "grace@example.com",
            "firstname": "Grace",
            "lastname": "Hopper",
            "lifecyclestage": "lead",
        },
    ),
    _action(
        "update_contact",
        "Update contact",
        "Changes a contact's properties; the contact is named by its ID or its e-mail address.",
        s.UpdateContactInput,
        s.Contact,
        update_contact_perform,
        {"contact_id": "1001", "lifecyclestage": "customer"},
        idempotent=True,
    ),
    _action(
        "find_contact",
        "Find contact by e-mail",
        "Finds the contact with an e-mail address (exact match).",
        s.FindContactInput,
        s.FindContactOutput,
        find_contact_perform,
        {"email": "ada@example.com"},
        idempotent=True,
    ),
    _action(
        "create_deal",
        "Create deal",
        "Creates a deal in a pipeline stage, optionally associated with a contact and a company.",
        s.CreateDealInput,
        s.Deal,
        create_deal_perform,
        {
            "dealname": "Ada's order",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
            "amount": 1200,
            "contact_id": "1001",
        },
    ),
    _action(
        "create_task",
        "Create task",
        "Creates a task (a to-do for a sales rep), optionally associated with a contact, a deal "
        "and a company.",
        s.CreateTaskInput,
        s.Task,
        create_task_perform,
        {"subject": "Call Ada", "priority": "HIGH", "task_type": "CALL", "contact_id": "1001"},
    ),
    _action(
        "create_note",
        "Create note",
        "Adds a note to a contact's, deal's or company's timeline.",
        s.CreateNoteInput,
        s.Note,
        create_note_perform,
        {"body": "Met Ada at the fair; interested in the Pro plan.", "contact_id": "1001"},
    ),
    _action(
        "associate_records",
        "Associate records",
        "Associates two records (e.g. a deal with a contact) with HubSpot's default association.",
        s.AssociateInput,
        s.Association,
        associate_perform,
        {
            "from_object_type": "deals",
            "from_id": "2001",
            "to_object_type": "contacts",
            "to_id": "1002",
        },
        idempotent=True,
    ),
)
