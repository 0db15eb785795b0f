"""Sign-in state shared by every process on the store: revoked session cookies and
failed sign-in attempts.

Both used to live in one process' memory (and a file read at start-up), so a second
process accepted a signed-out cookie and kept its own, separate failure counts.
Callers pass the time in (``now``): the throttle's window is then testable without
waiting, and every process compares the same wall-clock instants.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..models import LoginFailureRow, RevokedSessionRow
from ._base import RepoBase, new_id

#: failure rows older than this are deleted when new ones are written (any throttle
#: window is shorter; the table stays small without a sweeper)
FAILURE_RETENTION = timedelta(days=1)


class SessionsRepo(RepoBase):
    def revoke_session(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        """Refuse the session with this nonce until ``expires_at``; forget sign-outs
        whose cookies have expired by ``now``."""
        insert = sqlite_insert if self.is_sqlite else pg_insert
        statement = insert(RevokedSessionRow).values(nonce=nonce, expires_at=expires_at)
        with self._write() as s:
            s.execute(delete(RevokedSessionRow).where(RevokedSessionRow.expires_at < now))
            s.execute(statement.on_conflict_do_nothing(index_elements=["nonce"]))

    def session_revoked(self, nonce: str) -> bool:
        """True when the session with this nonce was signed out."""
        with self._read() as s:
            return (
                s.scalar(select(RevokedSessionRow.nonce).where(RevokedSessionRow.nonce == nonce))
                is not None
            )

    def record_login_failure(self, keys: Iterable[str], at: datetime) -> None:
        """Count one failed sign-in under each key (at ``at``)."""
        rows = [{"id": new_id(), "key": key, "at": at} for key in keys]
        with self._write() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.at < at - FAILURE_RETENTION))
            if rows:
                s.execute(
                    cast(Table, LoginFailureRow.__table__).insert(), rows
                )  # a declarative table

    def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, int]:
        """Failed sign-ins per key at or after ``since`` (keys without any: 0)."""
        wanted = list(keys)
        counts = dict.fromkeys(wanted, 0)
        query = (
            select(LoginFailureRow.key, func.count())
            .where(LoginFailureRow.key.in_(wanted), LoginFailureRow.at >= since)
            .group_by(LoginFailureRow.key)
        )
        with self._read() as s:
            counts.update({key: int(n) for key, n in s.execute(query)})
        return counts

    def clear_login_failures(self, keys: Iterable[str]) -> None:
        """Forget the failures counted under these keys (after a successful sign-in)."""
        with self._write() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
