"""GDPR and retention: what an account owns, removing it, erasing a value, retention.

Everything here works in batches (``BATCH`` rows per transaction by default) so a
large account or a long history never sits in memory at once, and a write lock is
never held for long. What the DuckDB analytics log must lose is queued in
``analytics_deletions`` in the same transaction, for the process that owns the file
(:meth:`take_analytics_deletions`); an erased value is queued encrypted by the vault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from .. import jsoncodec
from ..models import (
    AlertRuleRow,
    AnalyticsDeletionRow,
    AnalyticsOutboxRow,
    ApiKeyRow,
    ConnectionRow,
    DataRecordRow,
    DataStoreRow,
    ExecutionRow,
    NodeResultRow,
    NodeRow,
    RetentionPolicyRow,
    ScenarioRow,
    ScenarioSecretRow,
    ScenarioVersionRow,
    TriggerStateRow,
    UserRow,
    WebhookSubscriptionRow,
)
from ..records import Execution, NodeResult, _Record
from ..statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus
from ._base import RepoBase, like_escape, rowcount, to_record, utcnow

__all__ = [
    "BATCH",
    "ERASED",
    "MIN_ERASE_LENGTH",
    "AnalyticsDeletion",
    "ErasureMatch",
    "PrivacyRepo",
    "RetentionPolicy",
    "erase_in",
]

#: rows per transaction of the batched deletions and searches
BATCH = 500
#: what an erased value is replaced with, inside the JSON
ERASED = "[erased]"
#: the shortest value that may be searched for and erased (shorter ones match too much)
MIN_ERASE_LENGTH = 3
#: the subject type of a per-user retention policy (a team would be another)
USER_SUBJECT = "user"
_ERASE_AAD = "analytics_deletions/erase"


@dataclass(frozen=True, slots=True)
class RetentionPolicy(_Record):
    """A subject's own retention periods (None: the server's setting)."""

    subject_type: str
    subject_id: str
    retention_days: int | None
    retention_failed_days: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AnalyticsDeletion:
    """A queued change of the analytics log: ``executions`` (``ids``), ``user``
    (``target``: the user id) or ``erase`` (``target``: the value, decrypted)."""

    id: int
    kind: str
    target: str
    ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ErasureMatch(_Record):
    """An execution whose record holds the searched value (any user's)."""

    _private: ClassVar[tuple[str, ...]] = ()

    id: str
    user_id: str
    scenario_id: str
    status: str
    created_at: datetime


def erase_in(value: Any, pattern: re.Pattern[str]) -> tuple[Any, bool]:
    """``value`` (JSON) with every match of ``pattern`` in its strings and keys replaced
    by :data:`ERASED`; and whether anything was."""
    if isinstance(value, str):
        erased = pattern.sub(ERASED, value)
        return erased, erased != value
    if isinstance(value, list):
        items = [erase_in(v, pattern) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            new_key, key_changed = erase_in(key, pattern)
            new_item, item_changed = erase_in(item, pattern)
            out[new_key] = new_item
            changed = changed or key_changed or item_changed
        return out, changed
    return value, False


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(re.escape(value), re.IGNORECASE)


class PrivacyRepo(RepoBase):
    # -- retention policies -------------------------------------------------------------

    def retention_policy(self, user_id: str) -> RetentionPolicy | None:
        """The user's own retention periods, or None (the server's apply)."""
        with self._read() as s:
            row = s.get(RetentionPolicyRow, (USER_SUBJECT, user_id))
            return None if row is None else to_record(RetentionPolicy, row)

    def retention_policies(self) -> list[RetentionPolicy]:
        """Every user's own retention periods."""
        query = select(RetentionPolicyRow).where(RetentionPolicyRow.subject_type == USER_SUBJECT)
        with self._read() as s:
            return [to_record(RetentionPolicy, r) for r in s.scalars(query)]

    def set_retention_policy(
        self, user_id: str, *, retention_days: int | None, retention_failed_days: int | None
    ) -> RetentionPolicy | None:
        """Set the user's own periods (both None: remove them; the server's apply)."""
        with self._write() as s:
            row = s.get(RetentionPolicyRow, (USER_SUBJECT, user_id))
            if retention_days is None and retention_failed_days is None:
                if row is not None:
                    s.delete(row)
                return None
            if row is None:
                row = RetentionPolicyRow(subject_type=USER_SUBJECT, subject_id=user_id)
                s.add(row)
            row.retention_days = retention_days
            row.retention_failed_days = retention_failed_days
            row.updated_at = utcnow()
            s.flush()
            return to_record(RetentionPolicy, row)

    def delete_expired_executions(
        self,
        *,
        cutoff: datetime,
        failed_cutoff: datetime,
        user_id: str | None = None,
        exclude_users: Sequence[str] = (),
        limit: int = BATCH,
        analytics: bool = True,
    ) -> int:
        """Retention, one batch: delete up to ``limit`` finished executions created before
        ``cutoff`` (failed ones: before ``failed_cutoff``) of one user, or of every user
        but ``exclude_users``; their node results and outbox rows go with them and the
        analytics log is told (unless ``analytics`` is off: nothing reads the queue then).
        Returns how many (less than ``limit``: nothing is left)."""
        expired = or_(
            and_(ExecutionRow.status != ExecutionStatus.FAILED, ExecutionRow.created_at < cutoff),
            and_(
                ExecutionRow.status == ExecutionStatus.FAILED,
                ExecutionRow.created_at < failed_cutoff,
            ),
        )
        query = select(ExecutionRow.id).where(
            ExecutionRow.status.in_(FINAL_EXECUTION_STATUSES), expired
        )
        if user_id is not None:
            query = query.where(ExecutionRow.user_id == user_id)
        if exclude_users:
            query = query.where(ExecutionRow.user_id.not_in(list(exclude_users)))
        with self._write() as s:
            ids = list(s.scalars(query.order_by(ExecutionRow.id).limit(limit)))
            self._delete_executions(s, ids, analytics=analytics)
            return len(ids)

    def _delete_executions(self, s: Session, ids: list[str], *, analytics: bool) -> None:
        """Delete these executions, their node results and outbox rows, and queue their
        removal from the analytics log."""
        if not ids:
            return
        s.execute(delete(NodeResultRow).where(NodeResultRow.execution_id.in_(ids)))
        s.execute(delete(AnalyticsOutboxRow).where(AnalyticsOutboxRow.execution_id.in_(ids)))
        s.execute(delete(ExecutionRow).where(ExecutionRow.id.in_(ids)))
        if analytics:
            row = AnalyticsDeletionRow(
                kind="executions", target=json.dumps(ids), created_at=utcnow()
            )
            s.add(row)

    # -- export -------------------------------------------------------------------------

    def scenario_versions(self, scenario_id: str) -> list[tuple[int, datetime, Any]]:
        """Every saved version of a scenario: (version, saved at, document), oldest first."""
        query = (
            select(
                ScenarioVersionRow.version,
                ScenarioVersionRow.created_at,
                ScenarioVersionRow.document,
            )
            .where(ScenarioVersionRow.scenario_id == scenario_id)
            .order_by(ScenarioVersionRow.version)
        )
        with self._read() as s:
            return [(int(v), at, doc) for v, at, doc in s.execute(query)]

    def executions_page(
        self, user_id: str, *, after: str | None = None, limit: int = BATCH
    ) -> list[tuple[Execution, list[NodeResult]]]:
        """One page of the user's executions in id order (after the id ``after``), each
        with its node results: what an export streams through."""
        query = select(ExecutionRow).where(ExecutionRow.user_id == user_id)
        if after is not None:
            query = query.where(ExecutionRow.id > after)
        with self._read() as s:
            executions = [
                to_record(Execution, r)
                for r in s.scalars(query.order_by(ExecutionRow.id).limit(limit))
            ]
            if not executions:
                return []
            results: dict[str, list[NodeResult]] = {e.id: [] for e in executions}
            rows = s.scalars(
                select(NodeResultRow)
                .where(NodeResultRow.execution_id.in_(list(results)))
                .order_by(NodeResultRow.execution_id, NodeResultRow.seq)
            )
            for row in rows:
                results[row.execution_id].append(to_record(NodeResult, row))
        return [(e, results[e.id]) for e in executions]

    # -- account deletion ---------------------------------------------------------------

    def delete_account(self, user_id: str, *, batch: int = BATCH) -> dict[str, int]:
        """Delete the user and every row of theirs: executions (``batch`` per
        transaction, with their node results and outbox rows), then scenarios with their
        versions, cells, trigger state and webhook subscriptions, connections, typed
        secrets, data stores with their records, alert rules, API keys, their own
        retention policy, and the user. The analytics log is told to drop every row of
        the user's (one queued row, whether analytics is on or not: the file may hold rows
        from when it was). The audit trail is kept (see docs/security.md). Returns rows
        deleted per table."""
        counts: dict[str, int] = {"scenario_executions": 0}
        while True:
            with self._write() as s:
                ids = list(
                    s.scalars(
                        select(ExecutionRow.id)
                        .where(ExecutionRow.user_id == user_id)
                        .order_by(ExecutionRow.id)
                        .limit(batch)
                    )
                )
                self._delete_executions(s, ids, analytics=False)  # the "user" row covers them
            counts["scenario_executions"] += len(ids)
            if len(ids) < batch:
                break
        with self._write() as s:
            scenarios = select(ScenarioRow.id).where(ScenarioRow.user_id == user_id)
            stores = select(DataStoreRow.id).where(DataStoreRow.user_id == user_id)
            steps: list[tuple[str, Any]] = [
                ("webhook_subscriptions", WebhookSubscriptionRow.scenario_id.in_(scenarios)),
                ("trigger_state", TriggerStateRow.scenario_id.in_(scenarios)),
                ("nodes", NodeRow.scenario_id.in_(scenarios)),
                ("scenario_versions", ScenarioVersionRow.scenario_id.in_(scenarios)),
                ("scenarios", ScenarioRow.user_id == user_id),
                ("connections", ConnectionRow.user_id == user_id),
                ("scenario_secrets", ScenarioSecretRow.user_id == user_id),
                ("data_records", DataRecordRow.store_id.in_(stores)),
                ("data_stores", DataStoreRow.user_id == user_id),
                ("alert_rules", AlertRuleRow.user_id == user_id),
                ("api_keys", ApiKeyRow.user_id == user_id),
                (
                    "retention_policies",
                    and_(
                        RetentionPolicyRow.subject_type == USER_SUBJECT,
                        RetentionPolicyRow.subject_id == user_id,
                    ),
                ),
                ("users", UserRow.id == user_id),
            ]
            for table, condition in steps:
                model = _MODELS[table]
                counts[table] = rowcount(s.execute(delete(model).where(condition)))
            s.add(AnalyticsDeletionRow(kind="user", target=user_id, created_at=utcnow()))
        return counts

    # -- erasure of a data subject's value ----------------------------------------------

    def _contains(self, column: Any, value: str) -> ColumnElement[bool]:
        """The JSON column's text holds ``value`` (case-insensitively), as written or as
        JSON escapes it (quotes, backslashes; non-ASCII in older SQLite rows)."""
        stored = column.cast(Text)
        spellings = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1]}
        return or_(*(stored.ilike(f"%{like_escape(t)}%", escape="!") for t in sorted(spellings)))

    def find_executions_containing(
        self, value: str, *, after: str | None = None, limit: int = BATCH
    ) -> list[ErasureMatch]:
        """Up to ``limit`` executions of any user (in id order, after ``after``) whose
        trigger data, error, the call a "Wait for a call" cell took, or a cell's input,
        output or error holds ``value``."""
        cells = exists(
            select(NodeResultRow.id).where(
                NodeResultRow.execution_id == ExecutionRow.id,
                or_(
                    self._contains(NodeResultRow.input, value),
                    self._contains(NodeResultRow.output, value),
                    self._contains(NodeResultRow.error, value),
                ),
            )
        )
        query = select(
            ExecutionRow.id,
            ExecutionRow.user_id,
            ExecutionRow.scenario_id,
            ExecutionRow.status,
            ExecutionRow.created_at,
        ).where(
            or_(
                self._contains(ExecutionRow.trigger, value),
                self._contains(ExecutionRow.error, value),
                self._contains(ExecutionRow.resume_call, value),
                cells,
            )
        )
        if after is not None:
            query = query.where(ExecutionRow.id > after)
        with self._read() as s:
            rows = s.execute(query.order_by(ExecutionRow.id).limit(limit))
            return [ErasureMatch(*row) for row in rows]

    def erase_value(self, value: str, execution_ids: Sequence[str]) -> tuple[int, int]:
        """Replace ``value`` by :data:`ERASED` in these executions' trigger data and error,
        their cells' inputs, outputs and errors, and their waiting outbox rows; queue the
        same for the analytics log. Returns (executions, cell records) changed."""
        if not execution_ids:
            return 0, 0
        pattern = _pattern(value)
        ids = list(execution_ids)
        changed_executions = changed_cells = 0
        with self._write() as s:
            executions = s.execute(
                select(
                    ExecutionRow.id,
                    ExecutionRow.trigger,
                    ExecutionRow.error,
                    ExecutionRow.resume_call,
                ).where(ExecutionRow.id.in_(ids))
            ).all()
            for execution_id, trigger, error, call in executions:
                new_trigger, a = erase_in(trigger, pattern)
                new_error, b = erase_in(error, pattern)
                new_call, c = erase_in(call, pattern)
                if a or b or c:
                    changed_executions += 1
                    s.execute(
                        update(ExecutionRow)
                        .where(ExecutionRow.id == execution_id)
                        .values(trigger=new_trigger, error=new_error, resume_call=new_call)
                    )
            results = s.execute(
                select(
                    NodeResultRow.id, NodeResultRow.input, NodeResultRow.output, NodeResultRow.error
                ).where(NodeResultRow.execution_id.in_(ids))
            ).all()
            for result_id, inputs, output, error in results:
                new_in, a = erase_in(inputs, pattern)
                new_out, b = erase_in(output, pattern)
                new_error, c = erase_in(error, pattern)
                if a or b or c:
                    changed_cells += 1
                    s.execute(
                        update(NodeResultRow)
                        .where(NodeResultRow.id == result_id)
                        .values(input=new_in, output=new_out, error=new_error)
                    )
            outbox = s.execute(
                select(AnalyticsOutboxRow.id, AnalyticsOutboxRow.payload).where(
                    AnalyticsOutboxRow.execution_id.in_(ids)
                )
            ).all()
            for row_id, payload in outbox:
                new_payload, changed = erase_in(jsoncodec.loads(payload), pattern)
                if changed:
                    s.execute(
                        update(AnalyticsOutboxRow)
                        .where(AnalyticsOutboxRow.id == row_id)
                        .values(payload=jsoncodec.dumps(new_payload))
                    )
        return changed_executions, changed_cells

    def queue_analytics_erasure(self, value: str) -> None:
        """Ask the analytics log's owner to replace ``value`` in its rows (the value is
        kept encrypted until then)."""
        token = self._vault.encrypt(value, aad=_ERASE_AAD)
        with self._write() as s:
            s.add(AnalyticsDeletionRow(kind="erase", target=token, created_at=utcnow()))

    # -- the analytics log's queue ------------------------------------------------------

    def take_analytics_deletions(self, limit: int = 100) -> list[AnalyticsDeletion]:
        """The oldest queued changes of the analytics log, left until discarded."""
        query = select(AnalyticsDeletionRow).order_by(AnalyticsDeletionRow.id).limit(limit)
        with self._read() as s:
            rows = list(s.scalars(query))
        out = []
        for row in rows:
            if row.kind == "executions":
                ids = tuple(str(i) for i in json.loads(row.target))
                out.append(AnalyticsDeletion(row.id, row.kind, "", ids))
            elif row.kind == "erase":
                value = str(self._vault.decrypt(row.target, aad=_ERASE_AAD))
                out.append(AnalyticsDeletion(row.id, row.kind, value))
            else:
                out.append(AnalyticsDeletion(row.id, row.kind, row.target))
        return out

    def discard_analytics_deletions(self, ids: Sequence[int]) -> None:
        """Delete queued changes the analytics log has applied."""
        if not ids:
            return
        stmt = delete(AnalyticsDeletionRow).where(
            AnalyticsDeletionRow.id.in_(bindparam("ids", expanding=True))
        )
        with self._write_conn() as conn:
            conn.execute(stmt, {"ids": list(ids)})

    def analytics_deletions_backlog(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(AnalyticsDeletionRow)) or 0)


_MODELS: dict[str, Any] = {
    "webhook_subscriptions": WebhookSubscriptionRow,
    "trigger_state": TriggerStateRow,
    "nodes": NodeRow,
    "scenario_versions": ScenarioVersionRow,
    "scenarios": ScenarioRow,
    "connections": ConnectionRow,
    "scenario_secrets": ScenarioSecretRow,
    "data_records": DataRecordRow,
    "data_stores": DataStoreRow,
    "alert_rules": AlertRuleRow,
    "api_keys": ApiKeyRow,
    "retention_policies": RetentionPolicyRow,
    "users": UserRow,
}
