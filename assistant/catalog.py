"""The app catalog as the model reads it: compact text, a few KB for every app.

One line per app and one per operation: its key, kind, name, the first sentence of its
description, its required input fields (with their allowed values when they are a
short list) and the top-level fields of its output, so the model can write
``{{ steps.<id>.<field> }}``. Built from the same models the runner validates with.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.sdk import App, Operation

_SENTENCE = re.compile(r"(?<=[a-z0-9)'\"]{2}[.!?])\s+(?=[A-Z])")
_MAX_DESCRIPTION = 72
_MAX_CHOICES = 8
_MAX_OUTPUTS = 5


def _first_sentence(text: str) -> str:
    sentence = _SENTENCE.split(" ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= _MAX_DESCRIPTION else sentence[: _MAX_DESCRIPTION - 1] + "…"


def _choices(schema: dict[str, Any], prop: dict[str, Any]) -> list[Any]:
    """Allowed values of a field: ``enum``/``Literal``, directly or through ``$ref``/``anyOf``."""
    for option in [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]:
        ref = option.get("$ref")
        if ref:
            option = schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
        if "enum" in option:
            return list(option["enum"])
        if "const" in option:
            return [option["const"]]
    return []


def _inputs(op: Operation) -> str:
    schema = op.input_schema()
    props = schema.get("properties", {})
    fields = []
    for name in schema.get("required", []):
        choices = _choices(schema, props.get(name, {}))
        if choices and len(choices) <= _MAX_CHOICES:
            fields.append(f"{name}({'|'.join(str(c) for c in choices)})")
        else:
            fields.append(name)
    return ",".join(fields)


def _outputs(op: Operation) -> str:
    keys = [str(k) for k in op.sample][:_MAX_OUTPUTS]
    more = ",…" if len(op.sample) > _MAX_OUTPUTS else ""
    return ",".join(keys) + more if keys else "-"


def describe_operation(app: App, op: Operation) -> str:
    """``  trigger new_message "New message": Fires… | needs: channel | out: channel,ts,text``

    Outputs are listed for triggers only (``{{ trigger.x }}`` is what drafts map most);
    the prompt stays a few KB."""
    line = f'  {op.kind} {op.key} "{op.name}": {_first_sentence(op.description)}'
    needs = _inputs(op)
    if needs:
        line += f" | needs: {needs}"
    if op.kind == "trigger":
        line += f" | out: {_outputs(op)}"
    return line


_WORD = re.compile(r"[a-z0-9]+")


def _names(app: App) -> set[str]:
    """Words that name ``app`` in a request: its key, its name's words, and the service
    words its operation keys start with (``gmail`` of ``gmail_send_email``)."""
    words = {
        app.key,
        *_WORD.findall(app.name.lower()),
        *(op.key.split("_")[0] for op in (*app.triggers, *app.actions)),
    }
    generic = {
        "new",
        "create",
        "update",
        "add",
        "find",
        "send",
        "on",
        "run",
        "catch",
        "every",
        "set",
        "request",
        "text",
        "the",
    }
    return {w for w in words if len(w) > 2 and w not in generic}


ALWAYS_DESCRIBED = frozenset({"manual", "webhook", "schedule", "http", "formatter"})
"""Built-ins almost every draft uses: described in full whatever the request says. The
other built-ins (delays, sub-scenarios, data stores, code, AI…) are, like the vendors'
apps, described in full when the request names them (``delay``, ``wait``, ``classify``,
``javascript``…) and by their operation keys otherwise, so the prompt stays a few KB
however many built-ins there are."""


def in_focus(app: App, focus: str | None) -> bool:
    """Whether the request ``focus`` names ``app`` (every app is, without a request)."""
    if focus is None or app.key in ALWAYS_DESCRIBED:
        return True
    said = set(_WORD.findall(focus.lower()))
    said |= {w.rstrip("s") for w in said}
    names = _names(app)
    return bool((names | {n.rstrip("s") for n in names}) & said)


def catalog(apps: Any, focus: str | None = None) -> str:
    """Every app of ``apps`` (a ``Registry`` or any iterable of ``App``) as text.

    With ``focus`` (the user's request), the apps it names — and the built-ins — are
    described operation by operation; the others by one line listing their operation
    keys, so every app stays usable while the prompt stays a few KB however many apps
    are installed."""
    lines: list[str] = []
    for app in apps:
        connection = "needs a connection" if app.needs_connection else "no connection"
        lines.append(
            f"app {app.key} ({app.name}, {connection}): {_first_sentence(app.description)}"
        )
        if in_focus(app, focus):
            lines.extend(describe_operation(app, op) for op in (*app.triggers, *app.actions))
        else:
            lines.append(
                f"  triggers: {', '.join(op.key for op in app.triggers)}; "
                f"actions: {', '.join(op.key for op in app.actions)}"
            )
    return "\n".join(lines)
