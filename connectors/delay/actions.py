"""The Delay app's operations, and the plan the runner parks a run by.

Run on their own (the notebook's Run cell, the live preview) they wait for nothing:
they say what a run would do (``preview: true``). In a run, the runner
(``engine/delays.py``) parks the execution instead of sleeping: no executor slot is
held, and the run survives a restart.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.delay.schemas import (
    DelayForInput,
    DelayOutput,
    DelayUntilInput,
    Unit,
    WaitForCallInput,
    WaitForCallOutput,
)
from connectors.sdk import InvalidInputError, OperationContext

SECONDS: dict[str, int] = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def invalid(field: str, message: str) -> InvalidInputError:
    """An input error about one field."""
    return InvalidInputError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def seconds(amount: float, unit: Unit, field: str = "amount") -> float:
    """``amount`` ``unit`` in seconds."""
    if not math.isfinite(amount) or amount < 0:
        raise invalid(field, f"must be a number of {unit} (0 or more); got {amount}.")
    return amount * SECONDS[unit]


def parse_until(value: str | float, timezone: str = "UTC") -> datetime:
    """A "delay until" value as an aware UTC datetime: ISO 8601 (a date, a date and time,
    with or without an offset; 'Z' accepted) or a Unix timestamp in seconds."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(
            "timezone", f"'{timezone}' is not a time zone; use an IANA name like 'Europe/Paris'."
        ) from None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise invalid("until", "is not a date or time.")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise invalid("until", f"{value} is not a Unix timestamp in seconds.") from None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except (ValueError, OverflowError, OSError):
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise invalid(
                "until",
                f"'{shown}' is not a date or time. Use ISO 8601 ('2026-03-30T09:00:00+02:00',"
                " '2026-03-30 09:00', '2026-03-30') or a Unix timestamp in seconds; the"
                " Formatter's Dates action converts other formats.",
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def timeout_seconds(inputs: WaitForCallInput) -> float:
    """How long a "Wait for a call" cell waits, in seconds."""
    return seconds(inputs.timeout, inputs.timeout_unit, "timeout")


async def delay_for(ctx: OperationContext, inputs: DelayForInput) -> DelayOutput:
    """What the run would wait: ``amount`` ``unit`` from now."""
    wait = seconds(inputs.amount, inputs.unit)
    try:
        until = datetime.now(UTC) + timedelta(seconds=wait)
    except OverflowError:
        raise invalid("amount", f"{inputs.amount} {inputs.unit} is too long a wait.") from None
    return DelayOutput(waited_seconds=wait, resumed_at=until.isoformat(), preview=True)


async def delay_until(ctx: OperationContext, inputs: DelayUntilInput) -> DelayOutput:
    """What the run would wait: until ``until`` (no wait when it has passed)."""
    until = parse_until(inputs.until, inputs.timezone)
    now = datetime.now(UTC)
    wait = max(0.0, (until - now).total_seconds())
    return DelayOutput(waited_seconds=wait, resumed_at=max(until, now).isoformat(), preview=True)


async def wait_for_call(ctx: OperationContext, inputs: WaitForCallInput) -> WaitForCallOutput:
    """Run on its own: no call is awaited; the output shows the shape a call gives."""
    timeout_seconds(inputs)
    return WaitForCallOutput(timed_out=False, preview=True)
