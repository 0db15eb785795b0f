"""The leader's hourly retention sweep: deletes old finished executions, audits only
the sweeps that deleted something (not 24 empty entries a day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cells import document as documents
from engine.cluster import Retention
from engine.service import Cellwright


def runs(svc: Cellwright, user: Any) -> list[str]:
    return [e.action for e in svc.accounts.audit_entries(None, action="retention")]


async def test_the_hourly_sweep_deletes_old_runs_and_audits_only_real_work(
    svc: Cellwright, user: Any
) -> None:
    scenario = svc.import_scenario(
        user.id,
        documents.loads(
            "name: R\ncells:\n  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
        ),
    )
    execution, _ = svc.store.create_execution(
        scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
    )
    svc.store.finish_execution(execution.id, status="completed")
    job = Retention(svc)
    assert job.sweep() == 0  # younger than retention_days: kept, and nothing audited
    assert runs(svc, user) == []
    later = datetime.now(UTC) + timedelta(days=svc.settings.retention_days + 1)
    assert svc.executions.sweep(svc.settings.retention_days, later, audit_empty=False) == 1
    assert svc.store.get_execution(None, execution.id) is None
    assert runs(svc, user) == ["retention.run"]
