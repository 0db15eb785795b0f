"""Inputs and outputs of the Delay app's operations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Unit = Literal["seconds", "minutes", "hours", "days"]


class DelayForInput(BaseModel):
    """How long the run waits."""

    model_config = ConfigDict(extra="forbid")
    amount: float = Field(
        description="How many units to wait (mappable: a number, or text such as '90'). 0 does"
        " not wait.",
        ge=0,
        examples=[15],
    )
    unit: Unit = Field("minutes", description="seconds, minutes, hours or days.")


class DelayUntilInput(BaseModel):
    """When the run goes on."""

    model_config = ConfigDict(extra="forbid")
    until: str | float = Field(
        description="The date and time to wait until: ISO 8601 ('2026-03-30T09:00:00+02:00',"
        " '2026-03-30 09:00', '2026-03-30') or a Unix timestamp in seconds. A time in the past"
        " does not wait.",
        examples=["2026-03-30T09:00:00+02:00"],
    )
    timezone: str = Field(
        "UTC",
        description="The IANA time zone of a date or time written without one ('Europe/Paris').",
    )


class DelayOutput(BaseModel):
    """What the wait was."""

    waited_seconds: float = Field(
        description="Seconds the run waited (in a cell run on its own: would wait)."
    )
    resumed_at: str = Field(
        description="When the run went on, ISO 8601 in UTC (in a cell run on its own: would go on)."
    )
    preview: bool = Field(False, description="True when the cell ran on its own: nothing waited.")


class WaitForCallInput(BaseModel):
    """How long the run waits for a call to its resume URL, and what a timeout does."""

    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(
        1,
        gt=0,
        description="How many units to wait for the call before the timeout path (mappable).",
    )
    timeout_unit: Unit = Field("days", description="seconds, minutes, hours or days.")
    on_timeout: Literal["fail", "continue"] = Field(
        "fail",
        description="fail: the cell fails with 'wait_timed_out' (its on_error route applies)."
        " continue: the cell completes with timed_out: true.",
    )


class WaitForCallOutput(BaseModel):
    """The call that resumed the run (credential headers masked)."""

    timed_out: bool = Field(False, description="True when no call came before the timeout.")
    method: str | None = Field(None, description="HTTP method of the call.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="The call's headers, lower-case names."
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="The call's query-string parameters."
    )
    body: Any = Field(None, description="The call's body: parsed JSON, form fields, or text.")
    received_at: str | None = Field(None, description="When the call came, ISO 8601 in UTC.")
    preview: bool = Field(False, description="True when the cell ran on its own: nothing waited.")
