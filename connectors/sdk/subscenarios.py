"""What the built-in Scenarios app sees of the engine: ``ctx.scenarios``.

A "Run scenario" cell starts a run of another of the owner's scenarios (one whose
trigger is "When called by another scenario") and, by default, waits for its output.
The engine hands a ``ScenarioCalls`` bound to the scenario's owner and to the run that
calls (never the store, never another user's scenarios) to apps that declare
``App(uses_scenarios=True)``; only the built-in Scenarios app does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CallResult", "CallableScenario", "ScenarioCalls"]


@dataclass(frozen=True)
class CallableScenario:
    """One of the owner's published scenarios that can be called."""

    id: str
    name: str


@dataclass(frozen=True)
class CallResult:
    """How a call ended: the called run's id, its status (``completed``, or ``queued``
    without waiting) and, when waited for, the output it returned."""

    execution_id: str
    status: str
    output: Any = None


class ScenarioCalls(Protocol):
    """The owner's callable scenarios, as one run (or one cell run) calls them."""

    async def callable(self) -> list[CallableScenario]:
        """The owner's published scenarios whose trigger can be called, by name."""
        ...

    async def call(self, scenario_id: str, inputs: Mapping[str, Any], *, wait: bool) -> CallResult:
        """Run the scenario's published version with ``inputs``; with ``wait``, in this
        run's place and until it ends (its failure raises, with its error)."""
        ...
