"""SQLAlchemy 2.0 ORM tables.

The same models serve SQLite (embedded mode) and PostgreSQL (scaled out). The schema is
created only through the Alembic migrations in ``storage/migrations``; a test checks
that the migrated database matches these models on both databases.

Conventions:
- string primary keys (:func:`storage.repos._base.new_id`, sortable by creation time);
- JSON columns are ``JSON`` on SQLite and ``JSONB`` on PostgreSQL; Python ``None``
  is stored as SQL ``NULL``;
- datetimes are stored in UTC and always come back timezone-aware (:class:`UTCDateTime`);
- allowed values of status-like columns are enforced by CHECK constraints built from
  the tuples below, which the repositories also use to validate arguments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .statuses import ConnectionStatus, ExecutionStatus, NodeStatus, ScenarioStatus

AUTH_TYPES = ("oauth2", "api_key", "basic", "custom", "none")
APP_SOURCES = ("code", "user")
CONNECTION_STATUSES = tuple(ConnectionStatus)
SCENARIO_STATUSES = tuple(ScenarioStatus)
NODE_TYPES = ("trigger", "action", "transformer", "condition", "loop", "aggregate")
EXECUTION_STATUSES = tuple(ExecutionStatus)
NODE_RESULT_STATUSES = tuple(NodeStatus)
AUDIT_SOURCES = ("workspace", "api", "cli", "system")  # storage.audit_chain.AUDIT_SOURCES

ID = String(32)  # new_id(): 16 hex digits of time_ns + 16 random hex digits

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite has no time zones and returns naive values: they are read back as UTC.
    Naive datetimes are refused on the way in, since their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> Any:
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: _json(), Any: _json()}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String, unique=True)
    name: Mapped[str] = mapped_column(String)
    password_hash: Mapped[str | None] = mapped_column(String)
    is_admin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String)
    prefix: Mapped[str] = mapped_column(String(8))
    # sha256 hex of the full key. A fast hash is right here (unlike passwords): keys are
    # 256-bit random values, so there is nothing to brute-force and lookups stay O(1).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AppRow(Base):
    __tablename__ = "apps"
    __table_args__ = (_one_of("auth_type", AUTH_TYPES), _one_of("source", APP_SOURCES))

    id: Mapped[str] = mapped_column(String, primary_key=True)  # the app key, e.g. "slack"
    name: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text)
    icon_url: Mapped[str | None] = mapped_column(String)
    category: Mapped[str | None] = mapped_column(String)
    auth_type: Mapped[str] = mapped_column(String(16))
    auth_config: Mapped[Any]
    triggers: Mapped[Any]
    actions: Mapped[Any]
    source: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime]


class ConnectionRow(Base):
    __tablename__ = "connections"
    __table_args__ = (
        _one_of("status", CONNECTION_STATUSES),
        Index("ix_connections_user_id_app_id", "user_id", "app_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # The app key, deliberately not a foreign key: the catalog mirrors the code registry,
    # and a connection must survive its app being removed or renamed ("app unavailable").
    app_id: Mapped[str] = mapped_column(String)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str | None] = mapped_column(Text)
    credentials: Mapped[str] = mapped_column(Text)  # a Vault token, never plaintext
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_used: Mapped[datetime | None]
    usage_count: Mapped[int] = mapped_column(Integer)
    # "metadata" is reserved by declarative classes: the attribute is metadata_
    metadata_: Mapped[Any] = mapped_column("metadata")
    is_sandbox: Mapped[bool] = mapped_column(Boolean)
    # /hooks/apps/<app>/<token>, for apps whose vendor sends all of a connection's events to
    # one URL (a Slack app's Request URL); created when first shown. A unique index rather
    # than a constraint: SQLite adds an index without copying the table.
    webhook_token: Mapped[str | None] = mapped_column(String, unique=True, index=True)


class ScenarioRow(Base):
    __tablename__ = "scenarios"
    __table_args__ = (_one_of("status", SCENARIO_STATUSES),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_run: Mapped[datetime | None]
    schedule: Mapped[Any | None]
    error_handling: Mapped[Any]
    version: Mapped[int] = mapped_column(Integer)  # the latest saved version (the draft)
    document: Mapped[Any]  # the latest saved version's document
    webhook_token: Mapped[str | None] = mapped_column(String, unique=True)
    # the version the scenario's trigger runs; NULL until the first publish
    live_version: Mapped[int | None] = mapped_column(Integer)
    # the document's tags (normalised lower-case strings), for grouping and filtering
    tags: Mapped[Any] = mapped_column(server_default=text("'[]'"))
    # set for the hidden scenario that keeps `cellwright run FILE`'s runs: that file's path
    source_file: Mapped[str | None] = mapped_column(String)
    # why the scenario is in its status, when the system put it there (paused after
    # failures in a row: status "error"); cleared by the next status change
    status_reason: Mapped[str | None] = mapped_column(Text)


class ScenarioVersionRow(Base):
    __tablename__ = "scenario_versions"

    scenario_id: Mapped[str] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[Any]
    created_at: Mapped[datetime]


class NodeRow(Base):
    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("scenario_id", "cell_id"),
        _one_of("type", NODE_TYPES),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    cell_id: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    type: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), index=True
    )
    branch: Mapped[str | None] = mapped_column(String)
    # app and connection are references from the document, not foreign keys: a document
    # may name a connection that was deleted since, and must still save.
    app_id: Mapped[str | None] = mapped_column(String)
    connection_id: Mapped[str | None] = mapped_column(String, index=True)
    operation: Mapped[str | None] = mapped_column(String)
    config: Mapped[Any | None]
    input_mappings: Mapped[Any | None]
    output_mappings: Mapped[Any | None]
    conditions: Mapped[Any | None]


class ExecutionRow(Base):
    __tablename__ = "scenario_executions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["scenario_id", "scenario_version"],
            ["scenario_versions.scenario_id", "scenario_versions.version"],
            ondelete="CASCADE",
            name="fk_scenario_executions_scenario_version",
        ),
        UniqueConstraint("scenario_id", "idempotency_key"),
        _one_of("status", EXECUTION_STATUSES),
        # history page: per user / per scenario / per status, newest first
        Index("ix_scenario_executions_user_id_created_at", "user_id", "created_at"),
        Index(
            "ix_scenario_executions_user_id_status_created_at", "user_id", "status", "created_at"
        ),
        Index("ix_scenario_executions_scenario_id_created_at", "scenario_id", "created_at"),
        Index("ix_scenario_executions_created_at", "created_at"),
        # a run's sub-scenario calls ("called by"; the history filters by parent)
        Index("ix_scenario_executions_parent_execution_id", "parent_execution_id"),
        # reclaiming: open executions whose lease expired or whose retry is due
        Index(
            "ix_scenario_executions_status_next_attempt_at_lease_until",
            "status",
            "next_attempt_at",
            "lease_until",
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scenario_id: Mapped[str] = mapped_column(ID)
    scenario_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    trigger: Mapped[Any | None]
    error: Mapped[Any | None]
    idempotency_key: Mapped[str | None] = mapped_column(String)
    attempt: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String)
    # Claims of this execution while it was still "running" under an expired lease:
    # how often a process died (or stalled) with it. The runner gives up past a limit.
    reclaims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    # History pointers, not foreign keys: retention may delete the original first.
    rerun_of: Mapped[str | None] = mapped_column(ID)
    resume_from: Mapped[str | None] = mapped_column(String)  # a cell id
    created_at: Mapped[datetime]
    # Cellwright-to-Cellwright webhook calls that led here (X-Cellwright-Hops): bounds loops
    hops: Mapped[int] = mapped_column(Integer, server_default="0")
    # "Wait for a call": the run's resume URL token (set when a scenario with a wait cell
    # runs) and the call it received (or {"timed_out": true}): the token takes one call.
    resume_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    resume_call: Mapped[Any | None]
    # the run whose "Run scenario" cell started this one (a history pointer, not a key)
    parent_execution_id: Mapped[str | None] = mapped_column(ID, nullable=True)


class NodeResultRow(Base):
    __tablename__ = "node_results"
    __table_args__ = (
        UniqueConstraint("execution_id", "seq"),  # also the index for "results of one execution"
        _one_of("status", NODE_RESULT_STATUSES),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_executions.id", ondelete="CASCADE")
    )
    cell_id: Mapped[str] = mapped_column(String)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    input: Mapped[Any | None]
    output: Mapped[Any | None]
    error: Mapped[Any | None]
    seq: Mapped[int] = mapped_column(Integer)
    # the loop item the cell ran for: its index, after the enclosing loops' ("2/5"); NULL
    # outside loops. A loop cell's row with an item is that item's summary.
    item: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TriggerStateRow(Base):
    __tablename__ = "trigger_state"

    scenario_id: Mapped[str] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[str] = mapped_column(String, primary_key=True)
    cursor: Mapped[Any | None]
    seen_ids: Mapped[Any]
    baseline_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class WebhookSubscriptionRow(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scenario_id: Mapped[str] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), index=True
    )
    cell_id: Mapped[str] = mapped_column(String)
    token: Mapped[str] = mapped_column(String, unique=True)
    app_id: Mapped[str] = mapped_column(String)
    connection_id: Mapped[str | None] = mapped_column(String)
    external_id: Mapped[str | None] = mapped_column(String)
    state: Mapped[str | None] = mapped_column(Text)  # a Vault token: may hold signing secrets
    created_at: Mapped[datetime]


class AuditRow(Base):
    """One entry of the append-only audit trail, chained to the previous one by hash
    (``storage/audit_chain.py``)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_user_id_at", "user_id", "at"),
        _one_of("source", AUDIT_SOURCES),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    #: position in the chain: 1, 2, 3… (unique: two writers can never both append N)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    # not foreign keys: the trail outlives the users it is about
    user_id: Mapped[str | None] = mapped_column(String)
    actor_id: Mapped[str | None] = mapped_column(String, index=True)
    action: Mapped[str] = mapped_column(String)
    object_type: Mapped[str] = mapped_column(String)
    object_id: Mapped[str | None] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(index=True)
    details: Mapped[Any | None]
    source: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AlertRuleRow(Base):
    """A user's rule: when a scenario (or any, ``scenario_id`` NULL) fails, tell them."""

    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # a pointer, not a foreign key: a rule outlives its scenario ("a deleted scenario")
    scenario_id: Mapped[str | None] = mapped_column(ID)
    notify_workspace: Mapped[bool] = mapped_column(Boolean)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # e-mail alerts: one of the user's SMTP connections (a pointer, checked when the rule is
    # made and again when it sends) and the recipients' addresses (a JSON list)
    email_connection_id: Mapped[str | None] = mapped_column(ID)
    email_to: Mapped[Any | None]


class RevokedSessionRow(Base):
    """A signed-out session cookie (its nonce), refused by every process until it
    would have expired anyway."""

    __tablename__ = "revoked_sessions"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailureRow(Base):
    """One failed sign-in, counted under an opaque key (a digest of the source address,
    or of the address and e-mail): the throttle every process shares."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class ScenarioSecretRow(Base):
    """A secret typed into a cell input (an HTTP bearer token, a webhook's signing
    secret). Documents hold ``{"$secret": <id>}`` instead of the value; the value is a
    vault token bound to this row. Rows are never changed: typing a new secret makes a new
    row, so older versions of a scenario keep theirs."""

    __tablename__ = "scenario_secrets"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # scoped to the user, not to one scenario: the owner's export imported as a copy
    # keeps working, while another user's reference is refused
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(Text)  # a Vault token, never plaintext
    created_at: Mapped[datetime]


class AnalyticsOutboxRow(Base):
    """A finished execution's analytics facts, written in the transaction that finishes
    it and waiting to be copied into the DuckDB analytics log.

    Any process may write here (a web process, a worker, ``cellwright run``); the one
    process that owns the DuckDB file copies the rows and then deletes them. A crash
    between the copy and the delete copies them again, which replaces, never doubles
    (:mod:`storage.analytics`). ``id`` only orders the copies: rows are deleted by id,
    never "everything below a cursor" (on PostgreSQL a smaller id can commit later).
    """

    __tablename__ = "analytics_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(ID)
    payload: Mapped[str] = mapped_column(Text)  # JSON: {"execution": {...}, "nodes": [...]}
    created_at: Mapped[datetime]


class LeaseRow(Base):
    """A named lease (storage/repos/leases.py): which process does a job right now."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String)
    until: Mapped[datetime]
    epoch: Mapped[int] = mapped_column(Integer)


class DataStoreRow(Base):
    """A user's named table of keyed records (the Data store app reads and writes it)."""

    __tablename__ = "data_stores"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class DataRecordRow(Base):
    """One record of a data store: a key and a JSON value."""

    __tablename__ = "data_records"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("data_stores.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any | None]  # JSON; a stored null is SQL NULL
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RetentionPolicyRow(Base):
    """How long one subject's executions are kept, overriding the server's setting
    (``retention_days``). The subject is a user today (``subject_type`` "user"); a team
    can become another subject type. NULL: the server's setting."""

    __tablename__ = "retention_policies"

    subject_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    retention_failed_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class AnalyticsDeletionRow(Base):
    """Rows the DuckDB analytics log must lose, waiting for the process that owns it:
    ``kind`` "executions" (``target``: a JSON list of execution ids), "user" (a user id)
    or "erase" (a vault token of a value to replace with the erasure marker)."""

    __tablename__ = "analytics_deletions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
