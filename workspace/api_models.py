"""Request and response models of the REST API (they generate the OpenAPI description)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    error: str = Field(description="Stable error code, e.g. not_found, invalid_input.")
    message: str = Field(description="What went wrong, for people.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For invalid input: one item per field (field, message)."
    )


class OperationSummary(BaseModel):
    key: str
    name: str
    description: str | None = None
    kind: str | None = None
    trigger_type: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    sample: dict[str, Any] | None = None


class OptionSourceOut(BaseModel):
    key: str = Field(
        description="The source's key, named by fields' x-options in the input schemas."
    )
    name: str = Field(description="What it lists, e.g. Slack channels.")
    needs: list[str] = Field(
        default_factory=list, description="Fields whose value it needs (send them in values)."
    )


class OptionOut(BaseModel):
    value: str | int = Field(description="What the field receives (an ID).")
    label: str = Field(description="What people read, e.g. #general.")


class AppOut(BaseModel):
    key: str
    name: str
    description: str
    category: str
    icon: str = Field(
        description="The app's icon: the name of a shipped icon, or 'inline' for an app that "
        "brings its own SVG."
    )
    icon_url: str = Field(description="Where the server serves the app's logo (SVG).")
    auth: str = Field(description="The default auth type: oauth2, api_key, basic, custom or none.")
    auth_types: list[str] = Field(
        default_factory=list, description="Every auth type a connection can use, the default first."
    )
    builtin: bool
    has_sandbox: bool
    connection_webhook: bool = Field(
        False,
        description="True when the vendor sends every event of a connection to one URL (a Slack "
        "app's Request URL): the connection's events_url.",
    )
    auth_schema: dict[str, Any] | None = Field(
        None, description="The default auth kind's form (JSON Schema)."
    )
    auth_schemas: dict[str, dict[str, Any]] | None = Field(
        None, description="Per auth type, its form (JSON Schema)."
    )
    triggers: list[OperationSummary]
    actions: list[OperationSummary]
    options: list[OptionSourceOut] | None = Field(
        None, description="Where ID fields' choices come from (fields name them with x-options)."
    )


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: str = Field(description="App key.")
    name: str | None = Field(None, description="A label; default: from the app's test call.")
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="The app's auth fields. Write-only: never returned."
    )
    sandbox: bool = Field(
        False,
        description="Point the connection at the app's built-in simulator (no account needed).",
    )
    auth_type: str | None = Field(
        None,
        description="Which of the app's auth types (its auth_types); default: the first. OAuth "
        "sign-in starts at /api/v1/oauth/{app}/authorize.",
    )


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    credentials: dict[str, Any] | None = Field(
        None, description="New credentials (write-only); the connection is re-tested."
    )


class ConnectionOut(BaseModel):
    id: str
    app_id: str
    name: str
    status: Literal["active", "error", "disconnected"]
    status_message: str | None = None
    is_sandbox: bool
    created_at: str | None = None
    updated_at: str | None = None
    last_used: str | None = None
    usage_count: int = 0
    metadata: dict[str, Any] | None = None
    events_url: str | None = Field(
        None,
        description="For apps whose vendor sends every event of a connection to one URL (Slack: "
        "the app's Events API Request URL): that URL. Every enabled scenario with "
        "one of the app's instant triggers on this connection receives the events it "
        "asks for.",
    )


class ScenarioOut(BaseModel):
    id: str
    name: str
    description: str | None = None
    tags: list[str] = Field(
        default_factory=list,
        description="The scenario's tags (lower-case), from its latest saved document.",
    )
    status: str = Field(
        description="active, draft, paused, or error: paused by the system after failed runs in "
        "a row (status_reason says why; enabling it again clears both)."
    )
    status_reason: str | None = Field(
        None, description="Why the system set the status (status error), else null."
    )
    version: int = Field(
        description="The latest saved version (the draft); saving never changes what runs."
    )
    live_version: int | None = Field(
        None,
        description="The published version: what the scenario's trigger runs. null: never "
        "published.",
    )
    created_at: str | None = None
    updated_at: str | None = None
    last_run: str | None = None
    webhook_url: str | None = None
    document: dict[str, Any] | None = None


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The saved version to publish; default: the latest."
    )


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger_data: dict[str, Any] = Field(
        default_factory=dict,
        description="The trigger's output for this run (e.g. a webhook's body, headers…).",
    )
    wait: bool = Field(True, description="Wait for the run to finish and return it.")


class RunCellIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: dict[str, Any] = Field(
        default_factory=dict, description="The trigger output the cell's mappings see."
    )
    steps: dict[str, Any] = Field(
        default_factory=dict, description="Earlier cells' outputs by cell id."
    )
    document: dict[str, Any] | None = Field(
        None,
        description="An unsaved scenario document to take the cell from (default: the saved one).",
    )


class CellResultOut(BaseModel):
    cell_id: str
    status: str
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: float | None = None
    item: str | None = Field(
        None,
        description="The loop item this cell run was for: its index, after the enclosing loops' "
        "('2/5'); null outside loops. A loop cell's run with an item is that item's "
        "summary.",
    )


class ResumeIn(BaseModel):
    """A call to a waiting run's 'Wait for a call' cell, made by its owner."""

    model_config = ConfigDict(extra="forbid")
    body: Any = Field(None, description="What the wait cell's output 'body' holds.")


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_start: bool = Field(False, description="Run every cell again.")
    from_cell: str | None = Field(
        None, description="Run from this cell; earlier cells keep their recorded outputs."
    )
    latest: bool = Field(
        False,
        description="Run the scenario's latest saved version (after a fix; published or not) "
        "instead of the version the execution ran.",
    )


class WaitingOut(BaseModel):
    """What a waiting run waits for."""

    model_config = ConfigDict(extra="allow")
    for_: Literal["time", "call", "retry"] = Field(
        alias="for",
        description="time: a delay cell; call: a 'Wait for a call' cell; retry: a retry.",
    )
    cell_id: str | None = Field(None, description="The delay cell the run is parked at.")
    until: str | None = Field(
        None, description="When it resumes (for a call: when the wait times out), ISO 8601."
    )
    resume_url: str | None = Field(None, description="Where the call goes (for: call).")


class CalledInputOut(BaseModel):
    """One input a callable scenario declares (its trigger "When called by another scenario")."""

    name: str
    type: str = Field(description="text, number, integer, boolean, object, list or any.")
    required: bool
    description: str | None = None


class ChildExecutionOut(BaseModel):
    id: str
    scenario_id: str
    status: str


class ExecutionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    scenario_id: str
    scenario_version: int
    status: str
    start_time: str | None = None
    end_time: str | None = None
    duration_ms: float | None = None
    trigger: Any = None
    error: dict[str, Any] | None = None
    attempt: int = 0
    rerun_of: str | None = None
    hops: int = Field(
        0,
        description="How many Cellwright scenarios called one another's webhooks to start this "
        "run (X-Cellwright-Hops).",
    )
    created_at: str | None = None
    parent_execution_id: str | None = Field(
        None,
        description="The run whose Run scenario cell called this one (sub-scenarios); null "
        "for a run started by its own trigger.",
    )
    cells: list[CellResultOut] | None = Field(
        None, description="Every cell run, in order (on the single-execution endpoint)."
    )
    waiting: WaitingOut | None = Field(
        None,
        description="While the run is 'waiting' (on the single-execution endpoint): what for.",
    )
    resume_url: str | None = Field(
        None,
        description="The run's resume URL (a scenario with a 'Wait for a call' cell), for its"
        " owner only.",
    )
    children: list[ChildExecutionOut] | None = Field(
        None,
        description="The runs this one's Run scenario cells called, oldest first "
        "(on the single-execution endpoint).",
    )


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


class DataStoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1,
        max_length=100,
        description="The store's name (unique among your stores); the Data store app's cells "
        "name it.",
        examples=["orders"],
    )


class DataStoreOut(BaseModel):
    id: str
    name: str = Field(description="The store's name.")
    records: int = Field(description="How many records it holds.")
    created_at: str


class DataRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(
        description="Any JSON value: text, number, true/false, null, a list or an object.",
        examples=[{"order_id": "ord_1001"}],
    )


class DataRecordOut(BaseModel):
    key: str
    value: Any = Field(None, description="The stored JSON value.")
    created_at: str
    updated_at: str


class DataRecordPage(BaseModel):
    items: list[DataRecordOut]
    total: int = Field(description="How many records match (all pages).")
    limit: int
    offset: int


class DataStoreExport(BaseModel):
    name: str
    created_at: str
    records: list[DataRecordOut]


class AuditEntryOut(BaseModel):
    """One entry of the audit trail."""

    seq: int = Field(description="Position in the hash chain (1, 2, 3…).")
    at: datetime
    action: str = Field(description="What happened, e.g. scenario.publish, auth.sign_in_failed.")
    user_id: str | None = Field(
        description="Whose entry it is (the owner of the object, the account signing in)."
    )
    actor_id: str | None = Field(
        description="Who did it (None: nobody known, e.g. a failed sign-in)."
    )
    source: Literal["workspace", "api", "cli", "system"]
    ip: str | None = Field(
        description="The client's address (None for the CLI and the server's own work)."
    )
    object_type: str
    object_id: str | None
    details: dict[str, Any] | None = Field(description="What else is worth knowing; never secrets.")
    id: str
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    limit: int
    offset: int


class ErasureIn(BaseModel):
    value: str = Field(
        description="The value to erase, e.g. a data subject's e-mail address.",
        examples=["grace@example.org"],
    )


class RetentionIn(BaseModel):
    retention_days: int | None = Field(
        None, ge=1, le=36_500, description="Days; empty: the server's retention_days."
    )
    retention_failed_days: int | None = Field(
        None, ge=1, le=36_500, description="Days failed runs are kept; empty: the server's."
    )


class AccountDeleteIn(BaseModel):
    confirm: str = Field(
        description="Your e-mail address, to confirm.", examples=["ada@example.com"]
    )
