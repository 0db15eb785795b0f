"""The audit trail of security-relevant operations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..models import AuditRow
from ..records import AuditEntry
from ._base import RepoBase, new_id, to_record, utcnow


class AuditRepo(RepoBase):
    def audit(
        self,
        user_id: str | None,
        action: str,
        object_type: str,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry (e.g. ``audit(uid, "connection.create", "connection", cid)``).
        ``details`` must not hold secrets."""
        row = AuditRow(
            id=new_id(),
            user_id=user_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            at=utcnow(),
            details=details,
        )
        with self._write() as s:
            s.add(row)

    def audit_entries(self, user_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries, of one user or of everyone."""
        query = select(AuditRow)
        if user_id is not None:
            query = query.where(AuditRow.user_id == user_id)
        query = query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        with self._read() as s:
            return [to_record(AuditEntry, r) for r in s.scalars(query)]
