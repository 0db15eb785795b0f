"""scripts/audit.py, the "audit" pass of scripts/test: findings fail unless accepted with
a reason, and an audit the service could not do fails loudly (never a silent pass)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("cellwright_audit", ROOT / "scripts" / "audit.py")
assert _spec is not None and _spec.loader is not None
audit: Any = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = audit  # its dataclass looks itself up there
_spec.loader.exec_module(audit)

VULNERABLE = {
    "name": "jinja2",
    "version": "3.0.0",
    "vulns": [
        {
            "id": "PYSEC-2024-1",
            "fix_versions": ["3.1.4"],
            "aliases": ["CVE-2024-0001", "GHSA-aaaa"],
            "description": "…",
        }
    ],
}
CLEAN = {"name": "httpx", "version": "0.28.1", "vulns": []}
UNKNOWN = {
    "name": "uvicorn",
    "skip_reason": "Dependency not found on PyPI and could not be audited: uvicorn (0.54.0)",
}


def test_the_repository_ignore_file_parses() -> None:
    assert isinstance(audit.accepted(), dict)


def test_an_accepted_finding_needs_a_reason(tmp_path: Path) -> None:
    ignore = tmp_path / ".pip-audit-ignore"
    ignore.write_text(
        "# comment\n\n--ignore-vuln PYSEC-2024-1  # only the sandbox's templates, fixed in 0.2\n"
    )
    assert audit.accepted(ignore) == {"PYSEC-2024-1": "only the sandbox's templates, fixed in 0.2"}
    ignore.write_text("--ignore-vuln PYSEC-2024-1\n")
    with pytest.raises(audit.AuditSetupError, match=r"line 1: .*a reason is required"):
        audit.accepted(ignore)


def test_findings_are_sorted_by_whether_they_are_accepted() -> None:
    report = {"dependencies": [VULNERABLE, CLEAN, UNKNOWN]}
    verdict = audit.judge(report, {})
    assert verdict.findings == ["jinja2 3.0.0: PYSEC-2024-1 (fixed in: 3.1.4)"]
    assert verdict.audited == 2 and len(verdict.unaudited) == 1
    by_alias = audit.judge(report, {"GHSA-aaaa": "not reachable from Cellwright"})
    assert by_alias.findings == []
    assert by_alias.accepted == [
        "jinja2 3.0.0: PYSEC-2024-1 (fixed in: 3.1.4) — accepted: not reachable from Cellwright"
    ]


@pytest.fixture
def pip_audit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """``main`` with pip-audit's answer set by the test (the lock is exported for real)."""
    answer: dict[str, Any] = {"code": 0, "out": "", "err": ""}
    seen: list[str] = []

    def fake(requirements: str) -> tuple[int, str, str]:
        seen.append(requirements)
        return answer["code"], answer["out"], answer["err"]

    monkeypatch.setattr(audit, "run_pip_audit", fake)
    monkeypatch.setattr(audit, "IGNORE_FILE", tmp_path / ".pip-audit-ignore")
    monkeypatch.delenv(audit.ALLOW_UNAUDITED, raising=False)
    answer["seen"] = seen
    return answer


def run(pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = audit.main()
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_clean_audit_passes_and_audits_the_locked_versions(
    pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    pip_audit["out"] = json.dumps({"dependencies": [CLEAN], "fixes": []})
    status, output = run(pip_audit, capsys)
    assert status == 0 and "1 locked package versions audited, no known vulnerabilities" in output
    [requirements] = pip_audit["seen"]
    assert "uvicorn==" in requirements and "litellm==" in requirements  # the extra too
    assert "pip-audit==" in requirements  # and the dev tools


def test_a_finding_fails_until_accepted(
    pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pip_audit["out"] = json.dumps({"dependencies": [VULNERABLE, CLEAN]})
    monkeypatch.setenv(audit.ALLOW_UNAUDITED, "1")  # never excuses a finding
    status, output = run(pip_audit, capsys)
    assert status == 1
    assert (
        "FAILED: 1 known vulnerabilities" in output and "PYSEC-2024-1 (fixed in: 3.1.4)" in output
    )
    assert ".pip-audit-ignore" in output
    audit.IGNORE_FILE.write_text("--ignore-vuln CVE-2024-0001  # not reachable: we never call it\n")
    status, output = run(pip_audit, capsys)
    assert status == 0 and "accepted: not reachable: we never call it" in output


def test_versions_the_service_does_not_know_fail_loudly(
    pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pip_audit["out"] = json.dumps({"dependencies": [CLEAN, UNKNOWN]})
    status, output = run(pip_audit, capsys)
    assert status == 1
    assert "FAILED: 1 locked package versions could not be audited" in output
    assert "uvicorn (0.54.0)" in output and audit.ALLOW_UNAUDITED in output
    monkeypatch.setenv(audit.ALLOW_UNAUDITED, "1")
    status, output = run(pip_audit, capsys)
    assert status == 0 and "WARNING: 1 locked package versions could not be audited" in output
    assert "1 locked package versions audited (1 could not be)" in output


def test_an_unreachable_service_fails_and_says_so(
    pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    pip_audit["code"] = 1
    pip_audit["err"] = (
        "Traceback (most recent call last):\n  File …\n"
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443)\n"
    )
    status, output = run(pip_audit, capsys)
    assert status == 1
    assert "FAILED: could not reach the vulnerability service" in output
    assert "ConnectionError: HTTPSConnectionPool(host='pypi.org'" in output
    assert "Traceback" not in output


def test_a_bad_ignore_file_stops_the_audit_with_its_line(
    pip_audit: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    audit.IGNORE_FILE.write_text("# ok\nPYSEC-1 because\n")
    status, output = run(pip_audit, capsys)
    assert status == 2 and ".pip-audit-ignore line 2" in output
    assert pip_audit["seen"] == []
