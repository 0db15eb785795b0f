"""Sub-scenarios: a "Run scenario" cell runs another of the owner's scenarios.

The called scenario's trigger is the Scenarios app's "When called by another scenario"
(``scenario.called``), which declares its inputs. A call checks, in this order: the
scenario is the owner's and published with that trigger, calling it would not go
round a cycle of calls or deeper than ``max_scenario_depth``, the inputs fit what it
declares. Then:

- waiting (the default), the called run is created already claimed by this process
  and run *inline*, in the calling run's executor slot (a pool of one slot cannot
  deadlock on its own children), its lease kept alive while it runs. Its retries
  wait in place. It ends ``completed`` (the call outputs what it returned: its last
  "Return output" cell's fields, else its last cell's output) or ``failed`` (the call
  fails with its error, so the caller's error route or ``on_error`` applies);
- not waiting, the called run is queued for the executor and the call outputs its id.

Either way the called run is its own execution, with ``parent_execution_id`` pointing
at the calling run. A call is keyed by the calling cell's idempotency key: a calling run
resumed after a crash finds the run it had started (and waits for it) instead of
starting another; a retried calling cell whose called run failed starts a new one.

``publish_problems`` is the check of ``Cellwright.publish``: each call names a
published callable scenario of the owner's, its fixed inputs fit, a waited-for
scenario has no cell that parks the run, and no cycle of calls goes through the
scenario being published. A called scenario may change after its caller was
published, so every call checks again when it runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cells.mapping import has_template
from cells.models import ActionCell, ScenarioDocument
from connectors.scenario.schemas import InputSpec, check_inputs, declared
from connectors.sdk import (
    CallableScenario,
    CallResult,
    CellwrightError,
    ConfigurationError,
    InvalidInputError,
    LimitExceededError,
)
from storage.statuses import FINAL_EXECUTION_STATUSES, ExecutionStatus, NodeStatus

if TYPE_CHECKING:
    from engine.ports import SubScenarioStore
    from engine.runner import Outcome, Runner
    from engine.settings import Settings
    from storage import Execution

__all__ = ["CALL", "CALLED", "CalledScenarioError", "SubScenarios", "calls_of", "is_callable"]

log = logging.getLogger("cellwright.subscenarios")

CALLED = ("scenario", "called")
CALL = ("scenario", "run_scenario")

AWAITABLE_KINDS = frozenset({"trigger", "action", "transformer", "condition", "loop", "aggregate"})
"""Cell kinds a waited-for call can run inline. A cell of any other kind (a delay that
parks the run until later) cannot be waited for: only a call without waiting can run
a scenario that has one."""

PARKING_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {("delay", "delay_for"), ("delay", "delay_until"), ("delay", "wait_for_call")}
)
"""(app, operation) of actions that park the run (the Delay app's): a waited-for call
cannot run them inline, so only a call without waiting may reach a scenario with one."""

_RETRYABLE_CODES = frozenset({"rate_limited", "network_error", "timeout"})
_POLL_SECONDS = 0.25


class CalledScenarioError(CellwrightError):
    """The called scenario's run failed: its error, with where it happened."""

    code = "scenario_failed"

    def __init__(self, message: str, *, code: str, retryable: bool, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code
        self.retryable = retryable


def is_callable(doc: ScenarioDocument) -> bool:
    """The scenario's trigger is "When called by another scenario"."""
    return (doc.trigger.app, doc.trigger.operation) == CALLED


def calls_of(doc: ScenarioDocument) -> Iterator[ActionCell]:
    """The document's "Run scenario" cells, in run order."""
    for cell, _ in doc.walk():
        if isinstance(cell, ActionCell) and (cell.app, cell.operation) == CALL:
            yield cell


def parking_cells(doc: ScenarioDocument) -> list[str]:
    """The ids of the cells that park the run (cannot be waited for inline)."""
    found = []
    for cell, _ in doc.walk():
        operation = (getattr(cell, "app", ""), getattr(cell, "operation", ""))
        if cell.kind not in AWAITABLE_KINDS or operation in PARKING_OPERATIONS:
            found.append(cell.id)
    return found


def _waits(cell: ActionCell) -> bool:
    """A call's ``wait``: true unless it is false (a mapped value may be true)."""
    return cell.inputs.get("wait", True) is not False


class SubScenarios:
    """The engine side of ``ctx.scenarios`` and of the publish check.

    ``owner``: the executor's lease owner (inline runs are leased like the executor's);
    ``submit``: queue an execution for the executor (calls without waiting)."""

    def __init__(
        self,
        store: SubScenarioStore,
        runner: Runner,
        settings: Settings,
        *,
        owner: str,
        submit: Callable[[str], None],
    ) -> None:
        self._store = store
        self._runner = runner
        self._settings = settings
        self._owner = owner
        self._submit = submit

    def bound(self, user_id: str, *, execution_id: str | None, idempotency_key: str) -> _Calls:
        """The ``ScenarioCalls`` of one cell run of ``user_id`` (``execution_id``: its run;
        None for a cell run on its own in the workspace)."""
        return _Calls(self, user_id, execution_id, idempotency_key)

    # -- publish --------------------------------------------------------------------

    def publish_problems(
        self, user_id: str, scenario_id: str, doc: ScenarioDocument
    ) -> list[dict[str, str]]:
        """Why ``doc`` cannot go live as ``scenario_id``'s version: ``[{cell_id, field,
        message}]`` (empty: nothing)."""
        problems: list[dict[str, str]] = []
        for cell in calls_of(doc):
            label = f"Cell '{cell.name or cell.id}'"

            def problem(message: str, field: str = "scenario_id", cell: ActionCell = cell) -> None:
                problems.append({"cell_id": cell.id, "field": field, "message": message})

            target = cell.inputs.get("scenario_id")
            if not isinstance(target, str) or not target.strip():
                continue  # checks.incomplete lists a missing scenario
            if has_template(target):
                problem(f"{label}: pick the scenario to run by its id; it cannot be a mapping.")
                continue
            target_doc = doc if target == scenario_id else self._live(user_id, target)
            if isinstance(target_doc, str):
                problem(f"{label}: {target_doc}")
                continue
            name = f"'{target_doc.name}'"
            if not is_callable(target_doc):
                problem(
                    f"{label}: scenario {name} cannot be called: its trigger is not "
                    '"When called by another scenario". Change its trigger and publish it.'
                )
                continue
            parking = parking_cells(target_doc)
            if _waits(cell) and parking:
                problem(
                    f"{label}: scenario {name} has cells that wait until later "
                    f"({', '.join(parking)}), so its result cannot be waited for. "
                    "Turn off 'wait' to start it without its result.",
                    "wait",
                )
            values = cell.inputs.get("inputs", {})
            if isinstance(values, Mapping):
                specs = declared(target_doc.trigger.inputs)
                static = {k: v for k, v in values.items() if not has_template(v)}
                try:
                    check_inputs(specs, static, scenario=name, partial=True)
                except InvalidInputError as exc:
                    problem(f"{label}: {exc.message}", "inputs")
                missing = [
                    s.name
                    for s in specs
                    if s.required and (values.get(s.name) is None or values.get(s.name) == "")
                ]
                if missing:
                    problem(
                        f"{label}: scenario {name} requires the input(s) "
                        f"{', '.join(missing)}; fill them in.",
                        "inputs",
                    )
        cycle = self._cycle(user_id, scenario_id, doc)
        if cycle:
            first = next(iter(calls_of(doc)))
            path = " → ".join(f"'{name}'" for name in cycle)
            problems.append(
                {
                    "cell_id": first.id,
                    "field": "scenario_id",
                    "message": f"Scenarios would call one another in a cycle: {path}. "
                    "A scenario may not call itself, directly or through others: "
                    "remove one of the calls.",
                }
            )
        return problems

    def _live(self, user_id: str, scenario_id: str) -> ScenarioDocument | str:
        """The published document of the owner's scenario, or why there is none."""
        scenario = self._store.get_scenario(user_id, scenario_id)
        if scenario is None:
            return (
                f"scenario {scenario_id} was not found among your scenarios. "
                "Pick one of your published scenarios."
            )
        if scenario.live_version is None:
            return f"scenario '{scenario.name}' is not published yet: publish it first."
        return self._runner.document(scenario.id, scenario.live_version)

    def _cycle(self, user_id: str, scenario_id: str, doc: ScenarioDocument) -> list[str]:
        """The names round a cycle of calls through ``scenario_id`` (whose version is
        ``doc``; the others' live versions), or []."""
        docs: dict[str, ScenarioDocument | None] = {scenario_id: doc}

        def targets(sid: str) -> list[str]:
            if sid not in docs:
                found = self._live(user_id, sid)
                docs[sid] = found if isinstance(found, ScenarioDocument) else None
            current = docs[sid]
            if current is None:
                return []
            ids = (c.inputs.get("scenario_id") for c in calls_of(current))
            return list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))

        seen: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(scenario_id, [scenario_id])]
        while stack:
            sid, path = stack.pop()
            for nxt in targets(sid):
                if nxt == scenario_id:
                    names = [d.name if (d := docs.get(s)) else s for s in [*path, nxt]]
                    return names
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return []

    # -- runs -----------------------------------------------------------------------

    def _chain(self, user_id: str, execution_id: str | None) -> list[Execution]:
        """The calling run and the runs that called it, nearest first (bounded)."""
        chain: list[Execution] = []
        current = execution_id
        while current is not None and len(chain) <= self._settings.max_scenario_depth + 1:
            execution = self._store.get_execution(user_id, current)
            if execution is None:
                break
            chain.append(execution)
            current = execution.parent_execution_id
        return chain

    def _name(self, user_id: str, scenario_id: str) -> str:
        scenario = self._store.get_scenario(user_id, scenario_id)
        return scenario.name if scenario is not None else scenario_id

    def _target(
        self, user_id: str, execution_id: str | None, scenario_id: str, wait: bool
    ) -> tuple[ScenarioDocument, int, list[InputSpec], int]:
        """The checks a call makes before it starts anything: the called document, its
        version, its declared inputs and the new run's depth."""
        chain = self._chain(user_id, execution_id)
        depth = max(1, len(chain))
        limit = self._settings.max_scenario_depth
        if depth > limit:
            raise LimitExceededError(
                f"Scenario calls are nested too deep: this call would be level {depth} "
                f"(the limit is {limit}, setting max_scenario_depth). Call fewer scenarios "
                "in a chain, or raise the limit.",
                limit="max_scenario_depth",
            )
        scenario = self._store.get_scenario(user_id, scenario_id)
        if scenario is None:
            raise ConfigurationError(
                f"Scenario {scenario_id} was not found among your scenarios. "
                "Pick one of your published scenarios in the Run scenario cell."
            )
        if scenario.live_version is None:
            raise ConfigurationError(
                f"Scenario '{scenario.name}' is not published yet: publish it, then run again."
            )
        doc = self._runner.document(scenario.id, scenario.live_version)
        if not is_callable(doc):
            raise ConfigurationError(
                f"Scenario '{scenario.name}' cannot be called: its published trigger is not "
                '"When called by another scenario". Change its trigger and publish it.'
            )
        callers = [e.scenario_id for e in chain]
        if scenario_id in callers:
            loop = [*reversed(callers[: callers.index(scenario_id) + 1]), scenario_id]
            path = " → ".join(f"'{self._name(user_id, s)}'" for s in loop)
            raise ConfigurationError(
                f"Scenarios would call one another in a cycle: {path}. A scenario may not call "
                "itself, directly or through others: remove one of the calls."
            )
        parking = parking_cells(doc)
        if wait and parking:
            raise ConfigurationError(
                f"Scenario '{scenario.name}' has cells that wait until later "
                f"({', '.join(parking)}), so its result cannot be waited for. Turn off 'wait' "
                "in the Run scenario cell to start it without its result."
            )
        return doc, scenario.live_version, declared(doc.trigger.inputs), depth

    async def call(
        self,
        user_id: str,
        execution_id: str | None,
        key: str,
        scenario_id: str,
        inputs: Mapping[str, Any],
        wait: bool,
    ) -> CallResult:
        doc, version, specs, _ = await asyncio.to_thread(
            self._target, user_id, execution_id, scenario_id, wait
        )
        values = check_inputs(specs, inputs, scenario=f"'{doc.name}'")
        if not wait:
            child, created = await asyncio.to_thread(
                self._create, user_id, scenario_id, version, values, execution_id, f"start:{key}"
            )
            if created:
                self._submit(child.id)
            return CallResult(execution_id=child.id, status=child.status)
        for attempt in range(1, 1000):
            call_key = f"call:{key}" if attempt == 1 else f"call:{key}:{attempt}"
            child, created = await asyncio.to_thread(
                self._create,
                user_id,
                scenario_id,
                version,
                values,
                execution_id,
                call_key,
                claim=True,
            )
            if created:
                outcome = await self._inline(child, fresh=True)
            elif child.status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
                continue  # an earlier try of this cell: this try calls again
            elif child.status == ExecutionStatus.COMPLETED:
                return await asyncio.to_thread(self._ended, child)
            else:  # started by this cell before its run was interrupted: see it through
                claimed = await asyncio.to_thread(
                    self._store.claim_execution,
                    child.id,
                    self._owner,
                    self._settings.lease_seconds,
                )
                if claimed is None:
                    return await self._finished(child.id)
                outcome = await self._inline(claimed, fresh=False)
            return await self._result(child, outcome)
        raise LimitExceededError(
            "This cell called its scenario too many times.", limit="calls_per_cell"
        )

    def _create(
        self,
        user_id: str,
        scenario_id: str,
        version: int,
        values: dict[str, Any],
        parent: str | None,
        key: str,
        *,
        claim: bool = False,
    ) -> tuple[Execution, bool]:
        return self._store.create_execution(
            scenario_id=scenario_id,
            scenario_version=version,
            user_id=user_id,
            trigger=values,
            idempotency_key=key,
            claim_owner=self._owner if claim else None,
            lease_seconds=self._settings.lease_seconds,
            parent_execution_id=parent,
        )

    async def _inline(self, child: Execution, *, fresh: bool) -> Outcome | None:
        """Run ``child`` here until it ends; None when another process took it over (its
        retry became due and the executor's sweep claimed it first)."""
        heartbeat = asyncio.create_task(self._heartbeat(child.id))
        try:
            outcome = await self._runner.run(child, fresh=fresh)
            while outcome.status == ExecutionStatus.WAITING and outcome.retry_in is not None:
                await asyncio.sleep(outcome.retry_in + 0.01)
                claimed = await asyncio.to_thread(
                    self._store.claim_execution,
                    child.id,
                    self._owner,
                    self._settings.lease_seconds,
                )
                if claimed is None:
                    return None
                outcome = await self._runner.run(claimed)
            return outcome
        except asyncio.CancelledError:
            # the calling cell ran out of time (or the server stops): end the called run
            # rather than leave it to be taken over with nobody waiting for it
            await asyncio.shield(asyncio.to_thread(self._stop, child.id))
            raise
        finally:
            heartbeat.cancel()

    def _stop(self, execution_id: str) -> None:
        current = self._store.get_execution(None, execution_id)
        if current is None or current.status in FINAL_EXECUTION_STATUSES:
            return
        self._store.finish_execution(
            execution_id,
            status=ExecutionStatus.FAILED,
            error={
                "code": "timeout",
                "message": "The run was stopped: the scenario that called it stopped waiting "
                "(its Run scenario cell reached its time limit, cell_timeout_seconds).",
            },
        )

    async def _heartbeat(self, execution_id: str) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(
                self._store.extend_lease, execution_id, self._owner, self._settings.lease_seconds
            )

    async def _finished(self, execution_id: str) -> CallResult:
        """Wait for a called run another process runs (the caller's time limit bounds it)."""
        while True:
            current = await asyncio.to_thread(self._store.get_execution, None, execution_id)
            if current is None:
                raise ConfigurationError(f"The called run {execution_id} was deleted.")
            if current.status in FINAL_EXECUTION_STATUSES:
                return await asyncio.to_thread(self._ended, current)
            await asyncio.sleep(_POLL_SECONDS)

    async def _result(self, child: Execution, outcome: Outcome | None) -> CallResult:
        if outcome is None:
            return await self._finished(child.id)
        if outcome.status == ExecutionStatus.COMPLETED:
            output = outcome.returned if outcome.returned is not None else outcome.last_output
            return CallResult(
                execution_id=child.id, status=ExecutionStatus.COMPLETED, output=output
            )
        self._raise(child, outcome.error)
        raise AssertionError  # unreachable: _raise raises

    def _ended(self, child: Execution) -> CallResult:
        """The result of a called run that has ended, from its records."""
        if child.status != ExecutionStatus.COMPLETED:
            self._raise(child, child.error if isinstance(child.error, dict) else None)
        returned = None
        last = None
        doc = self._runner.document(child.scenario_id, child.scenario_version)
        for r in self._store.node_results(child.id):
            if (
                r.status != NodeStatus.COMPLETED
                or r.item is not None
                or r.cell_id == doc.trigger.id
            ):
                continue
            cell = doc.find(r.cell_id)
            if (getattr(cell, "app", None), getattr(cell, "operation", None)) == (
                "scenario",
                "return_output",
            ):
                returned = r.output
            last = r.output
        return CallResult(
            execution_id=child.id,
            status=ExecutionStatus.COMPLETED,
            output=returned if returned is not None else last,
        )

    def _raise(self, child: Execution, error: Mapping[str, Any] | None) -> None:
        error = error or {}
        code = str(error.get("code") or "error")
        where = f", cell '{error['cell_id']}'" if error.get("cell_id") else ""
        name = self._name(child.user_id, child.scenario_id)
        raise CalledScenarioError(
            f"The called scenario '{name}' failed (execution {child.id}{where}): "
            f"{error.get('message') or 'it failed'}",
            code=code,
            retryable=code in _RETRYABLE_CODES,
            execution_id=child.id,
            scenario_id=child.scenario_id,
            failed_cell_id=error.get("cell_id"),
        )

    def declared_inputs(self, user_id: str, scenario_id: str) -> list[InputSpec]:
        """The inputs a callable scenario of the owner's declares (its published version);
        ``ConfigurationError`` when it is not the owner's, not published or not callable."""
        found = self._live(user_id, scenario_id)
        if isinstance(found, str):
            raise ConfigurationError(found[0].upper() + found[1:])
        if not is_callable(found):
            raise ConfigurationError(
                f"Scenario '{found.name}' cannot be called: its published trigger is not "
                '"When called by another scenario".'
            )
        return declared(found.trigger.inputs)

    def callable(self, user_id: str) -> list[CallableScenario]:
        found = []
        for scenario in self._store.list_scenarios(user_id):
            if scenario.live_version is None:
                continue
            try:
                doc = self._runner.document(scenario.id, scenario.live_version)
            except Exception:  # noqa: S112 - a version that cannot load is not offered
                continue
            if is_callable(doc):
                found.append(CallableScenario(id=scenario.id, name=scenario.name))
        return sorted(found, key=lambda s: s.name.lower())


class _Calls:
    """``connectors.sdk.ScenarioCalls`` for one cell run."""

    def __init__(
        self, calls: SubScenarios, user_id: str, execution_id: str | None, key: str
    ) -> None:
        self._calls = calls
        self._user_id = user_id
        self._execution_id = execution_id
        self._key = key

    async def callable(self) -> list[CallableScenario]:
        return await asyncio.to_thread(self._calls.callable, self._user_id)

    async def call(self, scenario_id: str, inputs: Mapping[str, Any], *, wait: bool) -> CallResult:
        return await self._calls.call(
            self._user_id, self._execution_id, self._key, scenario_id, inputs, wait
        )
