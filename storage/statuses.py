"""The statuses of stored things, one type each, shared by storage and the engine.

They are ``StrEnum``s: a member *is* its string (``ExecutionStatus.FAILED == "failed"``),
so rows, JSON answers, the analytics log and the REST API keep the plain words, while
code names a status once and mypy catches a misspelt one. ``cells`` keeps its own
``Literal`` for a cell's result (it does not depend on storage); its words are the
same as ``NodeStatus``'s.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "FINAL_EXECUTION_STATUSES",
    "OPEN_EXECUTION_STATUSES",
    "ConnectionStatus",
    "ExecutionStatus",
    "NodeStatus",
    "ScenarioStatus",
]


class ExecutionStatus(StrEnum):
    """Where one run of a scenario is."""

    QUEUED = "queued"
    RUNNING = "running"
    #: parked: a delay, a wait for a call, a retry's backoff or a vendor's rate limit
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_EXECUTION_STATUSES


#: an execution that still has work to do (claimable, reclaimable)
OPEN_EXECUTION_STATUSES = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
)
#: what ``finish_execution`` accepts
FINAL_EXECUTION_STATUSES = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
)


class NodeStatus(StrEnum):
    """Where one cell of a run is (a cell's result: ``cells.run.CellResult.status``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class ScenarioStatus(StrEnum):
    ACTIVE = "active"
    DRAFT = "draft"
    PAUSED = "paused"
    #: paused by the system after failed runs in a row (``status_reason`` says why)
    ERROR = "error"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    ERROR = "error"
    DISCONNECTED = "disconnected"
