"""The front ends go through Cellwright and its services, never the store.

``engine.service``'s promise — the REST API, the CLI, the workspace and the assistant
carry no logic of their own — holds only while none of them reaches past the services
into ``svc.store`` (where ownership checks, auditing and the webhook cache are easy to
forget). This scans their source for any ``.store`` attribute or ``getattr(…, "store")``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONT_ENDS = ("workspace", "assistant")


def store_uses(source: str) -> list[int]:
    """Line numbers where ``source`` reads an attribute named ``store``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "store"
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_a_store_call() -> None:
    source = (
        "def f(svc):\n    users = svc.store.list_users()\n    s = svc.store\n"
        "    return getattr(svc, 'store'), svc.accounts.list_users()\n"
    )
    assert store_uses(source) == [2, 3, 4]


def test_no_front_end_touches_the_store() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in FRONT_ENDS
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in store_uses(path.read_text(encoding="utf-8"))
    ]
    assert found == [], (
        "These lines use the store directly; call Cellwright or one of its services instead "
        "(svc.scenarios, svc.connections, svc.executions, svc.accounts; engine/service.py):\n"
        + "\n".join(found)
    )
