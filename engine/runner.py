"""Running one execution: cell by cell, branch by branch, resumable.

Each cell's result is written as soon as it finishes. A resumed execution (after a
crash, a retry, or a rerun from a cell) rebuilds its context from the results already
recorded and never runs a finished cell again. The runner owns every state change of
an execution (finish, schedule a retry); executors only claim, heartbeat and schedule,
so a Celery executor can reuse it unchanged.

A run that cannot be recorded ends ``failed`` (``result_not_saved``) rather than
staying ``running``; a run taken over after an expired lease more than
``max_reclaims`` times is failed (``run_abandoned``) instead of being run again, so a
run that brings its server down cannot do so forever. Mapping work is limited per cell
and per run (``mapping_cell_seconds`` / ``mapping_run_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from cells import flow, loops
from cells.mapping import RunBudget, render
from cells.models import (
    ActionCell,
    AggregateCell,
    ConditionCell,
    LoopCell,
    OperationCell,
    ScenarioDocument,
    StepCell,
    TransformerCell,
)
from cells.run import (
    CellResult,
    ContextFactory,
    idempotency_key,
    run_aggregate_cell,
    run_condition_cell_async,
    run_loop_cell,
    run_operation_cell,
    trigger_result,
)
from connectors.registry import Registry
from connectors.sdk import CellwrightError, ResultNotSavedError, RunAbandonedError, TokenUsage
from engine import delays, ownership
from engine import secrets as stored_secrets
from engine.alerts import Alerts
from engine.backoff import backoff_delay
from engine.settings import Settings
from storage.statuses import ExecutionStatus, NodeStatus

if TYPE_CHECKING:
    from engine.contexts import Contexts
    from engine.ports import RunStore
    from engine.writes import WriteQueue
    from storage import Execution, NodeResult
    from storage.records import AnalyticsFacts, AnalyticsNode, TokenCounts

log = logging.getLogger("cellwright.runner")

RESPOND = ("webhook", "respond")
#: how often a cell may be parked by its app's declared vendor limits (connectors/sdk/
#: limits.py) whatever the scenario's retry_count
LIMITER_RETRIES = 10
RETURN = ("scenario", "return_output")  # what a called scenario returns (sub-scenarios)


@dataclass
class Outcome:
    """How a run attempt ended."""

    status: ExecutionStatus  # completed, failed or waiting (parked)
    error: dict[str, Any] | None = None
    retry_in: float | None = None
    response: dict[str, Any] | None = None  # a webhook "respond" cell's output
    last_output: Any = None
    park: delays.Park | None = None  # "waiting" at a delay cell rather than for a retry
    returned: dict[str, Any] | None = None  # the last "Return output" cell's output


@dataclass
class _Run:
    execution: Execution
    doc: ScenarioDocument
    context: dict[str, Any]
    done: dict[str, Any]
    make_context: ContextFactory
    deadline: float
    limit: float
    budget: RunBudget
    failures: Counter[str] = field(default_factory=Counter)
    continued: dict[str, Any] = field(default_factory=dict)
    # failed for good and handed to their error route: final, not run again on resume
    routed: dict[str, Any] = field(default_factory=dict)
    # the error each failed cell's route sees (``error`` in its scope), by cell key
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: list[CellResult] = field(default_factory=list)
    # cell runs of earlier attempts of this execution (retries, a dead process' work)
    earlier: list[NodeResult] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    pure: frozenset[str] = frozenset()
    cells: dict[str, StepCell] = field(default_factory=dict)
    max_items: int = loops.DEFAULT_MAX_ITEMS
    response: dict[str, Any] | None = None
    last_output: Any = None
    # delay cells parked in an earlier attempt (recorded "running"), by cell key
    parked: dict[str, Any] = field(default_factory=dict)
    returned: dict[str, Any] | None = None


class _Stop(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class Runner:
    """Runs executions against the store."""

    def __init__(
        self,
        store: RunStore,
        apps: Registry,
        contexts: Contexts,
        settings: Settings,
    ) -> None:
        self.store = store
        self.apps = apps
        self.contexts = contexts
        self.settings = settings
        self.writes: WriteQueue | None = (
            None  # engine.writes.WriteQueue when the service runs (group commit)
        )
        self.alerts = Alerts(store, settings)  # failure alerts, delivered in the background
        # pauses the scenario of a failed run that failed too often in a row (its
        # threshold given); why, or None. Set by Cellwright, which can disarm triggers.
        self.pause: Callable[[Execution, int], Awaitable[str | None]] | None = None
        self._docs: dict[tuple[str, int], ScenarioDocument] = {}
        self._owned: set[tuple[str, int, str]] = set()  # versions whose connections are the owner's

    def document(self, scenario_id: str, version: int) -> ScenarioDocument:
        key = (scenario_id, version)
        doc = self._docs.get(key)
        if doc is None:
            data = self.store.scenario_document(scenario_id, version)
            if data is None:
                raise LookupError(f"scenario {scenario_id} version {version} not found")
            doc = ScenarioDocument.model_validate(data)
            if len(self._docs) > 512:
                self._docs.clear()
            self._docs[key] = doc
        return doc

    async def _foreign_connection(
        self, execution: Execution, doc: ScenarioDocument
    ) -> dict[str, str] | None:
        """The first cell whose connection is not the owner's (``{cell_id, message}``), or None.

        A document saved before save checked this (or written straight into the store)
        must not run with another user's connection. A version found clean stays clean
        (connection ids are never reused), so it is checked once per process.
        """
        key = (execution.scenario_id, execution.scenario_version, execution.user_id)
        if key in self._owned:
            return None
        problems = await asyncio.to_thread(
            ownership.connection_problems, self.store, self.apps, execution.user_id, doc
        )
        if problems:
            return {"cell_id": problems[0]["cell_id"], "message": problems[0]["message"]}
        if len(self._owned) > 4096:
            self._owned.clear()
        self._owned.add(key)
        return None

    def _pure_cells(self, doc: ScenarioDocument) -> frozenset[str]:
        """Cells without side effects: the trigger, conditions, transformers, loops (their
        items' actions are recorded on their own) and aggregates."""
        pure = set()
        for cell, _ in doc.walk():
            if cell.kind in ("trigger", "condition", "transformer", "loop", "aggregate"):
                pure.add(cell.id)
            elif cell.kind == "action":
                try:
                    if self.apps.get(cell.app).action(cell.operation).transformer:
                        pure.add(cell.id)
                except CellwrightError:
                    pass
        return frozenset(pure)

    async def run(self, execution: Execution, *, fresh: bool = False) -> Outcome:
        """Run (or resume) ``execution``, which the caller has claimed.

        ``fresh``: the caller just created it, so there are no recorded results to read.
        """
        if execution.reclaims > self.settings.max_reclaims:
            return await self._abandon(execution)
        try:
            doc = self._docs.get((execution.scenario_id, execution.scenario_version))
            if doc is None:
                doc = await asyncio.to_thread(
                    self.document, execution.scenario_id, execution.scenario_version
                )
        except Exception as exc:
            log.exception("execution %s: cannot load its scenario", execution.id)
            outcome = Outcome(
                ExecutionStatus.FAILED,
                error={
                    "code": "configuration_error",
                    "message": f"The scenario version this run uses cannot be loaded: {exc}",
                },
            )
            finished = await asyncio.to_thread(
                lambda: self.store.finish_execution(
                    execution.id, status=ExecutionStatus.FAILED, error=outcome.error
                )
            )
            self._failed(finished, None)  # name and settings are in the missing document
            return outcome
        refused = await self._foreign_connection(execution, doc)
        if (
            refused is not None
        ):  # before any cell runs: nothing is called, nobody's connection touched
            outcome = Outcome(
                ExecutionStatus.FAILED, error={"code": "configuration_error", **refused}
            )
            finished = await asyncio.to_thread(
                lambda: self.store.finish_execution(
                    execution.id, status=ExecutionStatus.FAILED, error=outcome.error
                )
            )
            self._failed(finished, doc)
            return outcome
        previous = [] if fresh else await asyncio.to_thread(self.store.node_results, execution.id)
        done: dict[str, Any] = {}
        continued: dict[str, Any] = {}
        routed: dict[str, Any] = {}
        failures: Counter[str] = Counter()
        parked: dict[str, Any] = {}
        for result in previous:
            key = _key(result.cell_id, result.item)  # a cell of a loop's item: per item
            if result.status == NodeStatus.COMPLETED:
                done[key] = result
            elif result.status == NodeStatus.FAILED:
                failures[key] += 1  # earlier tries of this cell (its retries)
                if (result.error or {}).get("continued"):
                    continued[key] = result  # on_error=continue: final, not run again
                elif (result.error or {}).get("routed"):
                    routed[key] = result  # handed to its error route: final, not run again
            elif result.status == NodeStatus.RUNNING:
                parked.setdefault(key, result)  # a delay cell the run is parked at
        started = execution.start_time or datetime.now(UTC)
        # a scenario's own limit wins; otherwise the operator's default (5 minutes)
        explicit = "timeout_seconds" in doc.settings.model_fields_set
        limit = (
            doc.settings.timeout_seconds if explicit else self.settings.execution_timeout_seconds
        )
        # the cap is on working time: waits for a retry, or a server that was down, do
        # not count, so a resumed run gets the time its earlier attempts did not use
        elapsed = sum((r.duration_ms or 0) for r in previous) / 1000
        run = _Run(
            execution=execution,
            doc=doc,
            context={
                "trigger": {},
                "steps": {},
                "execution": {
                    "id": execution.id,
                    "scenario_id": execution.scenario_id,
                    "started_at": _aware(started).isoformat(),
                    "attempt": execution.attempt,
                },
            },
            done=done,
            make_context=self.contexts.for_execution(execution),
            deadline=time.monotonic() + max(0.0, limit - elapsed),
            limit=limit,
            budget=RunBudget(
                run_seconds=self.settings.mapping_run_seconds,
                cell_seconds=self.settings.mapping_cell_seconds,
            ),
            failures=failures,
            continued=continued,
            routed=routed,
            parked=parked,
            pure=self._pure_cells(doc),
            # a rerun's copies of the original's results started before it was created:
            # they are the original's calls, counted with it
            # (a parked delay's "running" record is not a cell run: its finish is)
            earlier=[
                r
                for r in previous
                if r.status != NodeStatus.RUNNING
                and (r.start_time is None or r.start_time >= execution.created_at)
            ],
            cells=flow.steps_by_id(doc),
            max_items=(
                doc.settings.max_loop_items
                if "max_loop_items" in doc.settings.model_fields_set
                else self.settings.loop_max_items
            ),
        )
        try:
            if delays.waits_for_call(doc):  # {{ execution.resume_url }} for every cell
                token = execution.resume_token
                if token is None:  # the run's first attempt
                    token = await asyncio.to_thread(self.store.ensure_resume_token, execution.id)
                url = delays.resume_url(self.settings.resolved_webhook_url(), token)
                run.context["execution"]["resume_url"] = url
            outcome = await self._run(run)
        except _Stop as stop:
            outcome = stop.outcome
        except Exception as exc:  # a bug must still end the execution with a record
            log.exception("execution %s crashed", execution.id)
            outcome = Outcome(
                ExecutionStatus.FAILED,
                error={
                    "code": "internal_error",
                    "message": f"Internal error: {type(exc).__name__}: {exc}",
                },
            )
        outcome.response = outcome.response or run.response
        outcome.last_output = run.last_output
        outcome.returned = run.returned
        await self._settle(run, outcome)
        return outcome

    def _failed(self, finished: Execution, doc: ScenarioDocument | None) -> None:
        """After a run finished failed: in the background, pause its scenario when its
        runs failed ``pause_after_failures`` times in a row, then send the alerts."""
        explicit = doc is not None and "pause_after_failures" in doc.settings.model_fields_set
        threshold = (
            doc.settings.pause_after_failures
            if doc is not None and explicit
            else self.settings.pause_after_failures
        )
        pause = self.pause
        self.alerts.notify(
            finished,
            doc.name if doc is not None else "",
            doc.settings.notify_on_error if doc is not None else False,
            pause=partial(pause, finished, threshold) if pause is not None and threshold else None,
        )

    async def _abandon(self, execution: Execution) -> Outcome:
        """Fail an execution whose process died with it too often; run nothing."""
        error = RunAbandonedError(
            "The run was stopped: "
            f"the server running it stopped or stalled {execution.reclaims} times while it ran "
            f"(the limit is {self.settings.max_reclaims}, setting max_reclaims). "
            "It may make the server run out of memory or time: "
            "check its largest mappings and data, then rerun it.",
            reclaims=execution.reclaims,
        ).to_dict()
        log.error("execution %s: given up after %d takeovers", execution.id, execution.reclaims)
        finished = await self._write(
            self.store.finish_execution, execution.id, status=ExecutionStatus.FAILED, error=error
        )
        self._failed(finished, None)  # the scenario is not loaded: no name, no settings
        return Outcome(ExecutionStatus.FAILED, error=error)

    async def _run(self, run: _Run) -> Outcome:
        trigger = run.doc.trigger
        if trigger.id in run.done:
            output = run.done[trigger.id].output
        else:
            result = trigger_result(trigger, run.execution.trigger or {}, apps=self.apps)
            await self._record(run, result)
            if not result.ok:
                return Outcome(ExecutionStatus.FAILED, error=_with_cell(result.error, trigger.id))
            output = result.output
        run.context["trigger"] = output
        run.context["steps"][trigger.id] = output
        plan = flow.start(
            run.doc
        )  # what runs next is cells.flow's decision, as in the notebook's Step
        while (pending := plan.next) is not None:
            cell = run.cells[pending.cell_id]
            ended = await self._step(run, cell, run.context, pending.scope, None)
            plan = flow.advance(plan, cell, ended).plan
        if plan.fails_with is not None:  # an error route ran with `then: stop`
            return Outcome(
                ExecutionStatus.FAILED,
                error=_with_cell(run.errors[plan.fails_with], plan.fails_with),
            )
        return Outcome(ExecutionStatus.COMPLETED)

    async def _step(
        self,
        run: _Run,
        cell: StepCell,
        context: dict[str, Any],
        scope: flow.Scope,
        path: str | None,
    ) -> flow.CellOutcome:
        """Run (or restore) one cell with ``context``; ``path``: the loop item it runs in."""
        failing = flow.route_of(scope)
        if failing is not None:  # a cell of an error route: `error` in scope
            context = {**context, "error": run.errors[_key(failing, path)]}
        if isinstance(cell, ConditionCell):
            return await self._condition(run, cell, context, path)
        if isinstance(cell, LoopCell):
            return await self._loop(run, cell, context, scope, path)
        if isinstance(cell, AggregateCell):
            return await self._aggregate(run, cell, context, path)
        return await self._operation(run, cell, context, path)

    async def _condition(
        self, run: _Run, cell: ConditionCell, context: dict[str, Any], path: str | None
    ) -> flow.CellOutcome:
        key = _key(cell.id, path)
        if key in run.done:
            output = run.done[key].output or {}
        else:
            result, _ = await run_condition_cell_async(cell, context, limits=run.budget.cell())
            await self._record(run, result, path)
            if not result.ok:
                raise _Stop(
                    Outcome(ExecutionStatus.FAILED, error=_with_cell(result.error, cell.id))
                )
            output = result.output
        context["steps"][cell.id] = output
        return flow.outcome(cell, ok=True, output=output)

    async def _aggregate(
        self, run: _Run, cell: AggregateCell, context: dict[str, Any], path: str | None
    ) -> flow.CellOutcome:
        key = _key(cell.id, path)
        if key in run.done:
            output = run.done[key].output
        else:
            result = await run_aggregate_cell(cell, context, limits=run.budget.cell())
            await self._record(run, result, path)
            if not result.ok:
                raise _Stop(
                    Outcome(ExecutionStatus.FAILED, error=_with_cell(result.error, cell.id))
                )
            output = result.output
        context["steps"][cell.id] = output
        run.last_output = output
        return flow.COMPLETED

    async def _loop(
        self,
        run: _Run,
        cell: LoopCell,
        context: dict[str, Any],
        scope: flow.Scope,
        path: str | None,
    ) -> flow.CellOutcome:
        """Run a loop's items; each item's cell runs, and each finished item, are recorded
        (``item`` = its path), so a resumed run restores finished items instead of running them."""
        key = _key(cell.id, path)
        if key in run.done:
            output = run.done[key].output
            context["steps"][cell.id] = output
            run.last_output = output
            return flow.COMPLETED
        refused: list[_Stop] = []  # the store refused an item's records

        def finished(item: str) -> loops.ItemRun | None:
            recorded = run.done.get(_key(cell.id, item))
            if recorded is None:
                return None
            data = recorded.output or {}
            return loops.ItemRun(
                index=int(item.rsplit("/", 1)[-1]),
                item=recorded.input,
                path=item,
                steps=dict(data.get("steps") or {}),
                stopped=bool(data.get("stopped")),
            )

        async def on_item(item: loops.ItemRun) -> None:
            record = CellResult(
                cell_id=cell.id,
                status=item.status,
                input=item.item,
                output=item.output(),
                error=item.error,
                started_at=item.started_at,
                ended_at=item.ended_at,
                duration_ms=item.duration_ms,
            )
            try:
                await self._record(run, record, item.path, analytics=False)
            except _Stop as stop:
                refused.append(stop)
                raise

        async def step(
            each: StepCell, ctx: dict[str, Any], inner: flow.Scope, item: str
        ) -> flow.CellOutcome:
            return await self._step(run, each, ctx, inner, item)

        result, ran = await run_loop_cell(
            cell,
            context,
            run_step=step,
            cells=run.cells,
            max_items=run.max_items,
            limits=run.budget.cell(),
            scope=scope,
            path=path,
            finished=finished,
            on_item=on_item,
        )
        if refused:
            raise refused[0]
        if result.ok:
            await self._record(run, result, path)
            context["steps"][cell.id] = result.output
            run.last_output = result.output
            return flow.COMPLETED
        error = _with_cell(result.error, cell.id)
        cause = ran.failed.exception if ran is not None and ran.failed is not None else None
        if isinstance(cause, _Stop) and cause.outcome.status == ExecutionStatus.WAITING:
            # an item waits for a retry: the run waits with it; its finished items are kept
            raise _Stop(
                Outcome(ExecutionStatus.WAITING, error=error, retry_in=cause.outcome.retry_in)
            )
        await self._record(run, result, path)
        raise _Stop(Outcome(ExecutionStatus.FAILED, error=error))

    async def _operation(
        self,
        run: _Run,
        cell: ActionCell | TransformerCell,
        context: dict[str, Any],
        path: str | None,
    ) -> flow.CellOutcome:
        key = _key(cell.id, path)
        if key in run.done:
            output = run.done[key].output
            context["steps"][cell.id] = output
            run.last_output = output
            if (cell.app, cell.operation) == RESPOND:
                run.response = output
            elif (cell.app, cell.operation) == RETURN:
                run.returned = output
            return flow.COMPLETED
        if key in run.continued:
            context["steps"][cell.id] = {"error": run.continued[key].error}
            return flow.FAILED
        if key in run.routed:
            return self._route(run, cell, context, path, run.routed[key].error)
        remaining = run.deadline - time.monotonic()
        if remaining <= 0:
            raise _Stop(
                Outcome(
                    ExecutionStatus.FAILED,
                    error={
                        "code": "timeout",
                        "message": (
                            "The run passed its time limit "
                            f"({run.limit:g} s) before cell '{cell.id}'."
                        ),
                        "cell_id": cell.id,
                    },
                )
            )
        cell_timeout = run.doc.settings.cell_timeout_seconds
        operate = partial(
            run_operation_cell,
            cell,
            context,
            apps=self.apps,
            make_context=run.make_context,
            idempotency_key=idempotency_key(run.execution.id, cell.id, path or 0),
            timeout=min(cell_timeout, remaining),
            resolve_secrets=stored_secrets.resolver(self.store, run.execution.user_id),
            limits=run.budget.cell(),
        )
        if delays.is_delay(cell.app):
            result = await self._delay(run, cell, key, path, operate)  # parks, or finishes
        else:
            result = await operate()
        if result.ok:
            await self._record(run, result, path)
            context["steps"][cell.id] = result.output
            run.last_output = result.output
            if (cell.app, cell.operation) == RESPOND:
                run.response = result.output
            elif (cell.app, cell.operation) == RETURN:
                run.returned = result.output
            return flow.COMPLETED
        error = result.exception or CellwrightError("unknown error")
        if (
            error.code == "timeout"
            and remaining < cell_timeout
            and time.monotonic() >= run.deadline - 0.001
        ):
            # stopped by the whole run's limit, not the cell's: no retry can help
            result.error = {
                "code": "timeout",
                "message": (
                    "The run reached its time limit "
                    f"({run.limit:g} s) while cell '{cell.id}' was running."
                ),
            }
            await self._record(run, result, path)
            raise _Stop(Outcome(ExecutionStatus.FAILED, error=_with_cell(result.error, cell.id)))
        if (
            error.code in ("auth_invalid", "auth_expired")
            and cell.connection
            and self._uses_connection(cell)
        ):
            # only the run's owner's connection, and only one the call used (an app without
            # auth, e.g. the HTTP action, never used the one its cell names)
            await asyncio.to_thread(
                self.store.update_connection,
                run.execution.user_id,
                cell.connection,
                status="error",
                status_message=error.message,
            )
        tries = run.failures[key]  # failed tries of this cell before this one
        retries = run.doc.settings.retry_count
        if error.code == "rate_limited" and error.details.get("local"):
            # held back by the app's declared vendor limits: the call was never sent, so
            # waiting for its turn is not a failed try (up to LIMITER_RETRIES of them)
            retries = max(retries, LIMITER_RETRIES)
        if error.retryable and tries < retries:
            delay = backoff_delay(
                tries,
                self.settings.retry_base_seconds,
                self.settings.retry_max_seconds,
                getattr(error, "retry_after", None),
            )
            if time.monotonic() + delay < run.deadline:
                await self._record(run, result, path)
                raise _Stop(
                    Outcome(
                        ExecutionStatus.WAITING,
                        error=_with_cell(result.error, cell.id),
                        retry_in=delay,
                    )
                )
        if flow.error_route(cell) is not None:
            result.error = {**(result.error or {}), "routed": True}
            await self._record(run, result, path)
            return self._route(run, cell, context, path, result.error)
        if flow.continues_after_failure(cell):
            result.error = {**(result.error or {}), "continued": True}
            await self._record(run, result, path)
            context["steps"][cell.id] = {"error": result.error}
            return flow.FAILED
        await self._record(run, result, path)
        raise _Stop(Outcome(ExecutionStatus.FAILED, error=_with_cell(result.error, cell.id)))

    async def _delay(
        self,
        run: _Run,
        cell: ActionCell | TransformerCell,
        key: str,
        path: str | None,
        operate: Callable[[], Awaitable[CellResult]],
    ) -> CellResult:
        """A delay cell (engine/delays.py): park the run (raises ``_Stop``) until it is
        due, or return the cell's result once it is (or when there is nothing to wait)."""
        ex_id, now = run.execution.id, datetime.now(UTC)
        for_call = delays.is_wait_for_call(cell.operation)
        parked = run.parked.get(key)
        if parked is None:
            previewed = await operate()  # mapping, input checks: the cell's own errors
            if not previewed.ok:
                return previewed
            now = datetime.now(UTC)
            try:
                until = delays.planned_until(
                    cell.operation, previewed, now, self.settings.max_delay_days
                )
            except CellwrightError as exc:
                return delays.refused(previewed, exc)
            if not for_call and until <= now:
                return delays.no_wait(cell.id, previewed, now)
            park = delays.Park(until, for_call)
            await self._record(
                run, delays.parked_record(cell.id, previewed, park, now), path, analytics=False
            )
            raise _Stop(
                Outcome(ExecutionStatus.WAITING, retry_in=(until - now).total_seconds(), park=park)
            )
        until = delays.resumes_at(parked)
        if for_call:
            call = await asyncio.to_thread(self.store.resume_call_of, ex_id)
            if call is None and now >= until:  # timed out, unless a call comes first
                call = await asyncio.to_thread(self.store.expire_resume_call, ex_id)
                call = call if call is not None else dict(delays.TIMED_OUT)
            if call is not None:
                return delays.called(cell.id, parked.input, call, now)
        elif now >= until:
            return delays.waited(cell.id, parked, now)
        # woken early (a timer a little ahead of the wall clock): park again
        retry_in = max(0.0, (until - now).total_seconds())
        raise _Stop(
            Outcome(ExecutionStatus.WAITING, retry_in=retry_in, park=delays.Park(until, for_call))
        )

    def _route(
        self,
        run: _Run,
        cell: ActionCell | TransformerCell,
        context: dict[str, Any],
        path: str | None,
        recorded: Mapping[str, Any] | None,
    ) -> flow.CellOutcome:
        """Hand a cell that failed for good to its error route: keep the error its route
        sees, and give the cell its output (the fallback with ``then: continue``)."""
        route = flow.error_route(cell)
        assert route is not None
        data = {k: v for k, v in (recorded or {}).items() if k != "routed"}
        error = flow.route_error(cell.id, data)
        run.errors[_key(cell.id, path)] = error
        if route.then == "continue":
            try:
                output = render(
                    route.fallback,
                    {**context, "error": error},
                    cell_id=cell.id,
                    field="on_error.fallback",
                    limits=run.budget.cell(),
                )
            except CellwrightError as exc:
                raise _Stop(
                    Outcome(ExecutionStatus.FAILED, error=_with_cell(exc.to_dict(), cell.id))
                ) from None
            context["steps"][cell.id] = output
            run.last_output = output
        else:
            context["steps"][cell.id] = {"error": data}
        return flow.FAILED

    def _uses_connection(self, cell: OperationCell) -> bool:
        try:
            return self.apps.get(cell.app).needs_connection
        except CellwrightError:
            return False

    async def _record(
        self, run: _Run, result: CellResult, item: str | None = None, *, analytics: bool = True
    ) -> None:
        """Keep a cell's result; write it now unless the cell is pure. ``item``: the loop
        item (path) the cell ran for; ``analytics``: count it as a cell run (not a loop's
        per-item record).

        Results of cells without side effects (the trigger, conditions, transformers)
        wait in memory and are written with the next side-effecting cell's result or
        when the run settles: after a crash such a cell simply runs again, with the same
        result. A side-effecting cell's result is written as soon as it finishes, so a
        finished action never runs twice.
        """
        if analytics:
            run.results.append(result)
        run.pending.append(
            {
                "cell_id": result.cell_id,
                "item": item,
                "status": result.status,
                "attempt": run.execution.attempt,
                "start_time": result.started_at,
                "end_time": result.ended_at,
                "duration_ms": result.duration_ms,
                "input": result.input,
                "output": result.output,
                "error": result.error,
            }
        )
        if result.ok and result.cell_id in run.pure:
            return
        await self._flush(run)

    async def _write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.writes is not None:
            return await self.writes.call(fn, *args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _flush(self, run: _Run) -> None:
        if run.pending:
            rows, run.pending = run.pending, []
            try:
                await self._write(self.store.record_node_results, run.execution.id, rows)
            except Exception as exc:
                raise _Stop(
                    Outcome(ExecutionStatus.FAILED, error=self._not_saved(run, rows, exc))
                ) from None

    def _not_saved(self, run: _Run, rows: list[dict[str, Any]], exc: Exception) -> dict[str, Any]:
        """The error of a run whose results the store refused (logged with its cause)."""
        log.error(
            "execution %s: the store refused its results: %s", run.execution.id, _db_reason(exc)
        )
        cells = ", ".join(repr(row["cell_id"]) for row in rows) or "none"
        return ResultNotSavedError(
            f"The run was stopped: the results of cell(s) {cells} could not be saved"
            f" ({_db_reason(exc)}). A value may be too large to store: make the cell's"
            " inputs or output smaller (map only the fields you need), then rerun it.",
            cells=[row["cell_id"] for row in rows],
        ).to_dict()

    async def _settle(self, run: _Run, outcome: Outcome) -> None:
        ex = run.execution
        if outcome.status == ExecutionStatus.WAITING:
            assert outcome.retry_in is not None
            try:
                await self._flush(run)
            except _Stop as stop:  # the failed try could not be recorded: end the run
                outcome.status, outcome.error, outcome.retry_in = (
                    ExecutionStatus.FAILED,
                    stop.outcome.error,
                    None,
                )
                await self._settle(run, outcome)
                return
            if outcome.park is not None:  # at a delay cell: no retry, no attempt counted
                due = await asyncio.to_thread(
                    self.store.park_execution,
                    ex.id,
                    until=outcome.park.until,
                    for_call=outcome.park.for_call,
                )
                outcome.retry_in = max(0.0, (due - datetime.now(UTC)).total_seconds())
                return
            await asyncio.to_thread(
                self.store.schedule_retry,
                ex.id,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=outcome.retry_in),
                attempt=ex.attempt + 1,
                error=outcome.error or {},
            )
            return
        rows, run.pending = run.pending, []
        facts = self._analytics_facts(run) if self.settings.analytics else None
        try:
            finished = await self._write(
                self.store.finish_execution,
                ex.id,
                status=outcome.status,
                error=outcome.error,
                node_results=rows,
                analytics=facts,
            )
        except Exception as exc:
            # The store refused the results (or the outcome): end the run failed with
            # what can be kept — the cells' statuses and errors, without their data.
            outcome.status, outcome.error = ExecutionStatus.FAILED, self._not_saved(run, rows, exc)
            slim = [{**row, "input": None, "output": None} for row in rows]
            try:
                finished = await self._write(
                    self.store.finish_execution,
                    ex.id,
                    status=ExecutionStatus.FAILED,
                    error=outcome.error,
                    node_results=slim,
                    analytics=facts,
                )
            except Exception:
                # Nothing can be written now: the lease expires, the run is taken over,
                # and after max_reclaims takeovers it is given up.
                log.exception("execution %s: cannot record its end", ex.id)
                return
        if finished.status == ExecutionStatus.FAILED:
            self._failed(finished, run.doc)  # never waited for

    def _analytics_facts(self, run: _Run) -> AnalyticsFacts:
        """What the analytics log keeps of the run beyond the execution row: written to
        the outbox with the finish, whichever process runs it (storage/analytics.py)."""
        cells = flow.steps_by_id(run.doc)
        nodes: list[AnalyticsNode] = []
        for e in run.earlier:
            cell = cells.get(e.cell_id)
            nodes.append(
                {
                    "cell_id": e.cell_id,
                    "app": getattr(cell, "app", None),
                    "operation": getattr(cell, "operation", None),
                    "kind": getattr(cell, "kind", None),
                    "status": e.status,
                    "started_at": e.start_time,
                    "ended_at": e.end_time,
                    "duration_ms": e.duration_ms,
                    "error": e.error,
                    "usage": _counts(TokenUsage.recorded(e.output, e.error)),
                }
            )
        for r in run.results:
            cell = cells.get(r.cell_id)
            nodes.append(
                {
                    "cell_id": r.cell_id,
                    "app": getattr(cell, "app", None),
                    "operation": getattr(cell, "operation", None),
                    "kind": getattr(cell, "kind", None),
                    "status": r.status,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "duration_ms": r.duration_ms,
                    "error": r.error,
                    "usage": _counts(r.usage),  # model tokens (AI steps)
                }
            )
        return {"scenario_name": run.doc.name, "trigger_app": run.doc.trigger.app, "nodes": nodes}


def _counts(usage: TokenUsage | None) -> TokenCounts | None:
    if usage is None:
        return None
    return {
        "model": usage.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _key(cell_id: str, item: str | None) -> str:
    """A recorded cell run's key: the cell id, with its loop item's path (``post[2/5]``)."""
    return cell_id if item is None else f"{cell_id}[{item}]"


def _with_cell(error: Mapping[str, Any] | None, cell_id: str) -> dict[str, Any]:
    data = dict(error or {"code": "error", "message": "failed"})
    data["cell_id"] = cell_id
    return data


def _db_reason(exc: Exception) -> str:
    """The database's own words, without the SQL and its parameters (they hold data)."""
    reason = (
        str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    )
    return reason[:200]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
