"""Shared pieces of the workspace: the message banner, error handling, JSON trees,
accessible HTML tables, and the form built from a JSON Schema.

Nothing here knows about a page; pages compose these.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

import panel as pn
import param

from connectors.sdk import CellwrightError, Option
from connectors.sdk.jsontext import InvalidJsonText, is_lone_mapping, parse_json_text
from connectors.sdk.options import OPTIONS_KEY
from workspace.views.options import OptionsPicker
from workspace.views.wording import field_label

LoadOptions = Callable[[str, dict[str, Any]], Awaitable[Sequence[Option]]]
"""``load(field, values)``: the choices of an ID field given the form's other values."""

log = logging.getLogger("cellwright.workspace")

#: what to do next, per stable error code (the message says what went wrong)
HINTS: dict[str, str] = {
    "not_found": "It may have been deleted; go back to the list and reload it.",
    "conflict": "Resolve the conflict described above, then try again.",
    "invalid_input": "Correct the fields marked below, then try again.",
    "invalid_document": "Correct the document at the place named above, then import it again.",
    "configuration_error": "Check the cell's app, operation and connection.",
    "mapping_error": "Check the {{ }} reference: it must name a field of an earlier cell.",
    "auth_invalid": "Open Connections and update the credentials, then test the connection.",
    "auth_expired": "Open Connections and reconnect the app.",
    "rate_limited": "The app asked us to slow down; wait a little, then try again.",
    "upstream_error": "The app refused the request; check the inputs against the app's "
    "documentation.",
    "network_error": "The app could not be reached; check the address and try again later.",
    "timeout": "The call took too long; try again, or raise the cell timeout in the scenario "
    "settings.",
    "forbidden_destination": "This address is not allowed by the server's network settings; ask "
    "your administrator.",
    "invalid_output": "The app answered with unexpected data; report it to whoever maintains the "
    "app.",
    "limit_exceeded": "Make room (delete what you no longer need) or ask your administrator to "
    "raise the limit named above.",
}

CSS = """
:host { --cw-accent: #1d4ed8; }
.cw-banner { padding: 10px 14px; border-radius: 6px; margin: 4px 0; font-size: 14px; \
line-height: 1.4; }
.cw-banner.error { background: #fef2f2; border: 1px solid #b91c1c; color: #7f1d1d; }
.cw-banner.ok { background: #f0fdf4; border: 1px solid #15803d; color: #14532d; }
.cw-banner.info { background: #eff6ff; border: 1px solid #1d4ed8; color: #1e3a8a; }
.cw-banner.warn { background: #fffbeb; border: 1px solid #b45309; color: #78350f; }
.cw-help { color: #374151; font-size: 13px; margin: -4px 0 6px 2px; }
.cw-field-error { color: #b91c1c; font-size: 13px; font-weight: 600; margin: -2px 0 6px 2px; }
div.cw-table-scroll { overflow-x: auto; max-width: 100%; }
table.cw-table { border-collapse: collapse; width: 100%; font-size: 14px; }
table.cw-table caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; \
color: #111827; }
table.cw-table th, table.cw-table td { border-bottom: 1px solid #d1d5db; padding: 6px 8px; \
text-align: left; vertical-align: top; color: #111827; }
table.cw-table th { background: #f3f4f6; }
.cw-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; \
font-weight: 600; border: 1px solid; }
.cw-badge.completed, .cw-badge.active { background: #f0fdf4; color: #14532d; \
border-color: #15803d; }
.cw-badge.failed, .cw-badge.error { background: #fef2f2; color: #7f1d1d; border-color: #b91c1c; }
.cw-badge.running, .cw-badge.queued, .cw-badge.waiting { background: #eff6ff; color: #1e3a8a; \
border-color: #1d4ed8; }
.cw-badge.draft, .cw-badge.paused, .cw-badge.skipped, .cw-badge.disconnected, \
.cw-badge.soon { background: #f3f4f6; color: #1f2937; border-color: #4b5563; }
.cw-muted { color: #4b5563; }
.cw-status-reason { color: #7f1d1d; font-size: 12px; margin-top: 2px; }
"""


def _join(message: str, hint: str | None) -> str:
    if not hint or hint in message:
        return message
    return f"{message}{'' if message.rstrip().endswith(('.', '!', '?')) else '.'} {hint}"


def badge(status: str | None) -> str:
    s = escape(status or "—")
    return f'<span class="cw-badge {s}">{s}</span>'


def logo(url: str, size: int = 20, alt: str = "") -> str:
    """An app's logo as an ``<img>``. ``alt`` stays empty where words beside it name the
    app (a screen reader would otherwise say the name twice)."""
    return (
        f'<img class="cw-logo" src="{escape(url)}" alt="{escape(alt)}" '
        f'width="{size}" height="{size}" style="vertical-align:-4px;object-fit:contain">'
    )


def html(text: str, **params: Any) -> pn.pane.HTML:
    params.setdefault("stylesheets", [CSS])
    if "width" not in params:
        params.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(text, **params)


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    caption: str,
    raw: Iterable[str] = (),
    empty: str = "Nothing here yet.",
) -> str:
    """An accessible HTML table: ``columns`` are (key, header); values are escaped unless their
    key is in ``raw``."""
    if not rows:
        return f'<p class="cw-muted">{escape(empty)}</p>'
    raw = set(raw)
    head = "".join(f'<th scope="col">{escape(h)}</th>' for _, h in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            text = "" if value is None else (str(value) if key in raw else escape(_short(value)))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # a wide table scrolls inside its own box on a small screen, never the whole page; the
    # box is focusable so keyboard users can scroll it too
    return (
        f'<div class="cw-table-scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f'<table class="cw-table"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(value: str | None) -> str:
    """An ISO timestamp as ``2026-11-25 09:00:12`` (UTC)."""
    if not value:
        return "—"
    return value.replace("T", " ")[:19]


class Check(pn.widgets.CheckBoxGroup):
    """A single checkbox whose label is tied to it (Bokeh's ``Checkbox`` leaves the label
    unassociated, which screen readers and axe reject). ``checked`` is its state."""

    def __init__(self, label: str, checked: bool = False, **params: Any) -> None:
        super().__init__(options=[label], value=[label] if checked else [], **params)
        self.label = label

    @property
    def checked(self) -> bool:
        return bool(self.value)

    @checked.setter
    def checked(self, state: bool) -> None:
        self.value = [self.label] if state else []


#: json-formatter's default colours fail WCAG AA contrast on white; these pass (≥ 4.5:1)
#: a button whose (long) label wraps instead of overflowing
WRAP_BUTTON_CSS = ".bk-btn { white-space: normal; }"
#: a fixed-width element that still fits a phone's screen (Bokeh makes its width a min-width)
SHRINK_CSS = ":host { max-width: 100%; min-width: 0 !important; }"
#: … and reads from the left, like a list entry
LIST_BUTTON_CSS = ".bk-btn { text-align: left; white-space: normal; }"

JSON_CSS = """
:host { min-width: 0; max-width: 100%; }
.json-formatter-row { overflow-wrap: anywhere; word-break: break-word; }
/* long strings and URLs wrap anywhere rather than push a phone's page sideways */
.json-formatter-row .json-formatter-string, \
.json-formatter-row .json-formatter-url { white-space: pre-wrap; word-break: break-all; }
.json-formatter-row, .json-formatter-row .json-formatter-key { color: #111827; }
.json-formatter-row .json-formatter-string, \
.json-formatter-row .json-formatter-stringifiable { color: #166534; }
.json-formatter-row .json-formatter-number { color: #1e40af; }
.json-formatter-row .json-formatter-boolean { color: #9a3412; }
.json-formatter-row .json-formatter-null, \
.json-formatter-row .json-formatter-undefined { color: #4b5563; }
.json-formatter-row .json-formatter-date { color: #0f766e; }
.json-formatter-row .json-formatter-url { color: #1d4ed8; }
.json-formatter-row .json-formatter-bracket, \
.json-formatter-row .json-formatter-constructor-name { color: #374151; }
"""


def json_tree(value: Any, *, name: str, depth: int = 2, **params: Any) -> pn.pane.JSON:
    """An expandable JSON tree (``depth`` levels open)."""
    params.setdefault("sizing_mode", "stretch_width")
    params.setdefault("stylesheets", [JSON_CSS])
    return pn.pane.JSON(
        value if value is not None else {}, depth=depth, name=name, theme="light", **params
    )


class Banner(pn.viewable.Viewer):
    """Where a page says what happened: errors (with what to do next), successes, notes."""

    kind = param.Selector(default="info", objects=["info", "ok", "warn", "error"])
    message = param.String(default="")

    def __init__(self, css: str = "page-banner", **params: Any) -> None:
        super().__init__(**params)
        self._pane = html("", visible=False, css_classes=["cw-banner-host", css])
        self.param.watch(self._render, ["kind", "message"])

    def _render(self, *_: Any) -> None:
        role = "alert" if self.kind in ("error", "warn") else "status"
        self._pane.object = (
            f'<div class="cw-banner {self.kind}" role="{role}">{escape(self.message)}</div>'
            if self.message
            else ""
        )
        self._pane.visible = bool(self.message)

    def show(self, message: str, kind: str = "info") -> None:
        self.param.update(kind=kind, message=message)

    def ok(self, message: str) -> None:
        self.show(message, "ok")

    def error(self, exc: BaseException | str) -> None:
        self.show(describe_error(exc), "error")

    def clear(self) -> None:
        self.message = ""

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane


def describe_error(exc: BaseException | str) -> str:
    """A message for people: what went wrong and what to do. Never a traceback."""
    if isinstance(exc, str):
        return exc
    if isinstance(exc, CellwrightError):
        return _join(exc.message, HINTS.get(exc.code))
    log.exception("unexpected error in the workspace", exc_info=exc)
    return (
        "Something went wrong on the server (the log has the details). Try again; if it keeps "
        "happening, tell your administrator."
    )


def error_dict_message(error: Mapping[str, Any] | None) -> str:
    """The message of a stored error (``{"code", "message"}``) plus what to do next."""
    if not error:
        return ""
    message = str(error.get("message") or error.get("code") or "Failed.")
    return _join(message, HINTS.get(str(error.get("code"))))


async def attempt(
    banner: Banner | None,
    action: Callable[[], Awaitable[Any]] | Callable[[], Any],
    *,
    success: str | None = None,
) -> Any:
    """Run ``action`` (sync or async); show its error (or ``success``) in ``banner``.

    Returns the action's result, or None when it failed. Nothing escapes to Panel.
    """
    try:
        result = action()
        if hasattr(result, "__await__"):
            result = await result
    except Exception as exc:  # every failure becomes a message
        if banner is not None:
            banner.error(exc)
        else:
            describe_error(exc)
        return None
    if banner is not None:
        if success:
            banner.ok(success)
        else:
            banner.clear()
    return result


def handler(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Any], Awaitable[None]]:
    """A click handler calling ``fn(*args, **kwargs)`` and awaiting it when it is async
    (a plain ``lambda`` returning a coroutine would never be awaited by Panel)."""

    async def on_event(_: Any = None) -> None:
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__"):
            await result

    return on_event


# -- forms from JSON Schemas --------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Unwrap ``$ref`` and ``anyOf [X, null]``; returns the effective property schema."""
    spec = dict(spec)
    ref = spec.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.split("/")[-1], {})
        spec = {**target, **{k: v for k, v in spec.items() if k != "$ref"}}
    options = spec.get("anyOf")
    if options:
        non_null = [o for o in options if o.get("type") != "null"]
        if len(non_null) == 1:
            inner = _resolve(schema, non_null[0])
            spec = {**inner, **{k: v for k, v in spec.items() if k != "anyOf"}}
        elif non_null:
            spec["type"] = "any"
    return spec


def field_kind(spec: Mapping[str, Any]) -> str:
    """enum, boolean, integer, number, string, secret, text (long string) or json."""
    if "enum" in spec:
        return "enum"
    kind = spec.get("type")
    if spec.get("format") == "password" or spec.get("writeOnly"):
        return "secret"
    if kind in ("boolean", "integer", "number"):
        return str(kind)
    if kind == "string":
        max_length = spec.get("maxLength")
        return (
            "text"
            if (max_length is None or max_length > 1000)
            and spec.get("x-long", True)
            and _long_name(spec)
            else "string"
        )
    return "json"


def _long_name(spec: Mapping[str, Any]) -> bool:
    title = str(spec.get("title", "")).lower()
    return any(
        word in title
        for word in (
            "content",
            "code",
            "body",
            "text",
            "message",
            "html",
            "description",
            "excerpt",
            "comment",
            "value",
        )
    )


def _is_mapping(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


_SHAPES = {
    "object": (dict, 'an object like {"key": "value"}'),
    "array": (list, 'a list like ["a", "b"]'),
}


def json_input(text: str, spec: Mapping[str, Any]) -> Any:
    """What an object, list or untyped field holds, from the JSON text typed into it.

    Strings inside the JSON may hold ``{{ }}`` mappings; they stay strings here and the
    runner maps each one (a lone reference keeps its type). Text that is one reference
    maps the whole value. Broken JSON raises ValueError saying where it breaks, except
    in an untyped field, where text that does not look like JSON is plain text.
    """
    want = spec.get("type")
    try:
        value = parse_json_text(text)
    except InvalidJsonText:
        if is_lone_mapping(text):
            return text
        if want in _SHAPES or text.lstrip()[:1] in ("{", "[", '"'):
            raise
        return text
    shape = _SHAPES.get(str(want))
    if shape is not None and not isinstance(value, shape[0]):
        raise ValueError(f"Enter {shape[1]}, or one {{{{ }}}} reference.")
    return value


def _reference_key(reference: str, taken: Iterable[str]) -> str:
    """A key for a reference inserted into an object: its last path segment, made unique."""
    path = reference.strip().removeprefix("{{").removesuffix("}}").strip()
    last = path.split("|", 1)[0].strip().rstrip("]").replace("[", ".").split(".")[-1].strip("'\" ")
    base = last if last.isidentifier() else "value"
    taken = set(taken)
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


class SchemaForm(pn.viewable.Viewer):
    """A form generated from a JSON Schema (an operation's input or an app's auth fields).

    - required fields are marked, descriptions are visible help, defaults show as
      placeholders (an empty field means "use the default");
    - enums are selects, booleans are checkboxes, secrets are password inputs that
      never show a stored value (write-only);
    - any field accepts a mapping such as ``{{ steps.x.id }}`` (the field becomes text);
    - objects, lists and untyped fields take JSON;
    - a field naming an option source (``x-options``) gets a dropdown of choices from
      ``load_options`` under its input (picking fills the field, or adds to a list);
      ``refresh_options()`` fetches them, and a field they need (``option_needs``)
      fetches them again when it changes.

    ``values()`` returns what the user set; ``errors`` (field → message) is shown at
    the field. ``changed`` fires on every edit.
    """

    errors = param.Dict(default={})
    changed = param.Event()

    def __init__(
        self,
        schema: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        *,
        prefix: str = "field",
        load_options: LoadOptions | None = None,
        option_needs: Mapping[str, Sequence[str]] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.load_options = load_options
        self.option_needs = dict(option_needs or {})
        self.pickers: dict[str, OptionsPicker] = {}
        self.schema = dict(schema or {})
        self.prefix = prefix
        self.required = set(self.schema.get("required", []))
        self.specs: dict[str, dict[str, Any]] = {
            name: _resolve(self.schema, spec)
            for name, spec in self.schema.get("properties", {}).items()
        }
        self._values: dict[str, Any] = dict(values or {})
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self._error_panes: dict[str, pn.pane.HTML] = {}
        self._help: dict[str, str] = {}
        self._rows: dict[str, list[Any]] = {
            name: self._field(name) for name in self.specs
        }  # each field's parts
        self._layout = pn.Column(*self._parts(), sizing_mode="stretch_width", margin=0)
        if not self.specs:
            self._layout.append(html('<p class="cw-muted">This operation has no settings.</p>'))
        self.param.watch(self._show_errors, "errors")

    # building

    def _parts(self) -> list[Any]:
        """Every field's parts, in order, as the form's children (no wrapper per field)."""
        return [part for parts in self._rows.values() for part in parts]

    def label(self, name: str) -> str:
        spec = self.specs[name]
        title = field_label(name, spec)
        return f"{title} (required)" if name in self.required else title

    def _field(self, name: str, *, as_text: bool = False) -> list[Any]:
        spec = self.specs[name]
        value = self._values.get(name)
        kind = "string" if as_text or _is_mapping(value) else field_kind(spec)
        label = self.label(name)
        css = [f"{self.prefix}-{name}", "cw-field"]
        default = spec.get("default")
        placeholder = (
            ""
            if default in (None, "", [], {})
            else f"default: {default if isinstance(default, str) else json.dumps(default)}"
        )
        widget: pn.widgets.Widget
        if kind == "enum":
            options = [str(o) for o in spec["enum"]]
            choices = (
                []
                if name in self.required
                else ["(default)" if default is not None else "(not set)"]
            ) + options
            current = (
                str(value)
                if value is not None
                else (str(default) if default is not None and name in self.required else choices[0])
            )
            widget = pn.widgets.Select(
                name=label,
                options=choices,
                value=current if current in choices else choices[0],
                css_classes=css,
                sizing_mode="stretch_width",
            )
        elif kind == "boolean":
            checked = bool(value) if value is not None else bool(default)
            widget = Check(label, checked, css_classes=css)
        elif kind == "secret":
            widget = pn.widgets.PasswordInput(
                name=label,
                value="",
                placeholder="stored — type to replace" if value else "",
                css_classes=css,
                sizing_mode="stretch_width",
            )
        elif kind in ("text", "json"):
            text = (
                ""
                if value is None
                else (
                    value
                    if isinstance(value, str)
                    else json.dumps(value, indent=2, ensure_ascii=False)
                )
            )
            ph = placeholder or ('JSON, e.g. {"key": "value"}' if kind == "json" else "")
            widget = pn.widgets.TextAreaInput(
                name=label,
                value=text,
                placeholder=ph,
                css_classes=css,
                sizing_mode="stretch_width",
                height=90 if kind == "json" else 80,
            )
        else:
            text = "" if value is None else str(value)
            if kind in ("integer", "number") and not placeholder:
                placeholder = "a number, or a {{ }} reference"
            widget = pn.widgets.TextInput(
                name=label,
                value=text,
                placeholder=placeholder,
                css_classes=css,
                sizing_mode="stretch_width",
            )
        widget.param.watch(lambda *_: self._edited(name), "value")
        self.widgets[name] = widget
        parts: list[Any] = [widget]
        picker = self._picker(name, label)
        if picker is not None:
            parts.append(picker)
        # the field's help and, below it, its error: one pane (an open cell is dozens of
        # fields' worth of Bokeh models, each built by the server and laid out by the browser)
        description = spec.get("description")
        self._help[name] = (
            f'<div class="cw-help">{escape(description)}</div>' if description else ""
        )
        note = html(self._help[name], visible=bool(self._help[name]), margin=(0, 10))
        self._error_panes[name] = note
        parts.append(note)
        return parts

    def _edited(self, name: str) -> None:
        if name in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != name}
        picker = self.pickers.get(name)
        if picker is not None and field_kind(self.specs[name]) != "json":
            picker.reflect(self.widgets[name].value)
        dependents = [
            other
            for other, needs in self.option_needs.items()
            if name in needs and other in self.pickers
        ]
        if dependents:

            async def refetch() -> None:
                await self.refresh_options(dependents)

            pn.state.execute(refetch)
        self.changed = True

    # choices fetched through the connection

    def _picker(self, name: str, label: str) -> OptionsPicker | None:
        if self.load_options is None or not isinstance(self.specs[name].get(OPTIONS_KEY), str):
            return None
        if name not in self.pickers:  # kept when the row is rebuilt (a mapping turns it into text)
            load, current = self.load_options, self.current_values

            async def fetch() -> Sequence[Option]:
                return await load(name, current())

            def shown() -> Any:  # a list field's items are added, never shown as one pick
                return None if field_kind(self.specs[name]) == "json" else self.widgets[name].value

            self.pickers[name] = OptionsPicker(
                label.removesuffix(" (required)"),
                lambda value: self._pick(name, value),
                load=fetch,
                current=shown,
                css=f"{self.prefix}-{name}-options",
            )
        return self.pickers[name]

    def _pick(self, name: str, value: Any) -> None:
        """A choice from the dropdown: the field's value, or one more item of a list field."""
        if self.specs[name].get("type") == "array":
            try:
                is_set, current = self.value_of(name)
            except ValueError:
                is_set, current = False, None
            items = list(current) if is_set and isinstance(current, list) else []
            if value not in items:
                self.set_value(name, [*items, value])
            return
        self.set_value(name, value)

    async def refresh_options(self, names: Iterable[str] | None = None) -> None:
        """Fetch the choices of ``names`` (default: every field that has choices)."""
        for name in list(self.pickers if names is None else names):
            picker = self.pickers.get(name)
            if picker is not None:
                await picker.refresh()

    def current_values(self) -> dict[str, Any]:
        """What the fields hold now, leaving out any that does not parse yet."""
        out: dict[str, Any] = {}
        for name in self.specs:
            try:
                is_set, value = self.value_of(name)
            except ValueError:
                continue
            if is_set:
                out[name] = value
        return out

    def _show_errors(self, *_: Any) -> None:
        for name, pane in self._error_panes.items():
            message = self.errors.get(name)
            error = (
                f'<div class="cw-field-error" role="alert">{escape(message)}</div>'
                if message
                else ""
            )
            pane.object = self._help.get(name, "") + error
            pane.visible = bool(pane.object)
        unknown = {k: v for k, v in self.errors.items() if k not in self._error_panes}
        if unknown:
            log.debug("errors for fields not in the form: %s", unknown)

    # reading and writing

    def value_of(self, name: str) -> tuple[bool, Any]:
        """(is set, value) of one field; raises ValueError with a message for bad JSON/numbers."""
        widget = self.widgets[name]
        spec = self.specs[name]
        raw = widget.value
        if isinstance(widget, Check):
            default = bool(spec.get("default"))
            return (widget.checked != default or name in self._values), widget.checked
        if isinstance(widget, pn.widgets.Select):
            return (raw not in ("(default)", "(not set)")), raw
        if isinstance(widget, pn.widgets.PasswordInput):
            return bool(raw), raw
        text = raw if isinstance(raw, str) else str(raw)
        if text.strip() == "":
            return False, None
        kind = field_kind(spec)
        if kind == "json":
            return True, json_input(text, spec)
        if _is_mapping(text):
            return True, text
        if kind == "integer":
            try:
                return True, int(text)
            except ValueError:
                raise ValueError("Enter a whole number, or a {{ }} reference.") from None
        if kind == "number":
            try:
                return True, float(text) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                raise ValueError("Enter a number, or a {{ }} reference.") from None
        return True, text

    def secret_names(self) -> list[str]:
        """The fields shown as password inputs (write-only secrets)."""
        return [
            name
            for name, widget in self.widgets.items()
            if isinstance(widget, pn.widgets.PasswordInput)
        ]

    def values(self, *, keep_secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The fields the user set. Raises ValueError (and marks the fields) on bad input."""
        out: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in self.specs:
            try:
                is_set, value = self.value_of(name)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            if is_set:
                out[name] = value
            elif keep_secrets and name in keep_secrets:
                out[name] = keep_secrets[name]
        if errors:
            self.errors = errors
            raise ValueError(
                "Some fields need attention: "
                + "; ".join(f"{self.label(k)}: {v}" for k, v in errors.items())
            )
        return out

    def set_value(self, name: str, value: Any) -> None:
        """Set one field (a mapping turns enum/boolean/number fields into text)."""
        self._values[name] = value
        if name not in self.specs:
            return
        widget = self.widgets[name]
        if (
            _is_mapping(value)
            and not isinstance(widget, (pn.widgets.TextInput, pn.widgets.TextAreaInput))
            or isinstance(widget, pn.widgets.PasswordInput)
        ):
            self._rows[name] = self._field(name, as_text=True)
            self._layout[:] = self._parts()
            widget = self.widgets[name]
        if isinstance(widget, (pn.widgets.TextInput, pn.widgets.TextAreaInput)):
            indent = 2 if isinstance(widget, pn.widgets.TextAreaInput) else None
            widget.value = (
                value
                if isinstance(value, str)
                else json.dumps(value, indent=indent, ensure_ascii=False)
            )
        elif isinstance(widget, Check):
            widget.checked = bool(value)
        else:
            widget.value = value

    def inserts_at_cursor(self, name: str) -> bool:
        """Whether a reference goes into this field at the cursor (plain text fields), or
        through :meth:`insert` (objects, lists, numbers, choices)."""
        widget = self.widgets[name]
        text_widget = isinstance(
            widget, (pn.widgets.TextInput, pn.widgets.TextAreaInput)
        ) and not isinstance(widget, pn.widgets.PasswordInput)
        return text_widget and field_kind(self.specs[name]) != "json"

    def insert(self, name: str, text: str) -> None:
        """Add ``text`` (a reference) to a field: a new key of an object field, a new item
        of a list field, else appended to the field's text."""
        widget = self.widgets.get(name)
        if widget is None:
            return
        current = (
            widget.value
            if isinstance(widget, (pn.widgets.TextInput, pn.widgets.TextAreaInput))
            else ""
        )
        current = current or ""
        spec = self.specs[name]
        if field_kind(spec) == "json" and not (current.strip() and is_lone_mapping(current)):
            try:
                value = (
                    json_input(current, spec)
                    if current.strip()
                    else {"object": {}, "array": []}.get(str(spec.get("type")))
                )
            except ValueError:
                value = None  # broken JSON: leave it to the user, append as text below
            if isinstance(value, dict):
                self.set_value(name, {**value, _reference_key(text, value): text})
                return
            if isinstance(value, list):
                self.set_value(name, [*value, text])
                return
        self.set_value(name, f"{current} {text}" if current.strip() else text)

    def mark_errors(self, errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        """Show pydantic-style errors (``field``: ``a.b``, ``message``) at their fields."""
        marked: dict[str, str] = {}
        for err in errors:
            field = str(err.get("field", "")).split(".")[0]
            if field in self.specs:
                marked[field] = str(err.get("message", "invalid"))
        self.errors = marked
        return marked

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
