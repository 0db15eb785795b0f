"""What an operation receives besides its inputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.sdk.datastores import DataStoreAccess
    from connectors.sdk.http import ConnectorHttp

HOPS_HEADER = "X-Cellwright-Hops"
"""Sent by the HTTP action (the execution's ``hops`` + 1) and read by webhook ingress:
how many Cellwright-to-Cellwright calls led to a run, so a scenario that calls its own
webhook (directly or round a ring of scenarios) stops after ``CELLWRIGHT_MAX_HOPS``."""


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
    logger: logging.Logger = field(
        default_factory=lambda: logging.getLogger("cellwright.connector")
    )
    extras: dict[str, Any] = field(default_factory=dict)
