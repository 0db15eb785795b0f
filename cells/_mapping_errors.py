"""Messages for mapping failures: where it failed and what was there instead.

Only the error path runs this code, so it may re-parse and search the context.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.utils import missing

from cells._mapping_env import UndefinedPathError
from cells._mapping_filters import kind

MAX_LISTED_KEYS = 20
_MAX_SOURCE = 200
_MAX_SEARCHED = 5_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_FOUND: Any = object()


def field_path(base: str, key: Any) -> str:
    """Extend a field path: ``body`` + ``title`` → ``body.title``, + 0 → ``items[0]``."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{base}[{key}]"
    text = str(key)
    if _IDENTIFIER.fullmatch(text):
        return f"{base}.{text}" if base else text
    return f"{base}[{json.dumps(text, ensure_ascii=False)}]"


def quote_source(source: str) -> str:
    """The expression as shown in messages (shortened past 200 characters)."""
    return source if len(source) <= _MAX_SOURCE else source[: _MAX_SOURCE - 1] + "…"


def explain_missing(
    exc: UndefinedPathError, context: Mapping[str, Any], tree: nodes.Template | None
) -> tuple[str, dict[str, Any]]:
    """Describe a path that did not resolve; also return details for the error record."""
    name, obj = exc.name, exc.obj
    if exc.hint:
        return exc.hint, {}
    if obj is missing:
        keys = list(context)
        return (
            f"{name!r} is not defined. Available: {_listing(keys)}{_suggest(name, keys)}",
            {"missing": name, "available": _shown(keys)},
        )
    path = _locate(obj, name, context, tree)
    label = repr(path) if path else "the value"
    if isinstance(obj, Mapping):
        keys = list(obj)
        details = {"missing": name, "path": path, "available": _shown(keys)}
        if path == "steps":
            available = f"Steps available: {_listing(keys)}" if keys else "No steps ran before"
            return f"'steps' has no {name!r}. {available}{_suggest(name, keys)}", details
        if not keys:
            return f"{label} has no {name!r} (it is empty)", details
        return (
            f"{label} has no {name!r}. Available: {_listing(keys)}{_suggest(name, keys)}",
            details,
        )
    details = {"missing": name, "path": path}
    if isinstance(obj, list | tuple):
        if isinstance(name, int):
            count = f"{len(obj)} item" + ("" if len(obj) == 1 else "s")
            return f"{label} has no item [{name}] (it has {count})", details
        return f"{label} is a list, it has no {name!r} (pick an item first: [0].{name})", details
    return f"{label} is {kind(obj)}, it has no {name!r}", details


def _shown(keys: list[Any]) -> list[str]:
    return sorted(str(key) for key in keys)[:MAX_LISTED_KEYS]


def _listing(keys: list[Any]) -> str:
    shown = _shown(keys)
    more = len(keys) - len(shown)
    return ", ".join(shown) + (f" (and {more} more)" if more else "")


def _suggest(name: Any, keys: list[Any]) -> str:
    close = difflib.get_close_matches(str(name), [str(key) for key in keys], n=1, cutoff=0.75)
    return f". Did you mean {close[0]!r}?" if close else ""


def _locate(obj: Any, name: Any, context: Mapping[str, Any], tree: nodes.Template | None) -> str:
    """The context path of ``obj``, the value that lacked ``name``; "" when unknown.

    First from the expression itself: a path in it that is followed by ``name`` and
    resolves to ``obj``. Otherwise by searching the context for the same container
    (scalars are skipped: equal numbers and strings may share one object).
    """
    if tree is not None:
        found: Iterator[nodes.Node] = tree.find_all((nodes.Getattr, nodes.Getitem))
        for node in found:
            if isinstance(node, nodes.Getattr):
                step, base = node.attr, node.node
            elif isinstance(node, nodes.Getitem):
                step, base = _const(node.arg), node.node
            else:  # pragma: no cover - find_all yields only the two types asked for
                continue
            if step != name:
                continue
            parent = _path_of(base, context)
            if parent is not None and parent[1] is obj:
                return parent[0]
    if isinstance(obj, Mapping | list | tuple):
        return _search(obj, context)
    return ""


def _const(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else _NOT_FOUND


def _path_of(node: nodes.Node, context: Mapping[str, Any]) -> tuple[str, Any] | None:
    """Resolve a constant path node (``a.b[0]["c"]``) against the context."""
    if isinstance(node, nodes.Name):
        value = context.get(node.name, _NOT_FOUND)
        return None if value is _NOT_FOUND else (node.name, value)
    if isinstance(node, nodes.Getattr):
        key: Any = node.attr
    elif isinstance(node, nodes.Getitem):
        key = _const(node.arg)
    else:
        return None
    parent = _path_of(node.node, context)
    if parent is None or key is _NOT_FOUND:
        return None
    path, container = parent
    if isinstance(container, Mapping) and key in container:
        return field_path(path, key), container[key]
    if (
        isinstance(container, list | tuple)
        and isinstance(key, int)
        and -len(container) <= key < len(container)
    ):
        return field_path(path, key), container[key]
    return None


def _search(obj: Any, context: Mapping[str, Any]) -> str:
    queue: deque[tuple[str, Any]] = deque((field_path("", k), v) for k, v in context.items())
    queued = len(queue)
    while queue:
        path, value = queue.popleft()
        if value is obj:
            return path
        children: Any = ()
        if isinstance(value, Mapping):
            children = value.items()
        elif isinstance(value, list | tuple):
            children = enumerate(value)
        for key, child in children:
            if queued >= _MAX_SEARCHED:
                break
            queue.append((field_path(path, key), child))
            queued += 1
    return ""
