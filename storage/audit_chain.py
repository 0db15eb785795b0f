"""The audit trail's hash chain and the origin of the entries being written.

Every entry carries ``seq`` (1, 2, 3, … with no gap), ``prev_hash`` (the previous
entry's ``hash``; :data:`GENESIS` for the first) and ``hash`` = SHA-256 of
``prev_hash`` and the canonical JSON of the entry (:func:`entry_hash`). Changing,
removing or reordering a stored entry breaks the chain from that entry on, which
``Store.verify_audit_chain`` (``cellwright audit verify``) reports. Removing the newest
entries leaves a shorter intact chain: compare the head hash it prints with one noted
earlier to see that.

Who and where an entry comes from — the front end (``workspace``, ``api``, ``cli``;
``system`` for the server's own work), the client's IP address, and the signed-in
user acting — is set once per request by the front end with :func:`audit_origin` and
read by the store when it appends; the services that write entries need not pass it.
The value is a context variable, so it follows ``asyncio`` tasks and
``asyncio.to_thread`` calls made within the request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "AUDIT_SOURCES",
    "GENESIS",
    "AuditOrigin",
    "ChainVerdict",
    "audit_origin",
    "canonical_details",
    "current_origin",
    "entry_hash",
]

#: where an entry comes from
AUDIT_SOURCES = ("workspace", "api", "cli", "system")
#: the ``prev_hash`` of the first entry
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditOrigin:
    """The front end, client address and acting user of the entries written now."""

    source: str = "system"
    ip: str | None = None
    actor_id: str | None = None


_SYSTEM = AuditOrigin()
_origin: ContextVar[AuditOrigin | None] = ContextVar("cellwright_audit_origin", default=None)


def current_origin() -> AuditOrigin:
    """The origin set by the innermost :func:`audit_origin` (``system`` when none)."""
    return _origin.get() or _SYSTEM


@contextlib.contextmanager
def audit_origin(
    source: str, ip: str | None = None, actor_id: str | None = None
) -> Iterator[AuditOrigin]:
    """Entries written inside come from ``source`` (one of :data:`AUDIT_SOURCES`), the
    client ``ip`` and the signed-in ``actor_id``."""
    if source not in AUDIT_SOURCES:
        raise ValueError(f"invalid audit source {source!r}: expected one of {AUDIT_SOURCES}")
    origin = AuditOrigin(source, ip, actor_id)
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


def canonical_details(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``details`` as they read back from a JSON column (strings for dates and other
    values JSON has no type for), so the hash of what was written is the hash of what
    is read."""
    if details is None:
        return None
    value: dict[str, Any] = json.loads(json.dumps(dict(details), default=str))
    return value


def _canonical_at(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``prev_hash``, a newline and the canonical JSON (sorted keys, no
    spaces, UTF-8) of the entry's fields: seq, id, at, user_id, actor_id, action,
    object_type, object_id, source, ip, details."""
    body = {
        "seq": entry["seq"],
        "id": entry["id"],
        "at": _canonical_at(entry["at"]),
        "user_id": entry["user_id"],
        "actor_id": entry["actor_id"],
        "action": entry["action"],
        "object_type": entry["object_type"],
        "object_id": entry["object_id"],
        "source": entry["source"],
        "ip": entry["ip"],
        "details": entry["details"],
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """What ``Store.verify_audit_chain`` found."""

    intact: bool
    #: entries checked (up to and including the first broken one)
    checked: int
    #: the newest entry's hash when intact (note it to detect removed newest entries)
    head_hash: str | None = None
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "checked": self.checked,
            "head_hash": self.head_hash,
            "broken_seq": self.broken_seq,
            "broken_id": self.broken_id,
            "reason": self.reason,
        }
