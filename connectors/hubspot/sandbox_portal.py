"""The sandbox portal's state: records with their property history, tokens, limits, the
app's webhook subscriptions and pending events (see ``sandbox.py``)."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot.auth import SANDBOX_TOKEN

VERSIONS = ("2026-03",)
PORTAL_ID = 24681357
APP_ID = 1234567
CLIENT_ID = "sandbox-hubspot-client-id"
DEVELOPER_KEY = "sandbox-developer-hapikey"
READ_ONLY_TOKEN = "pat-na1-5a7d0000-0000-4000-8000-0000000read0"  # noqa: S105 - sandbox demo token
WINDOW_SECONDS = 10.0
ACCESS_TOKEN_SECONDS = 1800

READ = (
    "crm.objects.contacts.read",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
    "crm.objects.owners.read",
)
ALL_SCOPES = (
    *READ,
    "crm.objects.contacts.write",
    "crm.objects.companies.write",
    "crm.objects.deals.write",
    "oauth",
)
SCOPE_OF = {
    "contacts": "contacts",
    "companies": "companies",
    "deals": "deals",
    "notes": "contacts",
    "tasks": "contacts",
}
"""Whose scope an object type needs (notes and tasks: the contacts scopes, as
HubSpot's engagement docs list)."""

# Properties a write may set
# (https://knowledge.hubspot.com/properties/hubspots-default-contact-properties and
# the objects' API guides: https://developers.hubspot.com/docs/api-reference/latest/crm/objects/{contacts,deals,tasks,notes}/guide).
WRITABLE = {
    "contacts": {
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "website",
        "lifecyclestage",
        "hubspot_owner_id",
        "hs_lead_status",
        "city",
        "country",
    },
    "companies": {"name", "domain", "industry", "phone", "city", "country", "hubspot_owner_id"},
    "deals": {
        "dealname",
        "pipeline",
        "dealstage",
        "amount",
        "closedate",
        "hubspot_owner_id",
        "dealtype",
        "description",
    },
    "tasks": {
        "hs_task_subject",
        "hs_task_body",
        "hs_timestamp",
        "hs_task_status",
        "hs_task_priority",
        "hs_task_type",
        "hubspot_owner_id",
    },
    "notes": {"hs_note_body", "hs_timestamp", "hubspot_owner_id"},
}
OPTIONS = {
    "lifecyclestage": {
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    },
    "hs_task_status": {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"},
    "hs_task_priority": {"NONE", "LOW", "MEDIUM", "HIGH"},
    "hs_task_type": {"CALL", "EMAIL", "TODO"},
}
REQUIRED = {
    "deals": ("dealname", "dealstage"),
    "tasks": ("hs_timestamp",),
    "notes": ("hs_timestamp",),
}
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
DATES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate", "hs_timestamp"}
ASSOCIATION_TYPES = {
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("tasks", "companies"): 192,
    ("companies", "tasks"): 191,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
}
"""HUBSPOT_DEFINED default types, both directions: https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide"""
PIPELINES: list[dict[str, Any]] = [
    {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": [
            ("appointmentscheduled", "Appointment Scheduled"),
            ("qualifiedtobuy", "Qualified To Buy"),
            ("presentationscheduled", "Presentation Scheduled"),
            ("decisionmakerboughtin", "Decision Maker Bought-In"),
            ("contractsent", "Contract Sent"),
            ("closedwon", "Closed Won"),
            ("closedlost", "Closed Lost"),
        ],
    },
    {
        "id": "7654321",
        "label": "Renewals",
        "displayOrder": 1,
        "stages": [("7654322", "Renewal due"), ("7654323", "Renewed")],
    },
]
OWNERS = [
    {
        "id": "5001",
        "email": "sam@sandbox.example",
        "firstName": "Sam",
        "lastName": "Seller",
        "userId": 9001,
    },
    {
        "id": "5002",
        "email": "kim@sandbox.example",
        "firstName": "Kim",
        "lastName": "Closer",
        "userId": 9002,
    },
]


class HubSpotError(Exception):
    """HubSpot's error body (https://developers.hubspot.com/docs/api-reference/latest/error-handling)."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


def validation_error(message: str, name: str, code: str = "PROPERTY_DOESNT_EXIST") -> HubSpotError:
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        message,
        errors=[{"message": message, "code": code, "context": {"propertyName": [name]}}],
    )


@dataclass
class Rec:
    """One CRM record with its property history (newest last)."""

    id: str
    kind: str
    history: dict[str, list[tuple[str | None, int, str]]] = field(default_factory=dict)
    created: int = 0
    updated: int = 0

    def value(self, name: str) -> str | None:
        if name == "hs_object_id":
            return self.id
        if name == "createdate":
            return iso(self.created)
        if name in ("lastmodifieddate", "hs_lastmodifieddate"):
            return iso(self.updated)
        entries = self.history.get(name)
        return entries[-1][0] if entries else None

    def props(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, str | None]:
        wanted = list(
            names
            or DEFAULT_PROPERTIES.get(self.kind)
            or sorted({*self.history, "createdate", "hs_object_id"})
        )
        return {
            name: self.value(name)
            for name in dict.fromkeys([*wanted, "createdate", "hs_object_id"])
        }

    def json(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "properties": self.props(names),
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "archived": False,
        }


@dataclass
class Portal:
    """Everything the sandbox portal and its HubSpot app hold."""

    records: dict[str, dict[str, Rec]] = field(default_factory=dict)
    associations: set[tuple[str, str, str, str]] = field(default_factory=set)
    tokens: dict[str, tuple[tuple[str, ...], float | None]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    limit: int = 100
    calls: deque[float] = field(default_factory=deque)
    page_size: int | None = None
    empty_pages: bool = False
    target_url: str | None = None
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 10001
    next_event: int = 100
    _clock: int = 0

    def now(self) -> int:
        """Milliseconds, strictly increasing (so every change has its own timestamp)."""
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def kind(self, name: str) -> dict[str, Rec]:
        return self.records.setdefault(name, {})

    def get(self, kind: str, record_id: str) -> Rec:
        found = self.kind(kind).get(record_id)
        if found is None:
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"resource not found: no {kind} record with ID {record_id}"
            )
        return found

    def by_email(self, email: str) -> Rec | None:
        return next(
            (
                r
                for r in self.kind("contacts").values()
                if (r.value("email") or "").lower() == email.lower()
            ),
            None,
        )

    def create(
        self, kind: str, props: Mapping[str, str], source: str = "API", at: int | None = None
    ) -> Rec:
        moment = at or self.now()
        record = Rec(id=str(self.next_id), kind=kind, created=moment, updated=moment)
        self.next_id += 1
        for name, value in props.items():
            record.history[name] = [(value, moment, source)]
        self.kind(kind)[record.id] = record
        self.emit(kind, "creation", record)
        return record

    def change(self, record: Rec, props: Mapping[str, str], source: str = "API") -> Rec:
        moment = self.now()
        for name, value in props.items():
            if record.value(name) != value:
                record.history.setdefault(name, []).append((value, moment, source))
                self.emit(record.kind, "propertyChange", record, name, value)
        record.updated = moment
        return record

    def emit(
        self, kind: str, change: str, record: Rec, name: str | None = None, value: str | None = None
    ) -> None:
        """Record a webhook event for each active subscription it matches."""
        event_type = f"{kind.rstrip('s')}.{change}"
        for sub in self.subscriptions:
            if (
                not sub["active"]
                or sub["eventType"] != event_type
                or (name is not None and sub.get("propertyName") != name)
            ):
                continue
            self.next_event += 1
            event: dict[str, Any] = {
                "eventId": self.next_event,
                "subscriptionId": sub["id"],
                "portalId": PORTAL_ID,
                "appId": APP_ID,
                "occurredAt": record.updated if name else record.created,
                "subscriptionType": event_type,
                "attemptNumber": 0,
                "objectId": int(record.id),
                "changeSource": "API",
            }
            event |= (
                {"propertyName": name, "propertyValue": value} if name else {"changeFlag": "NEW"}
            )
            self.pending.append(event)


def iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def as_ms(value: Any) -> int | None:
    """A date filter value: milliseconds or ISO 8601 (HubSpot takes both)."""
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def seeded() -> Portal:
    portal = Portal(tokens={SANDBOX_TOKEN: (ALL_SCOPES, None), READ_ONLY_TOKEN: (READ, None)})
    jan = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp() * 1000)
    people = [
        ("1001", "ada@example.com", "Ada", "Lovelace", "lead"),
        ("1002", "alan@example.com", "Alan", "Turing", "customer"),
    ]
    for n, (rid, email, first, last, stage) in enumerate(people):
        portal.next_id = int(rid)
        portal.create(
            "contacts",
            {"email": email, "firstname": first, "lastname": last, "lifecyclestage": stage},
            "CRM_UI",
            jan + n * 60_000,
        )
    portal.next_id = 2001
    deal = {
        "dealname": "Analytical engine maintenance",
        "pipeline": "default",
        "dealstage": "qualifiedtobuy",
        "amount": "4800",
    }
    portal.create("deals", deal, "CRM_UI", jan + 3_600_000)
    portal.next_id = 3001
    portal.create(
        "companies",
        {"name": "Analytical Engines Ltd", "domain": "engines.example"},
        "CRM_UI",
        jan + 7_200_000,
    )
    portal.associations |= {
        ("deals", "2001", "contacts", "1001"),
        ("contacts", "1001", "deals", "2001"),
    }
    portal.next_id = 10001
    return portal
