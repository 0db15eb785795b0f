"""GDPR from the command line: ``cellwright account``, ``privacy`` and ``retention``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cells.models import ScenarioDocument
from engine.service import Cellwright
from engine.settings import Settings
from workspace.cli import main

SUBJECT = "grace.hopper@example.org"
SECRET = "cli-SECRET-4e5f-RECOGNISABLE"
FLOW = {
    "name": "Signups",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "set",
            "kind": "transformer",
            "app": "formatter",
            "operation": "set_fields",
            "inputs": {"fields": {"who": "{{ trigger.email }}"}},
        },
    ],
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path) -> Any:
    runner = CliRunner()
    env = {"CELLWRIGHT_DATA_DIR": str(data_dir), "CELLWRIGHT_ANALYTICS": "false"}

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
async def seeded(data_dir: Path) -> dict[str, Any]:
    """An admin, Ada with a run that saw the subject's address and a connection, and Bob."""
    settings = Settings(_env_file=None, data_dir=data_dir, analytics=False, demo_data=False)  # type: ignore[call-arg]
    svc = Cellwright(settings)
    try:
        admin = svc.local_user()
        ada = svc.accounts.create_user("ada@example.com", name="Ada")
        bob = svc.accounts.create_user("bob@example.com", name="Bob")
        scenario = svc.import_scenario(ada.id, ScenarioDocument.model_validate(FLOW))
        await svc.start(scheduler=False, analytics=False)
        result = await svc.run_now(ada.id, scenario.id, {"email": SUBJECT})
        assert result["status"] == "completed", result
        await svc.run_now(ada.id, scenario.id, {"email": "other@example.org"})
        await svc.stop()
        svc.store.create_connection(ada.id, "http", "Vendor", {"api_key": SECRET})
        return {"admin": admin, "ada": ada, "bob": bob, "run": result["id"]}
    finally:
        svc.close()


def test_export_writes_the_users_archive(cli: Any, seeded: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "ada.zip"
    result = cli("account", "export", "--user", "ada@example.com", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "2 executions" in result.output
    with zipfile.ZipFile(out) as archive:
        text = "".join(archive.read(n).decode() for n in archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["user"]["email"] == "ada@example.com"
    assert SECRET not in text and SUBJECT in text

    missing = cli("account", "export", "--user", "nobody@example.com", "-o", str(out))
    assert missing.exit_code == 2 and "no user" in missing.output


def test_privacy_search_and_erase(cli: Any, seeded: dict[str, Any]) -> None:
    found = cli("privacy", "search", SUBJECT, "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["count"] == 1
    assert json.loads(found.output)["executions"][0]["id"] == seeded["run"]

    refused = cli("privacy", "erase", SUBJECT, input="n\n")
    assert refused.exit_code == 2
    assert json.loads(cli("privacy", "search", SUBJECT, "--json").output)["count"] == 1

    erased = cli("privacy", "erase", SUBJECT, "--yes")
    assert erased.exit_code == 0, erased.output
    assert "1 execution(s)" in erased.output
    assert json.loads(cli("privacy", "search", SUBJECT, "--json").output)["count"] == 0
    assert cli("audit", "verify").exit_code == 0


def test_an_admin_deletes_an_account_after_typing_the_address(
    cli: Any, seeded: dict[str, Any], data_dir: Path, tmp_path: Path
) -> None:
    wrong = cli("account", "delete", "--user", "ada@example.com", input="bob@example.com\n")
    assert wrong.exit_code == 2 and "does not match" in wrong.output
    done = cli("account", "delete", "--user", "ada@example.com", input="ada@example.com\n")
    assert done.exit_code == 0, done.output
    assert "2 scenario_executions" in done.output
    gone = cli("account", "export", "--user", "ada@example.com", "-o", str(tmp_path / "x.zip"))
    assert gone.exit_code == 2
    bob = cli("account", "export", "--user", "bob@example.com", "-o", str(tmp_path / "b.zip"))
    assert bob.exit_code == 0, bob.output
    last = cli("account", "delete", "--user", "admin@localhost", "--yes")
    assert last.exit_code == 2 and "last administrator" in last.output
    assert cli("audit", "verify").exit_code == 0


def test_retention_set_and_run(cli: Any, seeded: dict[str, Any]) -> None:
    shown = cli("retention", "set", "--user", "ada@example.com", "--days", "7")
    assert shown.exit_code == 0, shown.output
    assert "kept 7 days" in shown.output
    ran = cli("retention", "run")
    assert ran.exit_code == 0 and "Deleted 0 execution(s)" in ran.output
    back = cli("retention", "set", "--user", "ada@example.com")
    assert "the server default" in back.output
