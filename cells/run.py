"""Running one cell: render inputs, validate, call, validate the output, time it.

This is exactly what the workspace's "Run cell" calls and what the runner calls for
every step; nothing else runs an operation. Mapping work beyond plain paths (loops,
filters, regular expressions in rules) runs in the mapping worker threads
(``cells.mapping.in_worker``), within the cell's ``limits``, so a heavy cell never
holds up the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr, ValidationError

from cells import flow, loops, mapping
from cells.conditions import Operator, evaluate
from cells.flow import branches_taken
from cells.mapping import CellBudget
from cells.models import (
    AggregateCell,
    ConditionCell,
    LoopCell,
    OperationCell,
    StepCell,
    TriggerCell,
)
from cells.secrets import (
    masked,
    refs_in,
    scrub,
    scrub_error,
    secret_fields,
    secret_values,
)
from connectors.sdk import (
    App,
    CallTimeoutError,
    CellwrightError,
    ConfigurationError,
    InvalidInputError,
    InvalidOutputError,
    OperationContext,
    TokenUsage,
    secret_value,
)
from connectors.sdk.errors import error_from_exception


class ContextFactory(Protocol):
    """Builds the ``OperationContext`` for a cell (connection, HTTP client, keys)."""

    def __call__(
        self, cell: OperationCell, app: App, *, idempotency_key: str
    ) -> Awaitable[OperationContext]: ...


class SecretResolver(Protocol):
    """Replaces the ``{"$secret": id}`` references in a cell's secret ``fields`` by the
    stored values (``engine/secrets.py``); raises a ``CellwrightError`` when one is not the
    cell's owner's."""

    def __call__(
        self, cell: OperationCell, inputs: Mapping[str, Any], fields: frozenset[str]
    ) -> Awaitable[dict[str, Any]]: ...


class AppLookup(Protocol):
    def get(self, key: str) -> App: ...


@dataclass
class CellResult:
    """What one cell run produced. ``exception`` is for the runner, never stored."""

    cell_id: str
    status: str  # "completed" | "failed" | "skipped"
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration_ms: float | None = None
    exception: CellwrightError | None = field(default=None, repr=False)
    usage: TokenUsage | None = None
    """Model tokens the operation used (AI steps), also when it failed; for analytics."""

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell_id": self.cell_id,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_ms": self.duration_ms,
        }


def idempotency_key(execution_id: str, cell_id: str, item: int | str = 0) -> str:
    """Stable for (execution, cell, item): a retried or resumed call sends the same key."""
    digest = hashlib.sha256(f"{execution_id}:{cell_id}:{item}".encode()).hexdigest()
    return f"cw-{digest[:40]}"


def validation_error(
    cell_id: str, exc: ValidationError, what: str = "input", *, subject: str | None = None
) -> InvalidInputError:
    """A pydantic error as a message that names the cell (or ``subject``) and each field."""
    errors = [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "(root)",
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return InvalidInputError(
        f"{subject or f'Cell {cell_id!r}'}: invalid {what} — {listed}{more}",
        errors=errors,
        cell_id=cell_id,
    )


def dump(value: BaseModel | Mapping[str, Any] | Any) -> Any:
    """JSON-ready data; ``SecretStr`` values come out masked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return value


def validate_output(cell_id: str, model: type[BaseModel], value: Any) -> dict[str, Any]:
    try:
        if isinstance(value, model):
            parsed = value
        else:
            parsed = model.model_validate(dump(value))
    except ValidationError as exc:
        listed = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)[:5]
        )
        raise InvalidOutputError(
            f"Cell '{cell_id}': the app returned data that does not match its output "
            f"model — {listed}"
        ) from None
    result: dict[str, Any] = parsed.model_dump(mode="json", by_alias=True)
    return result


@contextmanager
def _recording(cell_id: str) -> Iterator[CellResult]:
    """Time a cell run; any exception inside becomes the result's coded error."""
    t0 = time.perf_counter()
    result = CellResult(cell_id=cell_id, status="failed")
    try:
        yield result
    except Exception as exc:  # every failure becomes a recorded, coded error
        error = error_from_exception(exc)
        result.exception = error
        result.error = error.to_dict()
    result.ended_at = datetime.now(UTC)
    result.duration_ms = (time.perf_counter() - t0) * 1000


async def run_operation_cell(
    cell: OperationCell,
    context: Mapping[str, Any],
    *,
    apps: AppLookup,
    make_context: ContextFactory,
    idempotency_key: str,
    timeout: float = 60.0,
    resolve_secrets: SecretResolver | None = None,
    limits: CellBudget | None = None,
) -> CellResult:
    """Run an action or transformer cell; ``limits``: its mapping time budget.

    Stored secrets (``{"$secret": id}`` in a secret field) are resolved by
    ``resolve_secrets`` right before validation; the recorded input shows them masked.
    Every value known to be secret for this call — the resolved secret fields and
    credential headers, the connection's secret credentials — is masked wherever it
    shows up in the result (an output that echoes it, an error message that quotes it),
    and credential headers are masked at any depth (``cells.secrets.scrub``).
    """
    known: set[str] = set()
    with _recording(cell.id) as result:
        app = apps.get(cell.app)
        op = app.action(cell.operation)
        rendered = await mapping.render_async(cell.inputs, context, cell_id=cell.id, limits=limits)
        fields = secret_fields(op.input)
        result.input = masked(rendered, fields)  # never a secret, even when validation fails
        if next(refs_in(rendered, fields), None) is not None:
            if resolve_secrets is None:
                raise ConfigurationError(
                    f"Cell '{cell.id}' uses a stored secret, which cannot be read here."
                )
            rendered = await resolve_secrets(cell, rendered, fields)
        known |= secret_values(rendered, fields)
        try:
            inputs = op.input.model_validate(rendered)
        except ValidationError as exc:
            raise validation_error(cell.id, exc) from None
        result.input = masked(dump(inputs), fields)  # masked secrets, defaults filled in
        if app.needs_connection and not cell.connection:
            hint = f" {app.connection_help}" if app.connection_help else ""
            raise ConfigurationError(
                f"Cell '{cell.id}' needs a {app.name} connection; pick one in the cell.{hint}"
            )
        ctx = await make_context(cell, app, idempotency_key=idempotency_key)
        known |= connection_secrets(app, ctx.credentials)
        try:
            raw = await asyncio.wait_for(op.perform(ctx, inputs), timeout)
        except TimeoutError:
            raise CallTimeoutError(
                f"Cell '{cell.id}' took longer than {timeout:g} s and was stopped."
            ) from None
        finally:
            result.usage = ctx.usage  # tokens spent count, whether the call succeeded or not
        result.output = validate_output(cell.id, op.output, raw)
        result.status = "completed"
    result = _scrubbed(result, known)
    if result.usage is not None and result.error is not None:
        # the record of a failed call keeps what it spent: a retry reads it back
        # (TokenUsage.recorded) to count the earlier attempt in analytics
        details = result.error.setdefault("details", {})
        counts = result.usage.to_dict()
        details.setdefault("model", counts.pop("model"))
        details.setdefault("usage", counts)
    return result


#: credential names that hold secrets whatever the auth kind declares (OAuth tokens)
SECRET_CREDENTIAL_WORDS = ("token", "secret", "password", "key")


def connection_secrets(app: App, credentials: Mapping[str, Any]) -> set[str]:
    """The secret values among a connection's ``credentials``: the fields its auth kind
    declares secret, and any whose name says token, secret, password or key."""
    declared = secret_fields(app.auth.fields)
    found: set[str] = set()
    for name, value in credentials.items():
        if isinstance(value, Mapping):  # a token set kept as one credential
            found |= connection_secrets(app, value)
        elif isinstance(value, str | SecretStr):
            text = secret_value(value)
            if name in declared or (_secret_like(name) and len(text) >= GUESSED_SECRET_LENGTH):
                found.add(text)
    found.discard("")
    return found


#: a credential found by its name only must be at least this long to count as a secret
#: (``token_type: Bearer`` is not one; real tokens and keys are long)
GUESSED_SECRET_LENGTH = 12


def _secret_like(name: str) -> bool:
    lowered = name.lower()
    return any(w in lowered for w in SECRET_CREDENTIAL_WORDS) and not lowered.endswith(
        ("_type", "_url", "_uri", "_at", "_in")
    )


def _scrubbed(result: CellResult, known: set[str]) -> CellResult:
    """``result`` with credential headers and the ``known`` secrets masked everywhere."""
    result.input = scrub(result.input, known)
    result.output = scrub(result.output, known)
    if result.exception is not None and known:
        scrub_error(result.exception, known)
        result.error = result.exception.to_dict()
    elif result.error is not None:
        result.error = scrub(result.error, known)
    return result


def run_condition_cell(
    cell: ConditionCell, context: Mapping[str, Any], *, limits: CellBudget | None = None
) -> tuple[CellResult, list[str]]:
    """Evaluate a filter or router. Returns the result and the branches (or ``[]``) to run.

    A filter whose rules fail returns ``output.passed = False``; the runner then stops
    the run quietly. Runs on the calling thread: see :func:`run_condition_cell_async`.
    """
    taken: list[str] = []
    with _recording(cell.id) as result:
        if cell.rules is not None:
            ev = evaluate(cell.rules, context, cell_id=cell.id, limits=limits)
            result.output = {"passed": ev.passed, "rules": ev.rules}
        else:
            evaluations: dict[str, Any] = {}
            passed: dict[str, bool] = {}
            for branch in cell.branches or []:
                if branch.fallback:
                    continue
                assert branch.rules is not None
                ev = evaluate(branch.rules, context, cell_id=cell.id, limits=limits)
                evaluations[branch.name] = {"passed": ev.passed, "rules": ev.rules}
                passed[branch.name] = ev.passed
            taken = branches_taken(cell, passed)
            result.output = {"branches": taken, "evaluations": evaluations}
        result.status = "completed"
    return result, taken


async def run_condition_cell_async(
    cell: ConditionCell, context: Mapping[str, Any], *, limits: CellBudget | None = None
) -> tuple[CellResult, list[str]]:
    """:func:`run_condition_cell`, in a mapping worker thread unless its rules are light."""
    if _light_rules(cell):
        return run_condition_cell(cell, context, limits=limits)
    return await mapping.in_worker(lambda: run_condition_cell(cell, context, limits=limits))


def _light_rules(cell: ConditionCell) -> bool:
    data = cell.model_dump(include={"rules", "branches"})
    return mapping.is_light(data) and Operator.MATCHES_REGEX.value not in str(data)


def trigger_result(cell: TriggerCell, payload: Mapping[str, Any], *, apps: AppLookup) -> CellResult:
    """Record the trigger cell: its output is the payload, validated by the trigger's model."""
    with _recording(cell.id) as result:
        op = apps.get(cell.app).trigger(cell.operation)
        result.output = validate_output(cell.id, op.output, dict(payload))
        result.status = "completed"
    return result


async def run_aggregate_cell(
    cell: AggregateCell, context: Mapping[str, Any], *, limits: CellBudget | None = None
) -> CellResult:
    """Fold a loop's items (:func:`cells.loops.aggregate`), in a worker
    unless its mappings are light."""
    with _recording(cell.id) as result:
        result.input = {"loop": cell.loop, "mode": cell.mode}
        if mapping.is_light([cell.value, cell.key]):
            result.output = loops.aggregate(cell, context, limits=limits)
        else:
            result.output = await mapping.in_worker(
                lambda: loops.aggregate(cell, context, limits=limits)
            )
        result.status = "completed"
    return result


async def run_loop_cell(
    cell: LoopCell,
    context: Mapping[str, Any],
    *,
    run_step: loops.RunStep,
    cells: Mapping[str, StepCell],
    max_items: int = loops.DEFAULT_MAX_ITEMS,
    limits: CellBudget | None = None,
    scope: flow.Scope = (),
    path: str | None = None,
    finished: Callable[[str], loops.ItemRun | None] | None = None,
    on_item: Callable[[loops.ItemRun], Awaitable[None]] | None = None,
) -> tuple[CellResult, loops.LoopRun | None]:
    """Run a loop cell: its list (at most ``max_items``), then its cells per item
    (:func:`cells.loops.run_loop`).

    The result's input is ``{"count": n}``, its output the loop's output; a failed item
    fails it with that item's error (naming the loop, the item index and the cell). The
    :class:`~cells.loops.LoopRun` (None when the list could not be made) has each item.
    """
    ran: loops.LoopRun | None = None
    with _recording(cell.id) as result:
        items = await loops.loop_items(cell, context, max_items=max_items, limits=limits)
        result.input = {"count": len(items), "concurrency": cell.concurrency}
        ran = await loops.run_loop(
            cell,
            context,
            items,
            run_step=run_step,
            cells=cells,
            scope=scope,
            path=path,
            finished=finished,
            on_item=on_item,
        )
        if ran.failed is not None:
            result.error = ran.error()
            failed = ran.failed.exception
            result.exception = (
                failed if isinstance(failed, CellwrightError) else None
            ) or loops.ItemFailedError(result.error["message"])
        else:
            result.output = ran.output()
            result.status = "completed"
    return result, ran


class _ItemCellFailed(Exception):
    """A cell of a loop's item failed (for :func:`run_cell`'s loops); carries its error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "failed"))
        self.error = {**error}


async def run_cell(
    cell: StepCell,
    context: Mapping[str, Any],
    *,
    apps: AppLookup,
    make_context: ContextFactory,
    idempotency_key: str,
    timeout: float = 60.0,
    resolve_secrets: SecretResolver | None = None,
    limits: CellBudget | None = None,
    max_items: int = loops.DEFAULT_MAX_ITEMS,
    on_item: Callable[[loops.ItemRun], Awaitable[None]] | None = None,
) -> CellResult:
    """Run any step cell on its own (the workspace's "Run cell" and Step).

    A loop runs all its items here, unrecorded; its output lists each item's step outputs.
    ``on_item`` is called as each of its items ends (a live view of a long loop).
    """
    if isinstance(cell, ConditionCell):
        return (await run_condition_cell_async(cell, context, limits=limits))[0]
    if isinstance(cell, AggregateCell):
        return await run_aggregate_cell(cell, context, limits=limits)
    if isinstance(cell, LoopCell):
        inner = loops.cells_of(cell)
        errors: dict[tuple[str, str], dict[str, Any]] = {}  # (failing cell, item) -> `error`

        async def step(
            each: StepCell, ctx: dict[str, Any], scope: flow.Scope, path: str
        ) -> flow.CellOutcome:
            failing = flow.route_of(scope)
            seen = ctx if failing is None else {**ctx, "error": errors[(failing, path)]}
            if isinstance(each, LoopCell):
                result, _ = await run_loop_cell(
                    each,
                    seen,
                    run_step=step,
                    cells=inner,
                    max_items=max_items,
                    limits=limits,
                    scope=scope,
                    path=path,
                )
            else:
                result = await run_cell(
                    each,
                    seen,
                    apps=apps,
                    make_context=make_context,
                    idempotency_key=f"{idempotency_key}-{each.id}-{path}",
                    timeout=timeout,
                    resolve_secrets=resolve_secrets,
                    limits=limits,
                    max_items=max_items,
                )
            if result.ok:
                ctx["steps"][each.id] = result.output
                return flow.outcome(each, ok=True, output=result.output)
            route = flow.error_route(each)
            if route is not None:
                error = errors[(each.id, path)] = flow.route_error(each.id, result.error)
                output: Any = {"error": result.error}
                if route.then == "continue":
                    try:
                        output = mapping.render(
                            route.fallback,
                            {**seen, "error": error},
                            cell_id=each.id,
                            field="on_error.fallback",
                            limits=limits,
                        )
                    except CellwrightError as exc:
                        raise _ItemCellFailed({**exc.to_dict(), "cell_id": each.id}) from None
                ctx["steps"][each.id] = output
                return flow.FAILED
            if flow.continues_after_failure(each):
                ctx["steps"][each.id] = {"error": result.error}
                return flow.FAILED
            raise _ItemCellFailed({**(result.error or {}), "cell_id": each.id})

        return (
            await run_loop_cell(
                cell,
                context,
                run_step=step,
                cells=inner,
                max_items=max_items,
                limits=limits,
                on_item=on_item,
            )
        )[0]
    return await run_operation_cell(
        cell,
        context,
        apps=apps,
        make_context=make_context,
        idempotency_key=idempotency_key,
        timeout=timeout,
        resolve_secrets=resolve_secrets,
        limits=limits,
    )


RunCell = Callable[..., Awaitable[CellResult]]
