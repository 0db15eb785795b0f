"""Plain records returned by the :class:`~storage.Store`.

They are frozen dataclasses, detached from any database session, safe to hand across
threads and to keep after the store is closed. Field names mirror the table columns
(snake_case). ``to_dict()`` gives a JSON-ready dict for the REST API: datetimes become
ISO 8601 strings (always UTC, ``+00:00``) and fields holding secrets are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, NotRequired, TypedDict

from .statuses import ConnectionStatus, ExecutionStatus, NodeStatus, ScenarioStatus

JSON = Any  # a JSON-serialisable value (dict, list, str, int, float, bool or None)


class _Record:
    """Shared behaviour of every record."""

    __slots__ = ()

    #: fields never exported by :meth:`to_dict` (password hashes, decrypted secrets)
    _private: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (datetimes as ISO strings, no secrets)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in self._private:
                continue
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class User(_Record):
    """A person who owns connections and scenarios."""

    _private: ClassVar[tuple[str, ...]] = ("password_hash",)

    id: str
    email: str
    name: str
    is_admin: bool
    created_at: datetime
    password_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ApiKey(_Record):
    """An API key's public part; the key itself is shown once, at creation."""

    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AppRecord(_Record):
    """One app of the catalog (a mirror of the code registry, plus user-defined apps)."""

    id: str
    name: str
    description: str
    icon_url: str | None
    category: str | None
    auth_type: str
    auth_config: JSON
    triggers: JSON
    actions: JSON
    source: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Connection(_Record):
    """An authenticated link to an app. Credentials are never part of the record."""

    id: str
    app_id: str
    user_id: str
    name: str
    status: ConnectionStatus
    status_message: str | None
    created_at: datetime
    updated_at: datetime
    last_used: datetime | None
    usage_count: int
    metadata: JSON
    is_sandbox: bool

    def __post_init__(self) -> None:  # rows and JSON hold the plain word
        object.__setattr__(self, "status", ConnectionStatus(self.status))


@dataclass(frozen=True, slots=True)
class Scenario(_Record):
    """A scenario's metadata plus its latest saved document.

    ``version`` / ``document`` are the latest saved version (the draft being edited);
    ``live_version`` is the version the scenario's trigger runs (None: never published).
    """

    id: str
    user_id: str
    name: str
    description: str
    status: ScenarioStatus
    created_at: datetime
    updated_at: datetime
    last_run: datetime | None
    schedule: JSON
    error_handling: JSON
    version: int
    document: JSON
    webhook_token: str | None
    live_version: int | None
    tags: JSON
    #: the file whose runs this hidden scenario keeps (``cellwright run FILE``), else None
    source_file: str | None = None
    #: why the system set the status (``error``: paused after failed runs in a row), else None
    status_reason: str | None = None

    def __post_init__(self) -> None:  # rows and JSON hold the plain word
        object.__setattr__(self, "status", ScenarioStatus(self.status))


@dataclass(frozen=True, slots=True)
class Node(_Record):
    """A cell of a scenario, as derived from the document on save."""

    id: str
    scenario_id: str
    cell_id: str
    name: str
    type: str
    position: int
    parent_id: str | None
    parent_cell_id: str | None
    branch: str | None
    app_id: str | None
    connection_id: str | None
    operation: str | None
    config: JSON
    input_mappings: JSON
    output_mappings: JSON
    conditions: JSON


@dataclass(frozen=True, slots=True)
class Execution(_Record):
    """One run of a scenario."""

    id: str
    scenario_id: str
    scenario_version: int
    user_id: str
    status: ExecutionStatus
    start_time: datetime | None
    end_time: datetime | None
    duration_ms: float | None
    trigger: JSON
    error: JSON
    idempotency_key: str | None
    attempt: int
    lease_until: datetime | None
    lease_owner: str | None
    next_attempt_at: datetime | None
    rerun_of: str | None
    resume_from: str | None
    created_at: datetime
    hops: int = 0
    reclaims: int = 0  # takeovers after an expired lease (see ExecutionRow.reclaims)
    resume_token: str | None = None  # "Wait for a call": the run's resume URL token
    resume_call: JSON = None  # the call that came to it, or {"timed_out": true}
    parent_execution_id: str | None = None  # the run that called this one (sub-scenario)

    def __post_init__(self) -> None:  # rows and JSON hold the plain word
        object.__setattr__(self, "status", ExecutionStatus(self.status))


@dataclass(frozen=True, slots=True)
class NodeResult(_Record):
    """One run of one cell within an execution."""

    id: str
    execution_id: str
    cell_id: str
    attempt: int
    status: NodeStatus
    start_time: datetime | None
    end_time: datetime | None
    duration_ms: float | None
    input: JSON
    output: JSON
    error: JSON
    seq: int
    item: str | None = None
    """The loop item the cell ran for (``"3"``, ``"2/5"`` in nested loops); None outside loops."""

    def __post_init__(self) -> None:  # rows and JSON hold the plain word
        object.__setattr__(self, "status", NodeStatus(self.status))


@dataclass(frozen=True, slots=True)
class TriggerState(_Record):
    """What a polling trigger remembers between polls."""

    scenario_id: str
    cell_id: str
    cursor: JSON
    seen_ids: list[str]
    baseline_at: datetime | None
    next_poll_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookSubscription(_Record):
    """A subscription registered with a vendor for an instant trigger.

    ``state`` is decrypted (it may hold signing secrets): it is left out of ``to_dict()``
    and of ``repr()``.
    """

    _private: ClassVar[tuple[str, ...]] = ("state",)

    id: str
    scenario_id: str
    cell_id: str
    token: str
    app_id: str
    connection_id: str | None
    external_id: str | None
    created_at: datetime
    state: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AuditEntry(_Record):
    """One security-relevant event: ``user_id`` is whose entry it is (the owner of the
    object, the account signing in), ``actor_id`` who did it, ``source`` through which
    front end (``workspace``, ``api``, ``cli``, ``system``) and ``ip`` from where.
    ``seq``, ``prev_hash`` and ``hash`` chain it to the previous entry."""

    id: str
    seq: int
    user_id: str | None
    actor_id: str | None
    action: str
    object_type: str
    object_id: str | None
    at: datetime
    details: JSON
    source: str
    ip: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AlertRule(_Record):
    """A user's alert rule: when ``scenario_id`` (None: any scenario) fails, show it in
    the workspace, POST it to ``webhook_url`` and/or e-mail ``email_to`` through the
    user's SMTP connection ``email_connection_id``."""

    id: str
    user_id: str
    scenario_id: str | None
    notify_workspace: bool
    webhook_url: str | None
    created_at: datetime
    email_connection_id: str | None = None
    email_to: list[str] | None = None


class TokenCounts(TypedDict):
    """Model tokens a cell run used (AI steps)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnalyticsNode(TypedDict):
    """One cell run as the analytics log keeps it: no inputs, no outputs."""

    cell_id: str
    app: str | None
    operation: str | None
    kind: str | None
    status: str
    started_at: datetime | str | None
    ended_at: datetime | str | None
    duration_ms: float | None
    error: JSON
    usage: NotRequired[TokenCounts | None]
    """Model tokens of a cell that called one (the token columns of ``node_results``)."""


class AnalyticsFacts(TypedDict):
    """What the engine adds to a finishing execution for the analytics log."""

    scenario_name: str
    trigger_app: str | None
    nodes: list[AnalyticsNode]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A row of the analytics outbox: one finished execution's analytics facts."""

    id: int
    execution: dict[str, Any]
    nodes: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class DataStore(_Record):
    """A user's data store: a named table of keyed records; ``records``: how many."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    records: int = 0


@dataclass(frozen=True, slots=True)
class DataRecord(_Record):
    """One record of a data store: its key and JSON value."""

    store_id: str
    key: str
    value: JSON
    created_at: datetime
    updated_at: datetime
