"""``Executions``: reading a user's executions and queueing one (retention is
``engine.retention``).

Running is the executor's (``engine.executor``) and starting a run the ``Cellwright``'s
(``trigger``, ``rerun``: they need the executor and the write queue); this service
reads what runs left behind. Another user's execution is ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from cells.secrets import scrub
from engine.errors import NotFound
from storage.statuses import ExecutionStatus, NodeStatus

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from engine.ports import ExecutionStore
    from storage import Execution, NodeResult, Scenario


class Filters(TypedDict, total=False):
    """Which executions: of one scenario, with a status, created in [``since``, ``until``),
    whose trigger data contains ``search``, called by ``parent_execution_id``."""

    scenario_id: str | None
    status: str | None
    since: datetime | None
    until: datetime | None
    search: str | None
    parent_execution_id: str | None


class Listing(Filters, total=False):
    """``Filters`` and the page: at most ``limit`` from ``offset``."""

    limit: int
    offset: int


__all__ = ["Executions"]


class Executions:
    """A user's executions."""

    def __init__(
        self, store: ExecutionStore, resume_url: Callable[[str], str] | None = None
    ) -> None:
        self._store = store
        self._resume_url = resume_url  # a resume token's public URL (engine/delays.py)

    def get(self, user_id: str | None, execution_id: str) -> dict[str, Any]:
        """An execution with every cell's input, output, status and timings
        (``user_id`` None: any user's, for the engine's own callers), and while it is
        ``waiting`` what for: ``waiting`` = ``{"for": "time" | "call" | "retry", "until",
        "resume_url"}`` (``resume_url`` for a call)."""
        execution = self._store.get_execution(user_id, execution_id)
        if execution is None:
            raise NotFound(f"No execution {execution_id}.")
        data = _public(execution)
        results = self._store.node_results(execution_id)
        data["cells"] = [r.to_dict() for r in results]
        data["waiting"] = self._waiting(execution, results)
        data["resume_url"] = (
            self._resume_url(execution.resume_token)
            if execution.resume_token and self._resume_url is not None
            else None
        )
        # the runs its "Run scenario" cells called (sub-scenarios), oldest first
        children = self._store.list_executions(
            execution.user_id, parent_execution_id=execution.id, limit=500
        )
        data["children"] = [
            {"id": c.id, "scenario_id": c.scenario_id, "status": c.status}
            for c in reversed(children)
        ]
        return data

    def _waiting(self, execution: Execution, results: list[NodeResult]) -> dict[str, Any] | None:
        if execution.status != ExecutionStatus.WAITING:
            return None
        finished = {
            (r.cell_id, r.item)
            for r in results
            if r.status in (NodeStatus.COMPLETED, NodeStatus.FAILED)
        }
        parked = [
            r
            for r in results
            if r.status == NodeStatus.RUNNING and (r.cell_id, r.item) not in finished
        ]
        if parked:
            output = parked[-1].output or {}
            kind = "call" if output.get("waiting_for") == "call" else "time"
            url = (
                self._resume_url(execution.resume_token)
                if kind == "call" and execution.resume_token and self._resume_url is not None
                else None
            )
            return {
                "for": kind,
                "cell_id": parked[-1].cell_id,
                "until": output.get("resumes_at"),
                "resume_url": url,
            }
        due = execution.next_attempt_at
        return {"for": "retry", "until": due.isoformat() if due else None, "resume_url": None}

    def records(self, user_id: str, **filters: Unpack[Listing]) -> list[Execution]:
        """The user's executions, newest first, filtered (``search``: text in the trigger data)."""
        return self._store.list_executions(user_id, **filters)

    def page(self, user_id: str, **filters: Unpack[Listing]) -> list[dict[str, Any]]:
        """``records`` as JSON-ready dicts (without the cells)."""
        return [_public(e) for e in self.records(user_id, **filters)]

    def count(self, user_id: str, **filters: Unpack[Filters]) -> int:
        """How many executions ``records`` would list without a limit."""
        return self._store.count_executions(user_id, **filters)

    def enqueue(
        self, scenario: Scenario, trigger: Mapping[str, Any], *, key: str | None = None
    ) -> Execution:
        """Store a queued run of the scenario's latest version, for the executor to pick
        up when it starts (data seeded before the server runs). ``key`` deduplicates as
        ``Cellwright.trigger``'s does. A running service uses ``Cellwright.trigger``."""
        execution, _ = self._store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=scenario.user_id,
            trigger=scrub(dict(trigger)),  # credential headers masked, as Cellwright.trigger does
            idempotency_key=key,
        )
        return execution


def _public(execution: Execution) -> dict[str, Any]:
    """An execution as the API and the workspace show it: its resume token only as the
    owner's ``resume_url`` (in ``get``), the call it took only as its wait cell's output."""
    data: dict[str, Any] = execution.to_dict()
    data.pop("resume_token", None)
    data.pop("resume_call", None)
    return data
