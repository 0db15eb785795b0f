"""Executions and node results: the engine's hot path."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    Text,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..errors import NotFoundError
from ..models import (
    EXECUTION_STATUSES,
    NODE_RESULT_STATUSES,
    ExecutionRow,
    NodeResultRow,
    ScenarioRow,
    UTCDateTime,
)
from ..records import AnalyticsFacts, Execution, NodeResult
from ..statuses import FINAL_EXECUTION_STATUSES, OPEN_EXECUTION_STATUSES, ExecutionStatus
from . import _sqlite_hot as hot
from ._base import RepoBase, check_choice, like_escape, new_id, rowcount, to_record, utcnow
from .analytics_outbox import write_outbox, write_outbox_sqlite

#: the longest text :meth:`ExecutionsRepo.list_executions` searches trigger data for
MAX_SEARCH_LENGTH = 200

# The hot path (create, claim, record, finish) uses Core statements on these tables:
# the ORM unit of work costs more than the SQLite commit itself. On SQLite, create,
# record and finish go straight to the driver (storage/repos/_sqlite_hot.py).
# Statements are built once, with parameters passed at execution (cached compilation).
_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_RESULTS = cast(Table, NodeResultRow.__table__)
_SCENARIOS = cast(Table, ScenarioRow.__table__)
_INSERT_EXECUTION = insert(_EXECUTIONS)
_INSERT_RESULT = insert(_RESULTS)
_NEXT_SEQ = select(func.coalesce(func.max(_RESULTS.c.seq), -1) + 1).where(
    _RESULTS.c.execution_id == bindparam("execution_id")
)


def _claimable(now: Any) -> ColumnElement[bool]:
    """Open, not leased (or lease expired), and not waiting for a later retry."""
    return and_(
        _EXECUTIONS.c.status.in_(OPEN_EXECUTION_STATUSES),
        or_(_EXECUTIONS.c.lease_until.is_(None), _EXECUTIONS.c.lease_until < now),
        or_(_EXECUTIONS.c.next_attempt_at.is_(None), _EXECUTIONS.c.next_attempt_at <= now),
    )


_NOW = bindparam("now", type_=UTCDateTime())
_BY_ID = _EXECUTIONS.c.id == bindparam("execution_id")
_CLAIM = (
    update(_EXECUTIONS)
    .where(_BY_ID, _claimable(_NOW))
    .values(
        status=ExecutionStatus.RUNNING,
        # still "running" here means its lease expired: the process holding it died
        reclaims=case(
            (_EXECUTIONS.c.status == ExecutionStatus.RUNNING, _EXECUTIONS.c.reclaims + 1),
            else_=_EXECUTIONS.c.reclaims,
        ),
        start_time=func.coalesce(_EXECUTIONS.c.start_time, _NOW),
        lease_owner=bindparam("owner"),
        lease_until=bindparam("until", type_=UTCDateTime()),
        next_attempt_at=None,
    )
    .returning(*_EXECUTIONS.c)
)
_LOCK_EXECUTION = select(_EXECUTIONS.c.id).where(_BY_ID).with_for_update()
_START_OF = select(_EXECUTIONS.c.start_time, _EXECUTIONS.c.scenario_id).where(_BY_ID)
_FINISH = (
    update(_EXECUTIONS)
    .where(_BY_ID)
    .values(
        status=bindparam("final_status"),
        error=bindparam("final_error", type_=_EXECUTIONS.c.error.type),
        end_time=_NOW,
        duration_ms=bindparam("duration"),
        lease_until=None,
        lease_owner=None,
        next_attempt_at=None,
    )
    .returning(*_EXECUTIONS.c)
)
_LAST_RUN = bindparam("last_run", type_=UTCDateTime())
_MOVE_LAST_RUN = (
    update(_SCENARIOS)
    .where(
        _SCENARIOS.c.id == bindparam("scenario_id"),
        or_(_SCENARIOS.c.last_run.is_(None), _SCENARIOS.c.last_run < _LAST_RUN),
    )
    .values(last_run=_LAST_RUN)
)


def _ms(delta: timedelta) -> float:
    return max(0.0, round(delta.total_seconds() * 1000, 3))


class ExecutionsRepo(RepoBase):
    def create_execution(
        self,
        *,
        scenario_id: str,
        scenario_version: int,
        user_id: str,
        trigger: dict[str, Any],
        idempotency_key: str | None = None,
        status: str = ExecutionStatus.QUEUED,
        rerun_of: str | None = None,
        resume_from: str | None = None,
        claim_owner: str | None = None,
        lease_seconds: float = 60.0,
        hops: int = 0,
        parent_execution_id: str | None = None,
    ) -> tuple[Execution, bool]:
        """Store a new execution: ``(execution, True)``.

        ``hops``: how many Cellwright-to-Cellwright webhook calls led to it;
        ``parent_execution_id``: the run whose "Run scenario" cell called it.

        With an ``idempotency_key`` already used for this scenario, nothing is written and
        the existing execution comes back as ``(existing, False)``, also when two callers
        race (the unique constraint decides; the loser reads the winner's row).
        """
        check_choice(status, EXECUTION_STATUSES, "execution status")
        if idempotency_key is not None:
            existing = self._by_idempotency_key(scenario_id, idempotency_key)
            if existing is not None:
                return existing, False
        now = utcnow()
        if claim_owner is not None:
            # created already claimed: saves the claim's transaction
            status = ExecutionStatus.RUNNING
        values: dict[str, Any] = {
            "id": new_id(),
            "scenario_id": scenario_id,
            "scenario_version": scenario_version,
            "user_id": user_id,
            "status": status,
            "start_time": now if claim_owner else None,
            "end_time": None,
            "duration_ms": None,
            "trigger": trigger,
            "error": None,
            "idempotency_key": idempotency_key,
            "attempt": 0,
            "lease_until": now + timedelta(seconds=lease_seconds) if claim_owner else None,
            "lease_owner": claim_owner,
            "next_attempt_at": None,
            "reclaims": 0,
            "rerun_of": rerun_of,
            "resume_from": resume_from,
            "created_at": now,
            "hops": hops,
            "resume_token": None,
            "resume_call": None,
            "parent_execution_id": parent_execution_id,
        }
        try:
            with self._write_conn() as conn:
                if self.sqlite_driver_writes:
                    with hot.translated():
                        hot.INSERT_EXECUTION.run(hot.cursor_of(conn), [values])
                else:
                    conn.execute(_INSERT_EXECUTION, values)
        except IntegrityError:
            existing = (
                self._by_idempotency_key(scenario_id, idempotency_key)
                if idempotency_key is not None
                else None
            )
            if existing is None:
                raise  # another constraint (unknown scenario version or user)
            return existing, False
        return Execution(**values), True

    def _by_idempotency_key(self, scenario_id: str, key: str) -> Execution | None:
        conn = self._batch_conn()
        if conn is not None:  # inside a group commit: see the batch's own rows
            row = conn.execute(
                select(*ExecutionRow.__table__.columns).where(
                    ExecutionRow.scenario_id == scenario_id, ExecutionRow.idempotency_key == key
                )
            ).first()
            return to_record(Execution, row) if row else None
        with self._read() as s:
            orm_row = s.scalar(
                select(ExecutionRow).where(
                    ExecutionRow.scenario_id == scenario_id, ExecutionRow.idempotency_key == key
                )
            )
            return to_record(Execution, orm_row) if orm_row else None

    def claim_execution(
        self, execution_id: str, owner: str, lease_seconds: float
    ) -> Execution | None:
        """Take the execution for ``owner`` until now + ``lease_seconds``, atomically.

        Succeeds only if it is queued/waiting/running, its lease is free or expired, and
        any retry is due; then it is ``running`` (start_time set on the first claim).
        Taking over a ``running`` execution (its lease expired) adds one to
        ``reclaims``. Returns None when someone else holds it or it is not claimable.
        """
        now = utcnow()
        params = {
            "execution_id": execution_id,
            "now": now,
            "owner": owner,
            "until": now + timedelta(seconds=lease_seconds),
        }
        with self._write_conn() as conn:
            row = conn.execute(_CLAIM, params).first()
        return to_record(Execution, row) if row else None

    def extend_lease(self, execution_id: str, owner: str, lease_seconds: float) -> bool:
        """Push the lease forward; False if ``owner`` no longer holds the execution."""
        with self._write() as s:
            result = s.execute(
                update(ExecutionRow)
                .where(
                    ExecutionRow.id == execution_id,
                    ExecutionRow.lease_owner == owner,
                    ExecutionRow.status == ExecutionStatus.RUNNING,
                )
                .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            )
            return rowcount(result) == 1

    def schedule_retry(
        self, execution_id: str, *, next_attempt_at: datetime, attempt: int, error: dict[str, Any]
    ) -> None:
        """Park the execution as ``waiting`` until ``next_attempt_at``; the lease is released."""
        with self._write() as s:
            s.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == execution_id)
                .values(
                    status=ExecutionStatus.WAITING,
                    next_attempt_at=next_attempt_at,
                    attempt=attempt,
                    error=error,
                    lease_until=None,
                    lease_owner=None,
                )
            )

    def park_execution(
        self, execution_id: str, *, until: datetime, for_call: bool = False
    ) -> datetime:
        """Park a run at a delay (``for_call``: at a "Wait for a call" cell) as ``waiting``
        until ``until``, its lease released. A run parked for a call that has already come
        (``resume_call`` set while it ran) is due at once: in the same statement, so a call
        arriving as the run parks is never left waiting for the timeout. Returns when the
        run is due."""
        now = utcnow()
        due: Any = until
        if for_call:
            due = case((_EXECUTIONS.c.resume_call.is_not(None), now), else_=until)
        with self._write_conn() as conn:
            parked = conn.execute(
                update(_EXECUTIONS)
                .where(_EXECUTIONS.c.id == execution_id)
                .values(
                    status=ExecutionStatus.WAITING,
                    next_attempt_at=due,
                    error=None,
                    lease_until=None,
                    lease_owner=None,
                )
                .returning(_EXECUTIONS.c.next_attempt_at)
            ).first()
        return parked[0] if parked is not None and parked[0] is not None else until

    def ensure_resume_token(self, execution_id: str) -> str:
        """The execution's resume token, made (unguessable, URL-safe) on first use."""
        with self._write_conn() as conn:
            conn.execute(
                update(_EXECUTIONS)
                .where(_EXECUTIONS.c.id == execution_id, _EXECUTIONS.c.resume_token.is_(None))
                .values(resume_token=secrets.token_urlsafe(32))
            )
            token = conn.scalar(
                select(_EXECUTIONS.c.resume_token).where(_EXECUTIONS.c.id == execution_id)
            )
        if token is None:
            raise NotFoundError(f"No execution {execution_id}.")
        return str(token)

    def resume_call_of(self, execution_id: str) -> Any:
        """The call the execution's resume URL took (or ``{"timed_out": true}``), or None."""
        with self._read() as s:
            return s.scalar(select(ExecutionRow.resume_call).where(ExecutionRow.id == execution_id))

    def take_resume_call(self, token: str, call: dict[str, Any]) -> tuple[str, str | None]:
        """Hand ``call`` to the run whose resume token is ``token``: ``(answer, execution
        id)`` with answer ``accepted``, ``unknown`` (no such token), ``used`` (it took a
        call already, or its wait timed out) or ``finished`` (the run has ended).

        One statement decides: a token takes one call. A run parked waiting is due at
        once; a run still working keeps the call for its wait cell."""
        now = utcnow()
        by_token = _EXECUTIONS.c.resume_token == token
        with self._write_conn() as conn:
            taken = conn.execute(
                update(_EXECUTIONS)
                .where(
                    by_token,
                    _EXECUTIONS.c.resume_call.is_(None),
                    _EXECUTIONS.c.status.in_(OPEN_EXECUTION_STATUSES),
                )
                .values(
                    resume_call=call,
                    # parked at a delay (no error), not waiting for a retry's backoff
                    next_attempt_at=case(
                        (
                            and_(
                                _EXECUTIONS.c.status == ExecutionStatus.WAITING,
                                _EXECUTIONS.c.error.is_(None),
                            ),
                            now,
                        ),
                        else_=_EXECUTIONS.c.next_attempt_at,
                    ),
                )
                .returning(_EXECUTIONS.c.id)
            ).first()
            if taken is not None:
                return "accepted", str(taken[0])
            row = conn.execute(
                select(_EXECUTIONS.c.id, _EXECUTIONS.c.status).where(by_token)
            ).first()
        if row is None:
            return "unknown", None
        if row[1] in OPEN_EXECUTION_STATUSES:
            return "used", str(row[0])
        return "finished", str(row[0])

    def expire_resume_call(self, execution_id: str) -> Any:
        """Close the execution's resume URL because its wait timed out: None when it did;
        the call it took when one came first (then that call is the cell's output)."""
        with self._write_conn() as conn:
            closed = conn.execute(
                update(_EXECUTIONS)
                .where(_EXECUTIONS.c.id == execution_id, _EXECUTIONS.c.resume_call.is_(None))
                .values(resume_call={"timed_out": True})
            )
            if rowcount(closed) == 1:
                return None
            return conn.scalar(
                select(_EXECUTIONS.c.resume_call).where(_EXECUTIONS.c.id == execution_id)
            )

    def finish_execution(
        self,
        execution_id: str,
        *,
        status: str,
        error: dict[str, Any] | None = None,
        node_results: list[dict[str, Any]] | None = None,
        analytics: AnalyticsFacts | None = None,
    ) -> Execution:
        """Close the execution (completed, failed or cancelled): end_time, duration, lease
        released; the scenario's last_run moves to the execution's start. ``node_results``
        not yet recorded are written in the same transaction, and so is the analytics
        outbox row when ``analytics`` is given (:mod:`storage.repos.analytics_outbox`)."""
        check_choice(status, FINAL_EXECUTION_STATUSES, "final execution status")
        now = utcnow()
        pending = [self._result_values(execution_id, r) for r in node_results or []]
        with self._write_conn() as conn:
            if self.sqlite_driver_writes:
                with hot.translated():
                    done = self._finish_sqlite(conn, execution_id, now, status, error, pending)
                    if analytics is not None:
                        write_outbox_sqlite(hot.cursor_of(conn), done, analytics)
                    return done
            if pending:
                self._insert_results(conn, execution_id, pending)
            found = conn.execute(_START_OF, {"execution_id": execution_id}).first()
            if found is None:
                raise NotFoundError(f"execution {execution_id!r} not found")
            started = found.start_time or now
            row = conn.execute(
                _FINISH,
                {
                    "execution_id": execution_id,
                    "now": now,
                    "final_status": status,
                    "final_error": error,
                    "duration": _ms(now - started),
                },
            ).one()
            conn.execute(_MOVE_LAST_RUN, {"scenario_id": found.scenario_id, "last_run": started})
            done = to_record(Execution, row)
            if analytics is not None:
                write_outbox(conn, done, analytics)
        return done

    def _finish_sqlite(
        self,
        conn: Connection,
        execution_id: str,
        now: datetime,
        status: str,
        error: dict[str, Any] | None,
        pending: list[dict[str, Any]],
    ) -> Execution:
        """``finish_execution``'s statements on the SQLite driver (same rows)."""
        cursor = hot.cursor_of(conn)
        if pending:
            self._insert_results_sqlite(cursor, execution_id, pending)
        found = cursor.execute(hot.START_OF, (execution_id,)).fetchone()
        if found is None:
            raise NotFoundError(f"execution {execution_id!r} not found")
        started = hot.read_datetime(found[0]) or now
        params = (
            status,
            hot.bind_json(error),
            hot.bind_datetime(now),
            _ms(now - started),
            execution_id,
        )
        row = cursor.execute(hot.FINISH, params).fetchone()
        last_run = hot.bind_datetime(started)
        cursor.execute(hot.MOVE_LAST_RUN, (last_run, found[1], last_run))
        return Execution(**hot.execution_values(row))

    def record_node_result(
        self,
        execution_id: str,
        *,
        cell_id: str,
        status: str,
        attempt: int = 0,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        duration_ms: float | None = None,
        input: Any = None,
        output: Any = None,
        error: Any = None,
        item: str | None = None,
    ) -> NodeResult:
        """Append one cell run to the execution (``seq`` = order of recording).

        ``duration_ms`` defaults to end_time - start_time when both are given; ``item``:
        the loop item the cell ran for (``"3"``, ``"2/5"``), None outside loops.
        """
        result = {
            "cell_id": cell_id,
            "status": status,
            "attempt": attempt,
            "start_time": start_time,
            "end_time": end_time,
            "duration_ms": duration_ms,
            "input": input,
            "output": output,
            "error": error,
            "item": item,
        }
        return self.record_node_results(execution_id, [result])[0]

    def record_node_results(
        self, execution_id: str, results: list[dict[str, Any]]
    ) -> list[NodeResult]:
        """Append several cell runs in one transaction (keys as ``record_node_result``'s)."""
        values = [self._result_values(execution_id, r) for r in results]
        if not values:
            return []
        with self._write_conn() as conn:
            if self.sqlite_driver_writes:
                with hot.translated():
                    self._insert_results_sqlite(hot.cursor_of(conn), execution_id, values)
            else:
                self._insert_results(conn, execution_id, values)
        return [NodeResult(**v) for v in values]

    def _result_values(self, execution_id: str, result: dict[str, Any]) -> dict[str, Any]:
        status = result["status"]
        check_choice(status, NODE_RESULT_STATUSES, "node result status")
        start_time, end_time = result.get("start_time"), result.get("end_time")
        duration_ms = result.get("duration_ms")
        if duration_ms is None and start_time is not None and end_time is not None:
            duration_ms = _ms(end_time - start_time)
        return {
            "id": new_id(),
            "execution_id": execution_id,
            "cell_id": result["cell_id"],
            "attempt": result.get("attempt", 0),
            "status": status,
            "start_time": start_time,
            "end_time": end_time,
            "duration_ms": duration_ms,
            "input": result.get("input"),
            "output": result.get("output"),
            "error": result.get("error"),
            "item": result.get("item"),
        }

    def _insert_results(self, conn: Any, execution_id: str, values: list[dict[str, Any]]) -> None:
        if not self.is_sqlite:
            # Serialise writers of one execution (parallel branches) so that no two
            # read the same max(seq); SQLite's write lock already does.
            conn.execute(_LOCK_EXECUTION, {"execution_id": execution_id})
        seq = conn.scalar(_NEXT_SEQ, {"execution_id": execution_id})
        for offset, v in enumerate(values):
            v["seq"] = seq + offset
        conn.execute(_INSERT_RESULT, values)

    def _insert_results_sqlite(
        self, cursor: sqlite3.Cursor, execution_id: str, values: list[dict[str, Any]]
    ) -> None:
        # SQLite's write lock serialises writers of one execution: max(seq) is safe
        seq = cursor.execute(hot.NEXT_SEQ, (execution_id,)).fetchone()[0]
        for offset, v in enumerate(values):
            v["seq"] = seq + offset
        hot.INSERT_RESULT.run(cursor, values)

    def node_results(self, execution_id: str) -> list[NodeResult]:
        """The execution's node results in recording order."""
        with self._read() as s:
            rows = s.scalars(
                select(NodeResultRow)
                .where(NodeResultRow.execution_id == execution_id)
                .order_by(NodeResultRow.seq)
            )
            return [to_record(NodeResult, r) for r in rows]

    def get_execution(self, user_id: str | None, execution_id: str) -> Execution | None:
        """The execution, or None; with a ``user_id``, only that user's (None = engine use)."""
        with self._read() as s:
            row = s.get(ExecutionRow, execution_id)
            if row is None or (user_id is not None and row.user_id != user_id):
                return None
            return to_record(Execution, row)

    def failures_in_a_row(self, scenario_id: str, limit: int, version: int | None = None) -> int:
        """How many of the scenario's latest finished runs (completed or failed, newest
        first, at most ``limit`` looked at; ``version``: of that version only) failed
        after the latest one that completed. A run still open (waiting for a retry, say)
        or cancelled is not counted."""
        conditions = [
            ExecutionRow.scenario_id == scenario_id,
            ExecutionRow.status.in_((ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)),
        ]
        if version is not None:
            conditions.append(ExecutionRow.scenario_version == version)
        query = (
            select(ExecutionRow.status)
            .where(*conditions)
            .order_by(ExecutionRow.created_at.desc(), ExecutionRow.id.desc())
            .limit(limit)
        )
        count = 0
        with self._read() as s:
            for status in s.scalars(query):
                if status != ExecutionStatus.FAILED:
                    break
                count += 1
        return count

    def list_executions(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        parent_execution_id: str | None = None,
    ) -> list[Execution]:
        """The user's executions, newest first; ``since`` <= created_at < ``until``.

        ``search``: only those whose trigger data contains this text, case-insensitively:
        a substring of the trigger as JSON text (``"amount": 80`` finds that pair; keys
        and values alike). On SQLite only ASCII letters fold case. At most
        :data:`MAX_SEARCH_LENGTH` characters.
        ``parent_execution_id``: only the runs that execution's "Run scenario" cells called.
        """
        query = (
            select(ExecutionRow)
            .where(
                *self._history_filter(
                    user_id, scenario_id, status, since, until, search, parent_execution_id
                )
            )
            .order_by(ExecutionRow.created_at.desc(), ExecutionRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._read() as s:
            return [to_record(Execution, r) for r in s.scalars(query)]

    def open_execution_counts(self) -> dict[str, int]:
        """Every user's unfinished executions by status (queued, running, waiting)."""
        query = (
            select(_EXECUTIONS.c.status, func.count())
            .where(_EXECUTIONS.c.status.in_(OPEN_EXECUTION_STATUSES))
            .group_by(_EXECUTIONS.c.status)
        )
        counts: dict[str, int] = {str(status): 0 for status in OPEN_EXECUTION_STATUSES}
        with self._read() as s:
            for status, count in s.execute(query):
                counts[status] = int(count)
        return counts

    def count_executions(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
        parent_execution_id: str | None = None,
    ) -> int:
        """How many executions :meth:`list_executions` would page through."""
        query = (
            select(func.count())
            .select_from(ExecutionRow)
            .where(
                *self._history_filter(
                    user_id, scenario_id, status, since, until, search, parent_execution_id
                )
            )
        )
        with self._read() as s:
            return int(s.scalar(query) or 0)

    def _history_filter(
        self,
        user_id: str,
        scenario_id: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        search: str | None = None,
        parent_execution_id: str | None = None,
    ) -> list[ColumnElement[bool]]:
        conditions = [ExecutionRow.user_id == user_id]
        if parent_execution_id is not None:
            conditions.append(ExecutionRow.parent_execution_id == parent_execution_id)
        if scenario_id is not None:
            conditions.append(ExecutionRow.scenario_id == scenario_id)
        if status is not None:
            conditions.append(ExecutionRow.status == status)
        if since is not None:
            conditions.append(ExecutionRow.created_at >= since)
        if until is not None:
            conditions.append(ExecutionRow.created_at < until)
        if search is not None and search.strip():
            conditions.append(self._trigger_contains(search.strip()))
        return conditions

    def _trigger_contains(self, text: str) -> ColumnElement[bool]:
        if len(text) > MAX_SEARCH_LENGTH:
            raise ValueError(
                f"the search text is {len(text)} characters long; "
                f"search for at most {MAX_SEARCH_LENGTH}"
            )
        # The text is matched against the JSON as stored, so `"amount": 80` finds that
        # pair. Non-ASCII text is stored as is (storage.jsoncodec); SQLite rows written
        # before that hold it escaped (é as \u00e9): match that spelling there too.
        stored = ExecutionRow.trigger.cast(Text)
        found: ColumnElement[bool] = stored.ilike(f"%{like_escape(text)}%", escape="!")
        if self.is_sqlite and not text.isascii():
            escaped = "".join(c if c.isascii() else json.dumps(c)[1:-1] for c in text)
            found = or_(found, stored.ilike(f"%{like_escape(escaped)}%", escape="!"))
        return found

    def reclaimable_executions(self, now: datetime | None = None, limit: int = 500) -> list[str]:
        """Ids of open executions nobody holds (lease free or expired) whose retry is due,
        oldest first: what a restarted process or the reaper should claim."""
        query = (
            select(ExecutionRow.id)
            .where(_claimable(now or utcnow()))
            .order_by(ExecutionRow.created_at, ExecutionRow.id)
            .limit(limit)
        )
        with self._read() as s:
            return list(s.scalars(query))

    def stranded_executions(
        self, grace_seconds: float, now: datetime | None = None, limit: int = 500
    ) -> list[str]:
        """Open executions nobody holds whose message should have started them by now,
        oldest first: ``running`` with an expired lease (its worker died), ``waiting``
        with a retry due for longer than ``grace_seconds``, ``queued`` for longer than
        that. Scaled-out mode sends them to the queue again (engine/cluster.py)."""
        now = now or utcnow()
        before = now - timedelta(seconds=grace_seconds)
        status = _EXECUTIONS.c.status
        query = (
            select(_EXECUTIONS.c.id)
            .where(
                _claimable(now),
                or_(
                    status == ExecutionStatus.RUNNING,
                    and_(
                        status == ExecutionStatus.WAITING, _EXECUTIONS.c.next_attempt_at <= before
                    ),
                    and_(status == ExecutionStatus.QUEUED, _EXECUTIONS.c.created_at <= before),
                ),
            )
            .order_by(_EXECUTIONS.c.created_at, _EXECUTIONS.c.id)
            .limit(limit)
        )
        with self._read() as s:
            return list(s.scalars(query))

    def next_retry_due(self) -> datetime | None:
        """When the earliest waiting execution is due, or None."""
        with self._read() as s:
            due: datetime | None = s.scalar(
                select(func.min(ExecutionRow.next_attempt_at)).where(
                    ExecutionRow.status == ExecutionStatus.WAITING
                )
            )
        return due
