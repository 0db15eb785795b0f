"""The app reference (docs/apps.md), generated from the registry — never typed by hand.

uv run python -m workspace.reference > docs/apps.md
"""

from __future__ import annotations

from typing import Any

from connectors.registry import default_registry
from connectors.sdk import App
from connectors.sdk.options import OPTIONS_KEY


def _fields(schema: dict[str, Any], app: App | None = None) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = []
    for name, spec in props.items():
        kind = (
            spec.get("type")
            or ", ".join(
                sorted({s.get("type", "any") for s in spec.get("anyOf", []) if isinstance(s, dict)})
            )
            or "any"
        )
        if "enum" in spec:
            kind = " \\| ".join(f"`{v}`" for v in spec["enum"])
        desc = (spec.get("description") or "").replace("\n", " ").replace("|", "\\|")
        if app is not None and isinstance(
            spec.get(OPTIONS_KEY), str
        ):  # a dropdown in the workspace
            desc += f" *Choose from the connection's {app.option_source(spec[OPTIONS_KEY]).name}.*"
        flag = "**required**" if name in required else ""
        lines.append(f"| `{name}` | {kind} | {flag} | {desc} |")
    return lines


def render() -> str:
    out = [
        "# App reference",
        "",
        "Generated from the registry by `python -m workspace.reference`; do not edit by hand.",
        "",
        "| app | category | auth | triggers | actions |",
        "| --- | --- | --- | --- | --- |",
    ]
    apps = list(default_registry())
    for app in apps:
        auth = ", ".join(kind.type for kind in app.auth_kinds)
        out.append(
            f"| [{app.name}](#{app.key}) | {app.category} | {auth} | {len(app.triggers)} | "
            f"{len(app.actions)} |"
        )
    for app in apps:
        out += [
            "",
            f'<a id="{app.key}"></a>',
            f"## {app.name} (`{app.key}`)",
            "",
            app.description,
            "",
        ]
        auth = " or ".join(f"**{kind.type}**" for kind in app.auth_kinds)
        out.append(
            f"Auth: {auth}."
            + (" Has a sandbox (try it without an account)." if app.sandbox else "")
        )
        if app.limits is not None:
            source = f" ([source]({app.limits.source}))" if app.limits.source else ""
            out += [
                "",
                "Vendor limits per connection, kept before each call: "
                + "; ".join(app.limits.describe()).replace("*", "\\*")
                + f"{source}.",
            ]
        if app.connection_webhook is not None:
            hook = app.connection_webhook
            out += [
                "",
                f"Events arrive at one URL per connection, its **{hook.label}** (on the "
                "Connections page and in the trigger cell; `events_url` in the API): "
                f"{hook.instructions}",
            ]
        for title, ops in (("Triggers", app.triggers), ("Actions", app.actions)):
            if not ops:
                continue
            out += ["", f"### {title}"]
            for op in ops:
                extra = (
                    f" ({op.trigger_type})"
                    if hasattr(op, "trigger_type")
                    else (" (transformer)" if getattr(op, "transformer", False) else "")
                )
                out += ["", f"#### {op.name} — `{app.key}.{op.key}`{extra}", "", op.description, ""]
                rows = _fields(op.input_schema(), app)
                if rows:
                    out += [
                        "| input | type | | description |",
                        "| --- | --- | --- | --- |",
                        *rows,
                        "",
                    ]
                out_rows = _fields(op.output_schema())
                if out_rows:
                    out += [
                        "| output | type | | description |",
                        "| --- | --- | --- | --- |",
                        *out_rows,
                    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
