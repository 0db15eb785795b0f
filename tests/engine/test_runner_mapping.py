"""Mapping work in the engine: budgets per cell and per run, and a free event loop.

One scenario with forty heavy fields used to block the server for every user for
half a minute. Now each cell and each run has a time budget (settings
``mapping_cell_seconds`` / ``mapping_run_seconds``), and heavy expressions render in
worker threads while the event loop serves everyone else.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cells import _mapping_budget as budget
from cells import document as documents
from connectors.registry import Registry
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
# ten clock readings per field with the fake clock below: about 0.5 s of "work" each
TEN_CHECKS = "{% for i in range(160) %}{% endfor %}ok"


def shape(cell_id: str, fields: dict[str, str]) -> str:
    listed = ", ".join(f'{key}: "{value}"' for key, value in fields.items())
    return (
        f"  - {{id: {cell_id}, kind: transformer, app: formatter, "
        f"operation: set_fields, inputs: {{fields: {{{listed}}}}}}}\n"
    )


def save(svc: Cellwright, user: Any, cells: str) -> Any:
    return svc.import_scenario(user.id, documents.loads(f"name: Heavy\ncells:\n{MANUAL}{cells}"))


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = itertools.count()
    monkeypatch.setattr(budget, "clock", lambda: next(readings) * 0.05)


@pytest.mark.usefixtures("fake_clock")
async def test_forty_heavy_fields_stop_at_the_cells_budget(
    make_settings: Callable[..., Settings], registry: Registry, helpers: Any
) -> None:
    async with running_service(make_settings(mapping_cell_seconds=2.0), registry) as svc:
        scenario = save(
            svc, svc.local_user(), shape("heavy", {f"f{i}": TEN_CHECKS for i in range(40)})
        )
        execution, _ = await svc.trigger(scenario, {})
        result = await helpers.finished(svc, execution.id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "mapping_error"
    assert result["error"]["cell_id"] == "heavy"
    assert result["error"]["message"] == (
        f"Cell 'heavy', field 'fields.f3': {TEN_CHECKS} — the mappings of this cell used more"
        " than 2 s of work in all (setting mapping_cell_seconds); simplify the expressions or"
        " filter the data first"
    )


@pytest.mark.usefixtures("fake_clock")
async def test_heavy_cells_stop_at_the_runs_budget(
    make_settings: Callable[..., Settings], registry: Registry, helpers: Any
) -> None:
    async with running_service(make_settings(mapping_run_seconds=2.5), registry) as svc:
        cells = "".join(shape(f"c{n}", {"a": TEN_CHECKS, "b": TEN_CHECKS}) for n in range(4))
        scenario = save(svc, svc.local_user(), cells)
        execution, _ = await svc.trigger(scenario, {})
        result = await helpers.finished(svc, execution.id)
    assert result["status"] == "failed"
    assert [(c["cell_id"], c["status"]) for c in result["cells"]] == [
        ("start", "completed"),
        ("c0", "completed"),
        ("c1", "completed"),
        ("c2", "failed"),
    ]
    assert result["error"]["message"] == (
        f"Cell 'c2', field 'fields.a': {TEN_CHECKS} — the mappings of this run used more"
        " than 2.5 s of work in all (setting mapping_run_seconds); simplify the expressions or"
        " filter the data first"
    )


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # Generous budgets for the test below: under coverage on a loaded CI machine its
    # 90,000-step loops take several CPU seconds, and what it proves is the free event
    # loop, not the limits (the tests above cover those with a controlled clock).
    return make_settings(mapping_cell_seconds=120.0, mapping_run_seconds=300.0)


async def test_healthz_answers_while_a_heavy_cell_renders(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "MAX_SECONDS", 60.0)
    heavy = "{% for i in range(90000) %}{{ i % 7 }}{% endfor %}"
    doc = documents.loads(
        f"name: Heavy\ncells:\n{MANUAL}{shape('heavy', {f'f{i}': heavy for i in range(3)})}"
    )
    task = asyncio.ensure_future(svc.run_cell(user.id, doc, "heavy", {"trigger": {}, "steps": {}}))
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    # rendered on the event loop, the cell would have finished before /healthz answered
    assert not task.done()
    result = await task
    assert result.status == "completed", result.error
    assert len(result.output["f2"]) == 90000
