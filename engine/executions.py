"""``Executions``: reading a user's executions and queueing one (retention is
``engine.retention``).

Running is the executor's (``engine.executor``) and starting a run the ``Cellwright``'s
(``trigger``, ``rerun``: they need the executor and the write queue); this service
reads what runs left behind. Another user's execution is ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from cells.secrets import scrub
from engine.errors import NotFound

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from engine.ports import ExecutionStore
    from storage import Execution, Scenario


class Filters(TypedDict, total=False):
    """Which executions: of one scenario, with a status, created in [``since``, ``until``),
    whose trigger data contains ``search``."""

    scenario_id: str | None
    status: str | None
    since: datetime | None
    until: datetime | None
    search: str | None


class Listing(Filters, total=False):
    """``Filters`` and the page: at most ``limit`` from ``offset``."""

    limit: int
    offset: int


__all__ = ["Executions"]


class Executions:
    """A user's executions."""

    def __init__(self, store: ExecutionStore) -> None:
        self._store = store

    def get(self, user_id: str | None, execution_id: str) -> dict[str, Any]:
        """An execution with every cell's input, output, status and timings
        (``user_id`` None: any user's, for the engine's own callers)."""
        execution = self._store.get_execution(user_id, execution_id)
        if execution is None:
            raise NotFound(f"No execution {execution_id}.")
        data: dict[str, Any] = execution.to_dict()
        data["cells"] = [r.to_dict() for r in self._store.node_results(execution_id)]
        return data

    def records(self, user_id: str, **filters: Unpack[Listing]) -> list[Execution]:
        """The user's executions, newest first, filtered (``search``: text in the trigger data)."""
        return self._store.list_executions(user_id, **filters)

    def page(self, user_id: str, **filters: Unpack[Listing]) -> list[dict[str, Any]]:
        """``records`` as JSON-ready dicts (without the cells)."""
        return [e.to_dict() for e in self.records(user_id, **filters)]

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
