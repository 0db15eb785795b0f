"""Delay cells in a run: park the execution instead of sleeping, finish the cell on resume.

A "Delay for", "Delay until" or "Wait for a call" cell (the built-in ``delay`` app) runs
its operation first, as any cell (mapping, input validation, its own clear errors): the
operation only computes what the run would wait. In a run the runner then *parks*:

1. it records the cell as ``running`` with ``{"resumes_at", "waiting_for"}`` (the
   execution page shows it), and
2. parks the execution as ``waiting`` until that time (``ExecutionsRepo.park_execution``),
   its lease released: no executor slot is held and no task sleeps. The executor's timer
   or, after a restart, its sweeper resumes the run when it is due.

On resume the runner restores every finished cell from its record (as after a retry),
reaches the parked cell again and finishes it here: a delay completes with
``{"waited_seconds", "resumed_at"}``; a wait for a call completes with the call that came
to the run's resume URL (``/hooks/resume/{token}``, one call per run) or, once its timeout
passed, takes its timeout path (fails with ``wait_timed_out`` or completes with
``timed_out: true``). A wait is capped by ``Settings.max_delay_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cells.models import ScenarioDocument
from cells.run import CellResult
from cells.secrets import scrub
from connectors.delay import APP_KEY, DELAYS, WAIT_FOR_CALL
from connectors.delay.actions import parse_until, timeout_seconds
from connectors.delay.schemas import WaitForCallInput, WaitForCallOutput
from connectors.sdk import (
    CellwrightError,
    IncomingRequest,
    LimitExceededError,
    WaitTimedOutError,
)

if TYPE_CHECKING:
    from storage import NodeResult

RESUME_PATH = "/hooks/resume/"
TIMED_OUT = {"timed_out": True}
"""What a resume URL keeps once its wait timed out: a late call is refused (410)."""

__all__ = [
    "APP_KEY",
    "RESUME_PATH",
    "Park",
    "is_delay",
    "resume_url",
    "waits_for_call",
]


@dataclass(frozen=True)
class Park:
    """Where a run parks: until when, and whether a call to its resume URL ends it sooner."""

    until: datetime
    for_call: bool = False


def is_delay(app: str) -> bool:
    """Does a cell of ``app`` park its run (the built-in Delay app)?"""
    return app == APP_KEY


def waits_for_call(doc: ScenarioDocument) -> bool:
    """Does the scenario have a "Wait for a call" cell (so its runs get a resume URL)?"""
    return any(
        getattr(cell, "app", None) == APP_KEY and getattr(cell, "operation", None) == WAIT_FOR_CALL
        for cell, _ in doc.walk()
    )


def resume_url(base: str, token: str) -> str:
    """The public URL that resumes a run waiting for a call."""
    return f"{base.rstrip('/')}{RESUME_PATH}{token}"


def planned_until(
    operation: str, previewed: CellResult, now: datetime, max_days: float
) -> datetime:
    """When a run parked at this cell goes on (a call may end a wait sooner), from the
    operation's preview of it; ``LimitExceededError`` past ``max_delay_days``."""
    output = previewed.output or {}
    if operation in DELAYS:
        wait = float(output.get("waited_seconds") or 0.0)
        what = "delay"
    else:
        wait = timeout_seconds(WaitForCallInput.model_validate(previewed.input or {}))
        what = "timeout"
    if wait > max_days * 86400:
        raise LimitExceededError(
            f"The {what} of {_human(wait)} is longer than the longest wait allowed,"
            f" {max_days:g} days (setting max_delay_days). Wait less, or ask the operator"
            " to raise CELLWRIGHT_MAX_DELAY_DAYS.",
            limit="max_delay_days",
        )
    if operation == "delay_until" and wait > 0:
        return parse_until(str(output["resumed_at"]))  # the time itself, to the microsecond
    return now + timedelta(seconds=wait)


def parked_record(cell_id: str, previewed: CellResult, park: Park, now: datetime) -> CellResult:
    """The ``running`` record of a parked cell: what it waits for and until when."""
    return CellResult(
        cell_id=cell_id,
        status="running",
        input=previewed.input,
        output={
            "resumes_at": park.until.isoformat(),
            "waiting_for": "call" if park.for_call else "time",
            "parked_at": now.isoformat(),
        },
        started_at=previewed.started_at,
        ended_at=now,
        duration_ms=previewed.duration_ms,
    )


def resumes_at(parked: NodeResult) -> datetime:
    """When the parked cell's wait ends (its timeout, for a wait for a call)."""
    return parse_until(str((parked.output or {})["resumes_at"]))


def waited(cell_id: str, parked: NodeResult, now: datetime) -> CellResult:
    """A finished delay: completed, with how long the run waited."""
    since = parked.end_time or parked.start_time or now
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return CellResult(
        cell_id=cell_id,
        status="completed",
        input=parked.input,
        output={
            "waited_seconds": round(max(0.0, (now - since).total_seconds()), 3),
            "resumed_at": now.isoformat(),
            "preview": False,
        },
        started_at=now,
        ended_at=now,
        duration_ms=0.0,
    )


def no_wait(cell_id: str, previewed: CellResult, now: datetime) -> CellResult:
    """A delay with nothing to wait for (0, or a time that has passed)."""
    return CellResult(
        cell_id=cell_id,
        status="completed",
        input=previewed.input,
        output={"waited_seconds": 0.0, "resumed_at": now.isoformat(), "preview": False},
        started_at=previewed.started_at,
        ended_at=now,
        duration_ms=previewed.duration_ms,
    )


def called(cell_id: str, inputs: Any, call: dict[str, Any], now: datetime) -> CellResult:
    """A wait that a call ended (``call``: as stored, credential headers masked), or that
    timed out (``call`` is ``TIMED_OUT``): completed, or failed with ``wait_timed_out``
    when its ``on_timeout`` is ``fail``."""
    if call.get("timed_out"):
        options = WaitForCallInput.model_validate(inputs or {})
        if options.on_timeout == "fail":
            error = WaitTimedOutError(
                f"No call came to the run's resume URL within {options.timeout:g}"
                f" {options.timeout_unit}. Give the cell an on_error route to handle it, or"
                " set on_timeout: continue.",
            )
            return CellResult(
                cell_id=cell_id,
                status="failed",
                input=inputs,
                error=error.to_dict(),
                exception=error,
                started_at=now,
                ended_at=now,
                duration_ms=0.0,
            )
        output = WaitForCallOutput(timed_out=True).model_dump()
    else:
        output = WaitForCallOutput.model_validate(call).model_dump()
    return CellResult(
        cell_id=cell_id,
        status="completed",
        input=inputs,
        output=output,
        started_at=now,
        ended_at=now,
        duration_ms=0.0,
    )


def refused(previewed: CellResult, error: CellwrightError) -> CellResult:
    """The cell failed before parking (its wait is too long)."""
    previewed.status, previewed.output = "failed", None
    previewed.error, previewed.exception = error.to_dict(), error
    return previewed


CALL_ANSWERS: dict[str, tuple[int, dict[str, str]]] = {
    "accepted": (202, {"status": "resumed"}),
    "unknown": (
        404,
        {
            "error": "not_found",
            "message": "No run waits at this URL. Check that the link is complete.",
        },
    ),
    "used": (
        410,
        {
            "error": "gone",
            "message": "This run's resume URL was already called (or its wait timed out):"
            " a resume URL takes one call.",
        },
    ),
    "finished": (
        410,
        {
            "error": "gone",
            "message": "The run this URL belongs to has finished: it no longer takes calls.",
        },
    ),
}
"""What ``/hooks/resume/{token}`` answers, by ``ExecutionsRepo.take_resume_call``'s answer."""


def call_record(request: IncomingRequest, now: datetime) -> dict[str, Any]:
    """A call to a resume URL as stored and given to the wait cell: credential headers
    (Authorization, Cookie…) masked, as a webhook's are."""
    recorded: dict[str, Any] = scrub(
        {
            "method": request.method,
            "headers": dict(request.headers),
            "query": dict(request.query),
            "body": request.parsed_body(),
            "received_at": now.isoformat(),
        }
    )
    return recorded


def _human(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"


def is_wait_for_call(operation: str) -> bool:
    return operation == WAIT_FOR_CALL
