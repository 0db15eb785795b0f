"""The sandbox's CRM object routes: create, update, search, batch read and upsert, and
default associations, each following the HubSpot page it cites (see ``sandbox.py``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request

from connectors.hubspot.sandbox_portal import (
    ASSOCIATION_TYPES,
    DATES,
    DEFAULT_PROPERTIES,
    OPTIONS,
    PIPELINES,
    REQUIRED,
    WRITABLE,
    HubSpotError,
    Portal,
    Rec,
    as_ms,
    iso,
    validation_error,
)


def _kind(request: Request) -> str:
    kind = str(request.path_params["object_type"])
    if kind not in WRITABLE:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kind}")
    return kind


def _clean(kind: str, props: Any, *, creating: bool) -> dict[str, str]:
    if not isinstance(props, Mapping):
        raise HubSpotError(
            400, "VALIDATION_ERROR", "Invalid input JSON: 'properties' must be an object"
        )
    out: dict[str, str] = {}
    for name, value in props.items():
        if name not in WRITABLE[kind]:
            raise validation_error(
                f'Property values were not valid: Property "{name}" does not exist', name
            )
        text = "" if value is None else str(value)
        allowed = OPTIONS.get(name)
        if allowed and text and text not in allowed:
            raise validation_error(
                f"Property values were not valid: {text} was not one of "
                f'the allowed options for "{name}"',
                name,
                "INVALID_OPTION",
            )
        if name in DATES and text and as_ms(text) is None:
            raise validation_error(
                f'Property values were not valid: "{text}" is not a valid date for "{name}"',
                name,
                "INVALID_DATE",
            )
        out[name] = text
    for name in REQUIRED.get(kind, ()) if creating else ():
        if not out.get(name):
            raise validation_error(
                f'Property values were not valid: the required property "{name}" is missing',
                name,
                "REQUIRED_PROPERTY",
            )
    if kind == "deals" and "dealstage" in out:
        pipeline = next((p for p in PIPELINES if p["id"] == out.get("pipeline", "default")), None)
        if pipeline is None or out["dealstage"] not in {sid for sid, _ in pipeline["stages"]}:
            raise validation_error(
                f"Property values were not valid: {out['dealstage']} is not a stage "
                f"of pipeline {out.get('pipeline', 'default')}",
                "dealstage",
                "INVALID_OPTION",
            )
    return out


def _links(portal: Portal, kind: str, wanted: Any) -> list[tuple[str, str]]:
    """The (type, id) records a create names in ``associations``,
    checked before anything is stored."""
    links: list[tuple[str, str]] = []
    for link in wanted or []:
        target_id = str((link.get("to") or {}).get("id"))
        for spec in link.get("types") or []:
            target_kind = next(
                (
                    to
                    for (frm, to), tid in ASSOCIATION_TYPES.items()
                    if frm == kind and tid == spec.get("associationTypeId")
                ),
                None,
            )
            if spec.get("associationCategory") != "HUBSPOT_DEFINED" or target_kind is None:
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    f"{spec.get('associationTypeId')} is not a valid association type from {kind}",
                )
            if target_id not in portal.kind(target_kind):
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    f"One or more associations are invalid: {target_kind} {target_id} "
                    "does not exist",
                )
            links.append((target_kind, target_id))
    return links


async def create_record(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType} (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/guide)."""
    kind = _kind(request)
    props = _clean(kind, body.get("properties", {}), creating=True)
    if kind == "contacts" and props.get("email"):
        existing = portal.by_email(props["email"])
        if existing is not None:
            raise HubSpotError(
                409, "CONFLICT", f"Contact already exists. Existing ID: {existing.id}"
            )
    links = _links(portal, kind, body.get("associations"))
    record = portal.create(kind, props)
    for target_kind, target_id in links:
        portal.associations |= {
            (kind, record.id, target_kind, target_id),
            (target_kind, target_id, kind, record.id),
        }
    return 201, record.json(sorted({*props, *DEFAULT_PROPERTIES.get(kind, ())}))


async def update_record(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """PATCH /crm/objects/2026-03/{objectType}/{objectId}[?idProperty=email]."""
    kind = _kind(request)
    key = unquote(str(request.path_params["record_id"]))
    if request.query_params.get("idProperty") == "email" and kind == "contacts":
        found = portal.by_email(key)
        if found is None:
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"resource not found: no contact with email {key}"
            )
        record = found
    else:
        record = portal.get(kind, key)
    props = _clean(kind, body.get("properties", {}), creating=False)
    portal.change(record, props)
    return record.json(sorted({*props, *DEFAULT_PROPERTIES.get(kind, ())}))


def _matches(record: Rec, flt: Mapping[str, Any]) -> bool:
    name, op = str(flt.get("propertyName")), str(flt.get("operator", "EQ"))
    have = record.value(name)
    if op == "HAS_PROPERTY":
        return have not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if op == "IN":
        return have is not None and have.lower() in {
            str(v).lower() for v in flt.get("values") or []
        }
    if have is None:
        return op == "NEQ"
    want: Any = flt.get("value")
    left: Any
    right: Any
    if name in DATES or name == "hs_object_id" or name == "amount":
        left, right = (as_ms(have), as_ms(want)) if name in DATES else (float(have), float(want))
    else:
        left, right = have.lower(), str(want).lower()
    if left is None or right is None:
        return False
    checks = {
        "EQ": left == right,
        "NEQ": left != right,
        "GT": left > right,
        "GTE": left >= right,
        "LT": left < right,
        "LTE": left <= right,
    }
    if op not in checks:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Unsupported operator: {op}")
    return checks[op]


def _sort_key(name: str, record: Rec) -> Any:
    if name in DATES:
        return as_ms(record.value(name)) or 0
    if name == "hs_object_id":
        return int(record.id)
    return record.value(name) or ""


async def search_records(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType}/search (https://developers.hubspot.com/docs/api-reference/latest/crm/search/guide):
    at most 5 filter groups and 25 filters, 200 results a page, ``after`` cursors."""
    kind = _kind(request)
    groups = body.get("filterGroups") or []
    if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            "Too many filters: at most 5 filterGroups and 25 filters in total",
        )
    limit = int(body.get("limit", 10))
    if not 1 <= limit <= 200:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            "limit must be between 1 and 200",
            errors=[{"message": "limit out of range", "in": "limit"}],
        )
    found = [
        r
        for r in portal.kind(kind).values()
        if not groups or any(all(_matches(r, f) for f in g.get("filters") or []) for g in groups)
    ]
    for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id"}]):
        name = sort.get("propertyName") if isinstance(sort, Mapping) else str(sort).lstrip("-")
        descending = (
            sort.get("direction") == "DESCENDING"
            if isinstance(sort, Mapping)
            else str(sort).startswith("-")
        )
        found.sort(key=functools.partial(_sort_key, str(name)), reverse=descending)
    after = str(body.get("after") or "0")
    offset = int(after.lstrip("e") or 0)
    if portal.empty_pages and not after.startswith("e") and offset < len(found):
        return {"total": len(found), "results": [], "paging": {"next": {"after": f"e{offset}"}}}
    size = min(limit, portal.page_size or limit)
    page = found[offset : offset + size]
    answer: dict[str, Any] = {
        "total": len(found),
        "results": [r.json(body.get("properties")) for r in page],
    }
    if offset + size < len(found):
        answer["paging"] = {"next": {"after": str(offset + size)}}
    return answer


async def batch_read(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType}/batch/read, with ``propertiesWithHistory``."""
    kind = _kind(request)
    results = []
    for item in body.get("inputs") or []:
        record = portal.kind(kind).get(str(item.get("id")))
        if record is None:
            continue
        data = record.json(body.get("properties"))
        wanted = body.get("propertiesWithHistory") or []
        if wanted:
            data["propertiesWithHistory"] = {
                name: [
                    {"value": v, "timestamp": iso(at), "sourceType": src}
                    for v, at, src in reversed(record.history.get(name, []))
                ]
                for name in wanted
            }
        results.append(data)
    return {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(portal.now()),
        "completedAt": iso(portal.now()),
    }


async def batch_upsert(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/contacts/batch/upsert with ``idProperty: email``
    (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide#create-or-update-contacts)."""
    kind = _kind(request)
    results = []
    for item in body.get("inputs") or []:
        if item.get("idProperty") != "email" or kind != "contacts":
            raise HubSpotError(
                400, "VALIDATION_ERROR", "idProperty must be a unique property (email for contacts)"
            )
        email = str(item.get("id") or "")
        props = _clean(kind, {**(item.get("properties") or {}), "email": email}, creating=False)
        existing = portal.by_email(email)
        record = portal.change(existing, props) if existing else portal.create(kind, props)
        results.append(
            {**record.json(sorted({*props, *DEFAULT_PROPERTIES[kind]})), "new": existing is None}
        )
    return {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(portal.now()),
        "completedAt": iso(portal.now()),
    }


async def associate_default(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """``PUT /crm/objects/2026-03/{fromObjectType}/{fromObjectId}/associations/default/``
    ``{toObjectType}/{toObjectId}``
    (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide#associate-records-without-a-label)."""
    p = request.path_params
    frm, to = str(p["object_type"]), str(p["to_type"])
    portal.get(frm, str(p["record_id"]))
    portal.get(to, str(p["to_id"]))
    if (frm, to) not in ASSOCIATION_TYPES:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"No default association between {frm} and {to}"
        )
    portal.associations |= {
        (frm, str(p["record_id"]), to, str(p["to_id"])),
        (to, str(p["to_id"]), frm, str(p["record_id"])),
    }
    results = [
        {
            "from": {"id": a},
            "to": {"id": b},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": ASSOCIATION_TYPES[(x, y)],
            },
        }
        for x, a, y, b in (
            (frm, p["record_id"], to, p["to_id"]),
            (to, p["to_id"], frm, p["record_id"]),
        )
    ]
    return {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(portal.now()),
        "completedAt": iso(portal.now()),
    }
