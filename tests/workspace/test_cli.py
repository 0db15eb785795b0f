"""The ``cellwright`` command: the contract users script against."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from cells import document as documents
from storage import Store
from storage.analytics import AnalyticsLog
from workspace.cli import main

FLOW = """\
name: CLI flow
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: compute
    kind: transformer
    app: formatter
    operation: set_fields
    inputs:
      fields:
        total: "{{ trigger.body.amount * 2 }}"
  - id: send
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/cli", body_type: json,
             body: {total: "{{ steps.compute.total }}"}}
"""
EVENT = json.dumps({"method": "POST", "headers": {}, "query": {}, "body": {"amount": 21}})


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    runner = CliRunner()
    env = {
        "CELLWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true",
        "CELLWRIGHT_RETRY_BASE_SECONDS": "0.05",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def flow(tmp_path: Path, sink: Any) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.replace("SINK", sink.url), encoding="utf-8")
    return path


def one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["run"],
        ["import"],
        ["publish"],
        ["export"],
        ["apps"],
        ["executions"],
        ["rerun"],
        ["apikey"],
    ],
)
def test_every_command_has_help(cli: Any, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    assert "--data-dir" in result.stdout or command in ([], ["apps"])


def test_help_documents_the_contract(cli: Any) -> None:
    assert all(
        option in cli("serve", "--help").stdout for option in ("--host", "--port", "--data-dir")
    )
    run_help = cli("run", "--help").stdout
    assert (
        "--trigger-data" in run_help
        and "Exit code 0 when the run completed, 1 when it failed, 2" in run_help
    )
    assert "--enable" in cli("import", "--help").stdout
    assert "--version" in cli("publish", "--help").stdout
    assert "-o, --output" in cli("export", "--help").stdout
    assert all(
        option in cli("executions", "--help").stdout
        for option in ("--scenario", "--status", "--json")
    )
    assert all(
        option in cli("rerun", "--help").stdout for option in ("--from-start", "--from-cell")
    )
    assert cli("--version").stdout.strip() == "cellwright, version 0.1.0"


def test_apps_lists_the_catalog(cli: Any) -> None:
    rows = json.loads(cli("apps", "--json").stdout)
    assert {"webhook", "schedule", "manual", "http", "formatter"} <= {r["key"] for r in rows}
    for row in rows:
        assert set(row) == {"key", "name", "category", "auth", "triggers", "actions"}
        for op in row["triggers"] + row["actions"]:
            assert set(op) == {"key", "name"}
    http = next(r for r in rows if r["key"] == "http")
    assert (
        http["actions"] == [{"key": "request", "name": "Make a request"}] and http["auth"] == "none"
    )
    table = cli("apps").stdout
    assert re.search(r"^http\s+HTTP\s+Built-in\s+auth=none\s+triggers=0 actions=1$", table, re.M)


def test_run_prints_the_execution_and_exits_0(cli: Any, flow: Path, sink: Any) -> None:
    result = cli("run", str(flow), "--trigger-data", EVENT)
    assert result.exit_code == 0, result.output
    execution = json.loads(result.stdout)
    assert execution["status"] == "completed"
    assert [c["cell_id"] for c in execution["cells"]] == ["hook", "compute", "send"]
    assert all(
        c["status"] == "completed" and c["duration_ms"] is not None for c in execution["cells"]
    )
    assert sink.hits("/cli")[0].body == {"total": 42}
    again = cli("run", str(flow), "--trigger-data", EVENT)
    assert (
        again.exit_code == 0 and json.loads(again.stdout)["scenario_id"] == execution["scenario_id"]
    )


def test_runs_of_a_file_leave_no_scenario_behind_and_reach_history_and_analytics(
    cli: Any, flow: Path, sink: Any, tmp_path: Path
) -> None:
    ids = set()
    for _ in range(3):
        result = cli("run", str(flow), "--trigger-data", EVENT)
        assert result.exit_code == 0, result.output
        ids.add(json.loads(result.stdout)["id"])
    assert len(ids) == 3
    with Store.for_data_dir(tmp_path / "data") as store:
        user = store.list_users()[0]
        assert store.list_scenarios(user.id) == []  # the workspace shows no draft
        hidden = store.file_scenario(user.id, str(flow.resolve()))
        assert hidden is not None and hidden.version == 1  # one per file, the same document
        history = store.list_executions(user.id)
        assert {e.id for e in history} == ids and {e.scenario_id for e in history} == {hidden.id}
        assert store.analytics_backlog() == 0  # copied into the analytics file by each run
    with AnalyticsLog(tmp_path / "data" / "analytics.duckdb") as log:
        assert log.summary(user.id)["runs"] == 3
    listed = cli("executions", "--json")
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 3


def test_run_exits_1_when_the_run_fails(cli: Any, flow: Path, sink: Any, helpers: Any) -> None:
    sink.plan("/cli", helpers.Reply(400, {"message": "rejected"}))
    result = cli("run", str(flow), "--trigger-data", EVENT)
    assert result.exit_code == 1
    execution = json.loads(result.stdout)
    assert execution["status"] == "failed"
    assert execution["error"]["cell_id"] == "send" and "rejected" in execution["error"]["message"]


def test_run_exits_2_for_an_invalid_file_or_data(cli: Any, flow: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: x\ncells:\n  - id: a\n    kind: action\n    app: http\n    operation: request\n",
        encoding="utf-8",
    )
    line = one_line_error(cli("run", str(broken)))
    assert "broken.yaml: cells[0] (id 'a').kind: the first cell must be the trigger" in line
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [x\n", encoding="utf-8")
    assert "line 2" in one_line_error(cli("run", str(bad_yaml)))
    assert "no such file" in one_line_error(cli("run", str(tmp_path / "missing.yaml")))
    assert "--trigger-data is not valid JSON" in one_line_error(
        cli("run", str(flow), "--trigger-data", "{nope")
    )
    assert "must be a JSON object" in one_line_error(cli("run", str(flow), "--trigger-data", "[1]"))
    unknown_app = tmp_path / "unknown.yaml"
    unknown_app.write_text(FLOW.replace("app: http", "app: nope"), encoding="utf-8")
    assert "There is no app 'nope'" in one_line_error(cli("run", str(unknown_app)))


def test_import_export_round_trip(cli: Any, flow: Path, tmp_path: Path) -> None:
    imported = cli("import", str(flow))
    assert imported.exit_code == 0
    scenario_id = imported.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", scenario_id)
    exported = cli("export", scenario_id)
    assert exported.exit_code == 0
    assert documents.loads(exported.stdout) == documents.load(flow)
    out = tmp_path / "exported.yaml"
    assert cli("export", scenario_id, "-o", str(out)).stdout == ""
    assert out.read_text(encoding="utf-8") == exported.stdout
    second_id = cli("import", str(out)).stdout.strip()
    assert second_id != scenario_id
    assert cli("export", second_id).stdout == exported.stdout  # byte-identical


def test_a_bearer_token_in_a_file_is_used_but_never_exported_or_printed(
    cli: Any, flow: Path, tmp_path: Path, sink: Any
) -> None:
    token = "sk-CLI-FILE-TOKEN-3141"
    flow.write_text(
        flow.read_text(encoding="utf-8").replace(
            "body_type: json,", f"bearer_token: {token}, body_type: json,"
        ),
        encoding="utf-8",
    )
    for _ in range(2):  # run re-imports the file as a new version of its draft
        result = cli("run", str(flow), "--trigger-data", EVENT)
        assert result.exit_code == 0 and token not in result.stdout
    assert [seen.headers["authorization"] for seen in sink.hits("/cli")] == [f"Bearer {token}"] * 2
    scenario_id = cli("import", str(flow)).stdout.strip()
    exported = cli("export", scenario_id).stdout
    assert token not in exported and "$secret" in exported
    out = tmp_path / "exported.yaml"
    out.write_text(exported, encoding="utf-8")
    copy_id = cli("import", str(out)).stdout.strip()  # the same account: the reference is kept
    assert cli("export", copy_id).stdout == exported
    data = b"".join(f.read_bytes() for f in sorted((tmp_path / "data").glob("cellwright.db*")))
    assert b"CLI flow" in data and token.encode() not in data


def test_import_enable_and_errors(cli: Any, flow: Path, tmp_path: Path) -> None:
    scenario_id = cli("import", str(flow), "--enable").stdout.strip()
    from engine.service import Cellwright
    from engine.settings import Settings

    svc = Cellwright(Settings(_env_file=None, data_dir=tmp_path / "data", analytics=False))  # type: ignore[call-arg]
    try:
        enabled = svc.scenario(svc.local_user().id, scenario_id)
        assert (enabled.status, enabled.live_version) == ("active", 1)  # published, then enabled
    finally:
        svc.close()
    assert "no such file" in one_line_error(cli("import", str(tmp_path / "nope.yaml")))
    assert "No scenario 0000" in one_line_error(cli("export", "0" * 32))


def test_publish_makes_a_saved_version_live(cli: Any, flow: Path, tmp_path: Path) -> None:
    scenario_id = cli("import", str(flow)).stdout.strip()
    from engine.service import Cellwright
    from engine.settings import Settings

    def open_svc() -> Cellwright:
        return Cellwright(Settings(_env_file=None, data_dir=tmp_path / "data", analytics=False))  # type: ignore[call-arg]

    svc = open_svc()
    try:
        assert (
            svc.scenario(svc.local_user().id, scenario_id).live_version is None
        )  # imported: a draft
        svc.import_scenario(
            svc.local_user().id, documents.load(flow), scenario_id=scenario_id
        )  # version 2
    finally:
        svc.close()
    published = cli("publish", scenario_id)
    assert published.exit_code == 0, published.output
    assert (
        published.stdout.strip()
        == "Version 2 of 'CLI flow' is live (draft: enable it to run on its trigger)."
    )
    assert cli("publish", scenario_id, "--version", "1").stdout.startswith(
        "Version 1 of 'CLI flow' is live"
    )
    svc = open_svc()
    try:
        assert svc.scenario(svc.local_user().id, scenario_id).live_version == 1
    finally:
        svc.close()
    assert "has no version 7" in one_line_error(cli("publish", scenario_id, "--version", "7"))
    assert "No scenario 0000" in one_line_error(cli("publish", "0" * 32))
    bad = cli("publish", scenario_id, "--version", "0")  # click's own usage error
    assert bad.exit_code == 2 and "Invalid value for '--version'" in bad.stderr


def test_executions_and_rerun(cli: Any, flow: Path, sink: Any, helpers: Any) -> None:
    sink.plan("/cli", helpers.Reply(400, {"message": "rejected"}), helpers.Reply(200, {"ok": True}))
    failed = json.loads(cli("run", str(flow), "--trigger-data", EVENT).stdout)
    listed = json.loads(cli("executions", "--json").stdout)
    assert [e["id"] for e in listed] == [failed["id"]] and listed[0]["status"] == "failed"
    assert json.loads(cli("executions", "--json", "--status", "completed").stdout) == []
    assert (
        json.loads(cli("executions", "--json", "--scenario", failed["scenario_id"]).stdout)[0]["id"]
        == failed["id"]
    )
    header, row = cli("executions").stdout.splitlines()
    assert header.split() == ["EXECUTION", "STATUS", "SCENARIO", "STARTED", "DURATION", "ERROR"]
    assert row.startswith(f"{failed['id']}  failed     CLI flow ") and "rejected" in row
    assert failed["scenario_id"] not in row  # the name, not the id
    assert header.index("SCENARIO") == row.index("CLI flow")  # the columns line up
    assert [
        e["id"] for e in json.loads(cli("executions", "--json", "--search", '"AMOUNT": 21').stdout)
    ] == [failed["id"]]
    assert cli("executions", "--search", "no such text").stdout.splitlines()[1:] == []
    # only the runs an execution called (sub-scenarios): this one called none
    assert json.loads(cli("executions", "--json", "--parent", failed["id"]).stdout) == []

    rerun = cli("rerun", failed["id"])
    assert rerun.exit_code == 0, rerun.output
    again = json.loads(rerun.stdout)
    assert (
        again["status"] == "completed"
        and again["rerun_of"] == failed["id"]
        and again["resume_from"] == "send"
    )
    copied = next(c for c in again["cells"] if c["cell_id"] == "compute")
    assert copied["output"] == {"total": 42}

    from_start = json.loads(cli("rerun", failed["id"], "--from-start").stdout)
    assert from_start["status"] == "completed" and from_start["resume_from"] is None
    from_cell = json.loads(cli("rerun", failed["id"], "--from-cell", "compute").stdout)
    assert from_cell["resume_from"] == "compute"
    assert len(sink.hits("/cli")) == 4

    assert "either --from-start or --from-cell" in one_line_error(
        cli("rerun", failed["id"], "--from-start", "--from-cell", "x")
    )
    assert "No execution" in one_line_error(cli("rerun", "f" * 32))
    assert "has no cell 'zzz'" in one_line_error(cli("rerun", failed["id"], "--from-cell", "zzz"))
    sink.plan("/cli", helpers.Reply(400, {"message": "still rejected"}))
    assert cli("rerun", failed["id"]).exit_code == 1


def test_bad_settings_and_unusable_stores_are_one_line_too(flow: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    cases = [
        (
            {"CELLWRIGHT_MAX_CONCURRENT_EXECUTIONS": "zero"},
            ["executions"],
            "invalid setting — max_concurrent_executions: Input should be a valid integer",
        ),
        (
            {"CELLWRIGHT_DATABASE_URL": "nonsense://"},
            ["run", str(flow)],
            "cannot use the store: Can't load plugin: sqlalchemy.dialects:nonsense",
        ),
        (
            {"CELLWRIGHT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
            ["rerun", "x" * 32],
            "cannot use the store: ",
        ),
        ({}, ["run", str(flow), "--data-dir", str(blocker / "sub")], "a-file/sub"),
    ]
    for env, args, expected in cases:
        result = runner.invoke(
            main,
            args,
            env={"CELLWRIGHT_DATA_DIR": str(tmp_path / "d"), **env},
            catch_exceptions=False,
        )
        assert expected in one_line_error(result), (args, result.stderr)


def test_the_readme_example_runs_offline_as_written(tmp_path: Path) -> None:
    """The README's first scenario and its `cellwright run` line, taken from README.md
    itself, run offline (the README says everything does)."""
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    scenario = re.search(r"```yaml\n(.*?)```", readme, re.S)
    command = re.search(r"^cellwright run (\S+) (.*?)\s+#", readme, re.M)
    assert scenario and command, "the README lost its first scenario or its run line"
    (tmp_path / command.group(1)).write_text(scenario.group(1), encoding="utf-8")
    # no private addresses, no proxies: a call to the network would fail here
    env = {
        "CELLWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    cwd = Path.cwd()
    os.chdir(tmp_path)  # the README runs it from the file's directory
    try:
        result = CliRunner().invoke(
            main,
            ["run", command.group(1), *shlex.split(command.group(2))],
            env=env,
            catch_exceptions=False,
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stdout
    execution = json.loads(result.stdout)
    assert execution["status"] == "completed" and execution["error"] is None
    assert execution["cells"][-1]["output"] == {"text": "Big order from a customer: 96.0 with tax"}


def test_apikey_creates_a_working_key(cli: Any, tmp_path: Path) -> None:
    result = cli("apikey", "--name", "script")
    key = result.stdout.strip()
    assert result.exit_code == 0 and key.startswith("cw_")
    from storage import Store

    with Store.for_data_dir(tmp_path / "data") as store:
        user = store.user_for_api_key(key)
        assert user is not None and user.is_admin
        assert [k.name for k in store.list_api_keys(user.id)] == ["script"]


@pytest.mark.slow  # a real server process with the workspace: ~10 s
def test_serve_starts_with_demo_data_and_answers(tmp_path: Path, helpers: Any) -> None:
    port = helpers.free_port()
    env = {**os.environ, "CELLWRIGHT_DATA_DIR": str(tmp_path / "served"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "workspace.cli", "serve", "--port", str(port)],
        cwd=Path(__file__).parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a liveness bound: a loaded CI machine is slow
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        key_file_lines: list[str] = []
        while not any("Demo API key" in line for line in key_file_lines):
            assert process.stdout is not None
            key_file_lines.append(process.stdout.readline())
        key = (
            next(line for line in key_file_lines if "Demo API key" in line).split(":", 1)[1].strip()
        )
        headers = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 30
        while True:
            page = httpx.get(base + "/api/v1/executions", headers=headers, timeout=60).json()
            if page["total"] >= 4 and {e["status"] for e in page["items"]} == {"completed"}:
                break
            assert time.monotonic() < deadline, page
            time.sleep(0.2)
        scenarios = httpx.get(base + "/api/v1/scenarios", headers=headers, timeout=60).json()
        order = next(s for s in scenarios if s["name"] == "Demo: route orders by size")
        answer = httpx.post(
            order["webhook_url"], json={"id": 1, "amount": 42, "name": "alice"}, timeout=60
        )
        assert answer.status_code == 200
        assert answer.json()["received"] == {"total": 50.4, "name_upper": "ALICE"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
