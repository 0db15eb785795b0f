"""HubSpot triggers: polling the CRM search API (works with any token), and instant
webhook events (``events.py``, for those who run a HubSpot app with webhooks).

Polling asks ``POST /crm/objects/2026-03/{objectType}/search`` for records created (or
modified) since the cursor, oldest first, following ``paging.next.after``
(https://developers.hubspot.com/docs/api-reference/latest/crm/search/guide). Search
filters compare dates in milliseconds. The first poll only records where things stand
(the engine fires nothing on it).

Property changes are read from HubSpot's property history: the records modified since
the cursor are read again with ``propertiesWithHistory`` (``…/batch/read``), and each
history entry newer than the cursor is one change — so two changes between polls are two
runs, and a change of another property fires nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.hubspot import events
from connectors.hubspot import schemas as s
from connectors.hubspot.api import PAGE_LIMIT, objects, search
from connectors.sdk import NoInput, OperationContext, PollingTrigger, Trigger, load_sample

CONTACT_FIELDS = [
    "email",
    "firstname",
    "lastname",
    "lifecyclestage",
    "createdate",
    "lastmodifieddate",
]
DEAL_FIELDS = [
    "dealname",
    "amount",
    "pipeline",
    "dealstage",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
]
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
"""The last-modified property search filters on (contacts keep the older name)."""


def ms(moment: str) -> str:
    """An ISO 8601 time as the milliseconds string search filters take."""
    return str(int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000))


async def _since(
    ctx: OperationContext,
    kind: str,
    date_property: str,
    since: str | None,
    filters: list[dict[str, Any]],
    fields: list[str],
) -> list[dict[str, Any]]:
    """Records whose ``date_property`` is at or after ``since``, oldest first; without a
    cursor (the first poll) the newest page only."""
    if since is None:
        body: dict[str, Any] = {
            "sorts": [{"propertyName": date_property, "direction": "DESCENDING"}],
            "properties": fields,
        }
        if filters:
            body["filterGroups"] = [{"filters": filters}]
        return await search(ctx, kind, body, max_pages=1)
    after = {"propertyName": date_property, "operator": "GTE", "value": ms(since)}
    body = {
        "filterGroups": [{"filters": [*filters, after]}],
        "sorts": [{"propertyName": date_property, "direction": "ASCENDING"}],
        "properties": fields,
    }
    return await search(ctx, kind, body)


def _equals(name: str, value: str | None) -> list[dict[str, Any]]:
    return [{"propertyName": name, "operator": "EQ", "value": value}] if value else []


async def new_contacts(
    ctx: OperationContext, inputs: NoInput, since: str | None
) -> list[dict[str, Any]]:
    found = await _since(ctx, "contacts", "createdate", since, [], CONTACT_FIELDS)
    return [s.Contact.of(r).model_dump() for r in found]


async def new_deals(
    ctx: OperationContext, inputs: s.NewDealInput, since: str | None
) -> list[dict[str, Any]]:
    found = await _since(
        ctx, "deals", "createdate", since, _equals("pipeline", inputs.pipeline), DEAL_FIELDS
    )
    return [s.Deal.of(r).model_dump() for r in found]


Change = tuple[dict[str, Any], dict[str, Any], str | None]
"""(record, history entry, previous value)."""


async def _changes(
    ctx: OperationContext,
    kind: str,
    name: str,
    since: str | None,
    filters: list[dict[str, Any]],
    fields: list[str],
) -> list[Change]:
    """Changes of property ``name`` at or after ``since`` (first poll: each record's latest)."""
    records = await _since(ctx, kind, MODIFIED[kind], since, filters, fields)
    changes: list[Change] = []
    for start in range(0, len(records), PAGE_LIMIT):
        chunk = records[start : start + PAGE_LIMIT]
        read = await ctx.http.post(
            objects(kind, "batch", "read"),
            json={
                "inputs": [{"id": r["id"]} for r in chunk],
                "properties": fields,
                "propertiesWithHistory": [name],
            },
        )
        for record in read.get("results") or []:
            history = list(
                (record.get("propertiesWithHistory") or {}).get(name) or []
            )  # newest first
            for index, entry in enumerate(history[:1] if since is None else history):
                if since is not None and ms(str(entry["timestamp"])) < ms(since):
                    break
                previous = history[index + 1].get("value") if index + 1 < len(history) else None
                changes.append((record, entry, previous))
    return changes


async def contact_property_changes(
    ctx: OperationContext, inputs: s.PropertyChangedInput, since: str | None
) -> list[dict[str, Any]]:
    fields = list(dict.fromkeys([*CONTACT_FIELDS, inputs.property]))
    found = []
    for record, entry, previous in await _changes(
        ctx, "contacts", inputs.property, since, [], fields
    ):
        if inputs.value is not None and entry.get("value") != inputs.value:
            continue
        props = record.get("properties") or {}
        found.append(
            s.PropertyChange(
                change_id=f"{record['id']}:{entry['timestamp']}",
                contact_id=str(record["id"]),
                property=inputs.property,
                value=entry.get("value"),
                previous_value=previous,
                changed_at=str(entry["timestamp"]),
                source_type=entry.get("sourceType"),
                email=props.get("email"),
                firstname=props.get("firstname"),
                lastname=props.get("lastname"),
            ).model_dump()
        )
    return found


async def deal_stage_changes(
    ctx: OperationContext, inputs: s.DealStageChangedInput, since: str | None
) -> list[dict[str, Any]]:
    found = []
    for record, entry, previous in await _changes(
        ctx, "deals", "dealstage", since, _equals("pipeline", inputs.pipeline), DEAL_FIELDS
    ):
        if inputs.stage is not None and entry.get("value") != inputs.stage:
            continue
        props = record.get("properties") or {}
        found.append(
            s.DealStageChange(
                change_id=f"{record['id']}:{entry['timestamp']}",
                deal_id=str(record["id"]),
                dealname=props.get("dealname"),
                pipeline=props.get("pipeline"),
                stage=entry.get("value"),
                previous_stage=previous,
                amount=props.get("amount"),
                changed_at=str(entry["timestamp"]),
                source_type=entry.get("sourceType"),
            ).model_dump()
        )
    return found


def _polling(
    key: str,
    name: str,
    description: str,
    input: Any,
    output: Any,
    fetch: Any,
    cursor: str,
    dedupe: str,
    example: Mapping[str, Any],
) -> PollingTrigger:
    return PollingTrigger(
        key=key,
        name=name,
        description=description + " Checks HubSpot every five minutes.",
        input=input,
        output=output,
        sample=load_sample(__file__, key),
        example=example,
        fetch=fetch,
        dedupe_key=dedupe,
        cursor_field=cursor,
    )


POLLING: tuple[PollingTrigger, ...] = (
    _polling(
        "new_contact",
        "New contact",
        "Fires for each new contact.",
        NoInput,
        s.Contact,
        new_contacts,
        "created_at",
        "id",
        {},
    ),
    _polling(
        "contact_property_changed",
        "Contact property changed",
        "Fires when a contact property (e.g. the lifecycle stage) gets a "
        "new value, once per change.",
        s.PropertyChangedInput,
        s.PropertyChange,
        contact_property_changes,
        "changed_at",
        "change_id",
        {"property": "lifecyclestage"},
    ),
    _polling(
        "new_deal",
        "New deal",
        "Fires for each new deal, optionally of one pipeline.",
        s.NewDealInput,
        s.Deal,
        new_deals,
        "created_at",
        "id",
        {},
    ),
    _polling(
        "deal_stage_changed",
        "Deal stage changed",
        "Fires when a deal moves to another stage, optionally only into one stage.",
        s.DealStageChangedInput,
        s.DealStageChange,
        deal_stage_changes,
        "changed_at",
        "change_id",
        {"pipeline": "default"},
    ),
)

TRIGGERS: tuple[Trigger, ...] = (*POLLING, *events.INSTANT)
