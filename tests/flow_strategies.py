"""Random small scenarios for the control-flow tests (``cells.flow``).

Each cell carries its own fate, so the same document means the same run everywhere:
a ``formatter.set_fields`` transformer completes, a ``formatter.text`` one with the
unknown transform ``shout`` fails (``on_error`` decides what follows); a rule
``1 equals 1`` passes and ``1 equals 2`` does not.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

TRIGGER = {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"}


def rule(passes: bool) -> dict[str, Any]:
    return {"all": [{"left": 1, "op": "equals", "right": 1 if passes else 2}]}


def transformer(cell_id: str, *, ok: bool = True, on_error: str = "fail") -> dict[str, Any]:
    inputs = {"fields": {"n": 1}} if ok else {"value": "x", "transform": "shout"}
    operation = "set_fields" if ok else "text"
    return {
        "id": cell_id,
        "kind": "transformer",
        "app": "formatter",
        "operation": operation,
        "inputs": inputs,
        "on_error": on_error,
    }


def succeeds(cell: dict[str, Any]) -> bool:
    """Whether a transformer made by :func:`transformer` completes."""
    return bool(cell["operation"] == "set_fields")


def passes(rules: dict[str, Any]) -> bool:
    """Whether rules made by :func:`rule` pass."""
    return bool(rules["all"][0]["right"] == 1)


@st.composite
def _cells(draw: st.DrawFn, ids: Iterator[int], depth: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kinds = ["transformer", "filter", "router"] if depth < 2 else ["transformer", "filter"]
    for _ in range(draw(st.integers(0, 3 if depth else 4))):
        cell_id, kind = f"c{next(ids)}", draw(st.sampled_from(kinds))
        if kind == "transformer":
            out.append(
                transformer(
                    cell_id,
                    ok=draw(st.booleans()),
                    on_error=draw(st.sampled_from(["fail", "continue"])),
                )
            )
        elif kind == "filter":
            out.append({"id": cell_id, "kind": "condition", "rules": rule(draw(st.booleans()))})
        else:
            branches: list[dict[str, Any]] = [
                {
                    "name": f"b{n}",
                    "rules": rule(draw(st.booleans())),
                    "cells": draw(_cells(ids, depth + 1)),
                }
                for n in range(draw(st.integers(1, 3)))
            ]
            if draw(st.booleans()):
                branches.append(
                    {"name": "otherwise", "fallback": True, "cells": draw(_cells(ids, depth + 1))}
                )
            out.append(
                {
                    "id": cell_id,
                    "kind": "condition",
                    "match": draw(st.sampled_from(["all", "first"])),
                    "branches": branches,
                }
            )
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario document (JSON form): up to four top-level steps, routers nested two deep."""
    return {"name": "Random", "cells": [TRIGGER, *draw(_cells(itertools.count(), 0))]}
