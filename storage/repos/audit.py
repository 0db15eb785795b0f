"""The audit trail of security-relevant operations: append-only, hash-chained.

Appends are serialised so the chain never forks: on SQLite by the store's write lock
and ``BEGIN IMMEDIATE`` (other processes wait on the database's write lock), on
PostgreSQL by a transaction-level advisory lock taken before the last entry is read.
The unique ``seq`` is the backstop: a second writer that somehow read the same last
entry fails instead of forking the chain. There is no method to change or delete an
entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, text

from ..audit_chain import (
    AUDIT_SOURCES,
    GENESIS,
    ChainVerdict,
    canonical_details,
    current_origin,
    entry_hash,
)
from ..models import AuditRow
from ..records import AuditEntry
from ._base import RepoBase, check_choice, like_escape, new_id, to_record, utcnow

#: ``pg_advisory_xact_lock`` key of audit appends ("cw-audit" as an integer)
AUDIT_LOCK_KEY = 0x63772D6175646974
VERIFY_BATCH = 1000


class AuditRepo(RepoBase):
    def audit(
        self,
        user_id: str | None,
        action: str,
        object_type: str,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        source: str | None = None,
        ip: str | None = None,
        actor_id: str | None = None,
    ) -> AuditEntry:
        """Append an entry (e.g. ``audit(uid, "connection.create", "connection", cid)``).

        ``user_id``: whose entry it is. ``source``, ``ip`` and ``actor_id`` default to
        the current :func:`~storage.audit_chain.audit_origin` (the actor to ``user_id``
        when the origin names none; ``actor_id=""``: nobody known, e.g. a failed
        sign-in). ``details`` must not hold secrets."""
        origin = current_origin()
        source = check_choice(source or origin.source, AUDIT_SOURCES, "audit source")
        values: dict[str, Any] = {
            "id": new_id(),
            "user_id": user_id,
            "actor_id": (origin.actor_id or user_id) if actor_id is None else (actor_id or None),
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "source": source,
            "ip": ip if ip is not None else origin.ip,
            "details": canonical_details(details),
        }
        with self._write() as s:
            if not self.is_sqlite:
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
            last = s.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
            prev_hash = last.hash if last is not None else GENESIS
            values["seq"] = last.seq + 1 if last is not None else 1
            # the time is taken under the lock, so it never goes backwards along the chain
            values["at"] = utcnow()
            values["prev_hash"] = prev_hash
            values["hash"] = entry_hash(prev_hash, values)
            row = AuditRow(**values)
            s.add(row)
        return to_record(AuditEntry, row)

    def audit_entries(
        self,
        user_id: str | None = None,
        limit: int = 100,
        *,
        offset: int = 0,
        actor_id: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, of one user (``user_id``) or of everyone (None).

        ``action``: exact (``scenario.publish``), or a group without a dot
        (``scenario`` matches ``scenario.*``); ``since`` inclusive, ``until`` exclusive."""
        query = self._audit_query(
            user_id, actor_id, action, object_type, object_id, since, until
        ).order_by(AuditRow.seq.desc())
        with self._read() as s:
            rows = s.scalars(query.limit(limit).offset(offset))
            return [to_record(AuditEntry, r) for r in rows]

    def _audit_query(
        self,
        user_id: str | None,
        actor_id: str | None,
        action: str | None,
        object_type: str | None,
        object_id: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> Select[AuditRow]:
        query = select(AuditRow)
        if user_id is not None:
            query = query.where(AuditRow.user_id == user_id)
        if actor_id is not None:
            query = query.where(AuditRow.actor_id == actor_id)
        if action:
            if "." in action:
                query = query.where(AuditRow.action == action)
            else:
                query = query.where(
                    or_(
                        AuditRow.action == action,
                        AuditRow.action.like(f"{like_escape(action)}.%", escape="!"),
                    )
                )
        if object_type is not None:
            query = query.where(AuditRow.object_type == object_type)
        if object_id is not None:
            query = query.where(AuditRow.object_id == object_id)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        return query

    def _audit_chain(self) -> Iterator[AuditRow]:
        """Every entry in chain order, read in batches (the trail may be long)."""
        after = 0
        while True:
            with self._read() as s:
                rows = list(
                    s.scalars(
                        select(AuditRow)
                        .where(AuditRow.seq > after)
                        .order_by(AuditRow.seq)
                        .limit(VERIFY_BATCH)
                    )
                )
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    def verify_audit_chain(self) -> ChainVerdict:
        """Recompute the chain from the first entry; the first entry whose position,
        link or content does not match is reported."""
        prev_hash, expected_seq, checked = GENESIS, 1, 0
        for row in self._audit_chain():
            checked += 1
            values = {c: getattr(row, c) for c in _HASHED}
            reason = None
            if row.seq != expected_seq:
                reason = (
                    f"expected entry #{expected_seq} here, found #{row.seq}: entries were removed"
                )
            elif row.prev_hash != prev_hash:
                reason = (
                    "its link to the previous entry does not match: an entry before it was "
                    "changed, removed or inserted"
                )
            elif entry_hash(prev_hash, values) != row.hash:
                reason = "its content does not match its hash: the entry was changed"
            if reason is not None:
                return ChainVerdict(
                    intact=False,
                    checked=checked,
                    broken_seq=row.seq,
                    broken_id=row.id,
                    reason=reason,
                )
            prev_hash, expected_seq = row.hash, row.seq + 1
        return ChainVerdict(intact=True, checked=checked, head_hash=prev_hash if checked else None)


_HASHED = (
    "seq",
    "id",
    "at",
    "user_id",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "source",
    "ip",
    "details",
)
