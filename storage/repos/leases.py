"""Named leases: one process of a deployment does a job (the scheduler) at a time.

A lease row names its holder and how long it holds. A process takes the lease when it
is free or expired, and renews it well before it expires; when the holder dies, the
lease expires and the next process to ask takes it. ``epoch`` grows by one whenever the
lease changes hands: a fencing token, so work done under an old epoch can be told from
the current holder's. Works the same on SQLite and PostgreSQL (one conditional UPDATE).
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..models import LeaseRow, UTCDateTime
from ._base import RepoBase, utcnow

_LEASES = cast(Table, LeaseRow.__table__)
_NOW = bindparam("now", type_=UTCDateTime())
_UNTIL = bindparam("until", type_=UTCDateTime())
_TAKE = (
    update(_LEASES)
    .where(
        _LEASES.c.name == bindparam("lease"),
        or_(_LEASES.c.owner == bindparam("owner"), _LEASES.c.until < _NOW),
    )
    .values(
        owner=bindparam("owner"),
        until=_UNTIL,
        epoch=case(
            (_LEASES.c.owner == bindparam("owner"), _LEASES.c.epoch), else_=_LEASES.c.epoch + 1
        ),
    )
    .returning(_LEASES.c.epoch)
)


class LeasesRepo(RepoBase):
    def take_lease(self, name: str, owner: str, seconds: float) -> int | None:
        """Take or renew the lease ``name`` for ``seconds``: its epoch, or None when
        another process holds it."""
        now = utcnow()
        values = {"name": name, "owner": "", "until": now - timedelta(seconds=1), "epoch": 0}
        new = (
            sqlite_insert(_LEASES).values(values).on_conflict_do_nothing()
            if self.is_sqlite
            else pg_insert(_LEASES).values(values).on_conflict_do_nothing()
        )
        with self._write_conn() as conn:
            conn.execute(new)
            row = conn.execute(
                _TAKE,
                {
                    "lease": name,
                    "owner": owner,
                    "now": now,
                    "until": now + timedelta(seconds=seconds),
                },
            ).first()
        return None if row is None else int(row[0])

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up at once (a process stopping cleanly), if it is ``owner``'s."""
        stmt = (
            update(_LEASES)
            .where(_LEASES.c.name == name, _LEASES.c.owner == owner)
            .values(until=utcnow() - timedelta(seconds=1))
        )
        with self._write_conn() as conn:
            conn.execute(stmt)

    def lease_holder(self, name: str) -> tuple[str, int] | None:
        """Who holds the lease now (owner, epoch), or None when it is free."""
        stmt = select(_LEASES.c.owner, _LEASES.c.epoch).where(
            _LEASES.c.name == name, _LEASES.c.until >= bindparam("now", type_=UTCDateTime())
        )
        with self._read() as session:
            row = session.execute(stmt, {"now": utcnow()}).first()
        return None if row is None else (str(row.owner), int(row.epoch))
