"""Audit the locked dependencies for known vulnerabilities (``scripts/test``'s "audit" pass).

    uv run --frozen python scripts/audit.py

Every package version in ``uv.lock`` (with the ``assistant`` extra and the dev tools) is
looked up with pip-audit in PyPI's vulnerability data. The pass fails when

- a locked version has a known vulnerability not accepted in ``.pip-audit-ignore``;
- the vulnerability service cannot be reached, or does not know a locked version (then
  nothing vouches for it). ``CELLWRIGHT_AUDIT_ALLOW_UNAUDITED=1`` turns *only this* into a
  warning, for a machine without access to pypi.org's JSON API; findings always fail.

Accepting a finding: one line in ``.pip-audit-ignore``, ``--ignore-vuln ID  # reason``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IGNORE_FILE = ROOT / ".pip-audit-ignore"
SERVICE = "PyPI's vulnerability data (https://pypi.org/pypi/<name>/<version>/json)"
ALLOW_UNAUDITED = "CELLWRIGHT_AUDIT_ALLOW_UNAUDITED"
_LINE = re.compile(r"^--ignore-vuln\s+(?P<id>\S+)\s+#\s*(?P<reason>\S.*)$")


class AuditSetupError(Exception):
    """The ignore file or the lock cannot be read: one sentence naming the line."""


def accepted(path: Path | None = None) -> dict[str, str]:
    """The vulnerabilities accepted in ``path`` (``.pip-audit-ignore``): id → reason.
    Every entry needs a reason."""
    path = path or IGNORE_FILE
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise AuditSetupError(
                f"{path.name} line {number}: write '--ignore-vuln ID  # why it is accepted' "
                f"(a reason is required), not {line!r}"
            )
        found[match["id"]] = match["reason"].strip()
    return found


@dataclass
class Verdict:
    findings: list[str] = field(default_factory=list)  # not accepted: the pass fails
    accepted: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)  # the service did not know them
    audited: int = 0


def judge(report: dict[str, Any], ignored: dict[str, str]) -> Verdict:
    """Sort pip-audit's JSON report into findings, accepted findings and skipped packages."""
    verdict = Verdict()
    for dep in report.get("dependencies", []):
        name = f"{dep.get('name')} {dep.get('version', '')}".strip()
        if dep.get("skip_reason"):
            verdict.unaudited.append(f"{dep.get('name')}: {dep['skip_reason']}")
            continue
        verdict.audited += 1
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            line = f"{name}: {vuln['id']} (fixed in: {fixes})"
            reason = next((ignored[i] for i in ids if i in ignored), None)
            if reason is None:
                verdict.findings.append(line)
            else:
                verdict.accepted.append(f"{line} — accepted: {reason}")
    return verdict


def locked_requirements() -> str:
    """The locked versions as a requirements file (no hashes, no project itself)."""
    done = subprocess.run(  # noqa: S603 - a fixed command
        [  # noqa: S607 - uv from PATH, as scripts/test runs it
            "uv",
            "export",
            "--frozen",
            "--no-hashes",
            "--extra",
            "assistant",
            "--no-emit-project",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AuditSetupError(f"uv export failed: {done.stderr.strip()}")
    return done.stdout


def run_pip_audit(requirements: str) -> tuple[int, str, str]:
    """pip-audit's exit status, JSON report and log. Accepted findings are reported too
    (``judge`` sets them aside, also by alias), so the log shows what stays accepted."""
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        "/dev/stdin",
        "--disable-pip",
        "--no-deps",
        "--vulnerability-service",
        "pypi",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    done = subprocess.run(  # noqa: S603 - a fixed command; the input is the lock's export
        command, input=requirements, capture_output=True, text=True, check=False, cwd=ROOT
    )
    return done.returncode, done.stdout, done.stderr


def unreachable_reason(stderr: str) -> str:
    """The last line of pip-audit's error that says why, without the traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line.strip()[:400]
    return lines[-1].strip()[:400] if lines else "no output"


def main() -> int:
    try:
        ignored = accepted()
        requirements = locked_requirements()
    except AuditSetupError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    allow_unaudited = os.environ.get(ALLOW_UNAUDITED, "") == "1"
    code, out, err = run_pip_audit(requirements)
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        print(
            f"audit: FAILED: could not reach the vulnerability service, {SERVICE} "
            f"(pip-audit exit status {code}): {unreachable_reason(err)}",
            file=sys.stderr,
        )
        return 0 if allow_unaudited else 1
    verdict = judge(report, ignored)
    for line in verdict.accepted:
        print(f"audit: {line}")
    status = 0
    if verdict.unaudited:
        print(
            f"audit: {'WARNING' if allow_unaudited else 'FAILED'}: {len(verdict.unaudited)} "
            f"locked package versions could not be audited: {SERVICE} does not know them "
            f"(a PyPI mirror without per-release data answers 404). First ones:",
            file=sys.stderr,
        )
        for line in verdict.unaudited[:5]:
            print(f"  {line}", file=sys.stderr)
        if not allow_unaudited:
            print(
                f"  Run the audit where pypi.org is reachable, or set {ALLOW_UNAUDITED}=1 to "
                "accept an incomplete audit (findings still fail).",
                file=sys.stderr,
            )
            status = 1
    if verdict.findings:
        print(
            f"audit: FAILED: {len(verdict.findings)} known vulnerabilities in the locked "
            "dependencies. Upgrade the pin (pyproject.toml, then `uv lock`) to a fixed "
            "version, or accept one with a line '--ignore-vuln ID  # reason' in "
            ".pip-audit-ignore:",
            file=sys.stderr,
        )
        for line in verdict.findings:
            print(f"  {line}", file=sys.stderr)
        status = 1
    if status == 0:
        print(
            f"audit: {verdict.audited} locked package versions audited"
            + (f" ({len(verdict.unaudited)} could not be)" if verdict.unaudited else "")
            + f", no known vulnerabilities{' not accepted' if verdict.accepted else ''}."
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
