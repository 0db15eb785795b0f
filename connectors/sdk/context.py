"""What an operation receives besides its inputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.sdk.datastores import DataStoreAccess
    from connectors.sdk.http import ConnectorHttp
    from connectors.sdk.subscenarios import ScenarioCalls

HOPS_HEADER = "X-Cellwright-Hops"
"""Sent by the HTTP action (the execution's ``hops`` + 1) and read by webhook ingress:
how many Cellwright-to-Cellwright calls led to a run, so a scenario that calls its own
webhook (directly or round a ring of scenarios) stops after ``CELLWRIGHT_MAX_HOPS``."""


@dataclass
class TokenUsage:
    """Tokens a cell's calls to a language model used (the AI steps report them)."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def recorded(cls, output: Any, error: Any) -> TokenUsage | None:
        """The usage a finished cell run recorded: ``model`` and ``usage`` in its output,
        or in its error's ``details`` when it failed (what the AI steps write)."""
        found = output if isinstance(output, Mapping) else None
        if found is None and isinstance(error, Mapping):
            details = error.get("details")
            found = details if isinstance(details, Mapping) else None
        if found is None:
            return None
        model, usage = found.get("model"), found.get("usage")
        if not isinstance(model, str) or not isinstance(usage, Mapping):
            return None
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if type(prompt) is not int or type(completion) is not int:
            return None
        return cls(model=model, prompt_tokens=prompt, completion_tokens=completion)

    def to_dict(self) -> dict[str, Any]:
        """``model``, ``prompt_tokens``, ``completion_tokens``, ``total_tokens``."""
        return {
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class OperationContext:
    """Per-call context.

    ``credentials`` are decrypted in memory for the auth layer and custom code; never
    put them in an output, an error or a log line. ``idempotency_key`` is stable for
    (execution, cell, item): pass it to vendors that accept one so a retried or resumed
    run never repeats a side effect.
    """

    http: ConnectorHttp
    credentials: Mapping[str, Any] = field(default_factory=dict)
    connection_id: str | None = None
    connection_metadata: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    execution_id: str | None = None
    scenario_id: str | None = None
    cell_id: str | None = None
    webhook_url: str | None = None
    hops: int = 0
    """How many Cellwright webhook calls led to this execution (``HOPS_HEADER``)."""
    data_stores: DataStoreAccess | None = None
    """The data stores of the scenario's owner, for apps that declare
    ``App(uses_data_stores=True)``; None for every other app."""
    scenarios: ScenarioCalls | None = None
    """The owner's callable scenarios, for apps that declare ``App(uses_scenarios=True)``
    (the built-in Scenarios app); None for every other app."""
    logger: logging.Logger = field(
        default_factory=lambda: logging.getLogger("cellwright.connector")
    )
    extras: dict[str, Any] = field(default_factory=dict)
    usage: TokenUsage | None = None
    """Tokens the operation's model calls used, summed (``count_tokens``); the runner
    puts them in the analytics log, also when the operation fails."""

    def count_tokens(self, model: str, prompt_tokens: int, completion_tokens: int) -> TokenUsage:
        """Add one model call's tokens to ``usage`` (the latest call names the model)."""
        if self.usage is None:
            self.usage = TokenUsage(model=model)
        self.usage.model = model
        self.usage.prompt_tokens += max(0, int(prompt_tokens))
        self.usage.completion_tokens += max(0, int(completion_tokens))
        return self.usage
