"""Small browser-side components of the workspace (Panel ``JSComponent``s).

Each renders native HTML controls, so the browser gives them their keyboard behaviour
and accessible names: :class:`Disclosure` (a button that shows or hides a section, with
``aria-expanded``), :class:`CellList` (collapsed notebook cells as ONE list of such
buttons) and :class:`LeaveGuard` (asks before leaving a page with unsaved changes).

Focus: a control that replaces the one the user just pressed takes the focus itself
(``autofocus`` on a disclosure, ``focus_id`` on a cell list), once, after it is drawn,
so keyboard users stay where they were instead of falling back to the page's start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

DISCLOSURE_CSS = """
:host { display: block; width: 100%; }
button.cw-disclosure { display: block; width: 100%; text-align: left; white-space: normal; background: transparent; border: 0;
  border-radius: 8px; padding: 8px 12px; font: inherit; font-size: 14px; color: #111827; cursor: pointer; }
button.cw-disclosure:hover { background: #e5e7eb; }
button.cw-disclosure:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
button.cw-disclosure[aria-busy="true"] { color: #4b5563; cursor: progress; }
/* the arrow is decoration: an empty alternative text keeps it out of the accessible name */
button.cw-disclosure::before { content: "\\25B8\\00A0" / ""; }
button.cw-disclosure[aria-expanded="true"]::before { content: "\\25BE\\00A0" / ""; }
"""

CELL_LIST_CSS = """
ul.cw-cells { list-style: none; margin: 0; padding: 0; }
ul.cw-cells li { border: 1px solid #d1d5db; border-radius: 8px; background: #ffffff; margin: 4px 0; }
"""

# focus the element once it is in the page (after Bokeh has attached the view)
FOCUS_JS = """
function focusSoon(el) {
  let tries = 0;
  const go = () => {
    if (el.isConnected) { el.focus(); return; }
    if (tries++ < 50) requestAnimationFrame(go);
  };
  requestAnimationFrame(go);
}
"""


class Disclosure(JSComponent):
    """A button that shows or hides a section: ``label``, ``expanded`` (both ways)."""

    label = param.String(default="")
    expanded = param.Boolean(default=False)
    autofocus = param.Boolean(default=False, doc="Take the focus once drawn (then turns itself off).")

    _esm = FOCUS_JS + """
    export function render({ model }) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'cw-disclosure';
      const sync = () => {
        button.textContent = model.label;
        button.setAttribute('aria-expanded', String(model.expanded));
        button.removeAttribute('aria-busy');
      };
      sync();
      model.on('label', sync);
      model.on('expanded', sync);
      button.addEventListener('click', () => {
        button.setAttribute('aria-busy', 'true');
        model.expanded = !model.expanded;
      });
      const focus = () => { if (model.autofocus) { model.autofocus = false; focusSoon(button); } };
      model.on('autofocus', focus);
      focus();
      return button;
    }
    """
    _stylesheets = [DISCLOSURE_CSS]

    def __init__(self, **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)


SECTION_STYLE = {"border": "1px solid #d1d5db", "border-radius": "8px", "background": "#f3f4f6"}


def section(
    label: str, *objects: Any, expanded: bool = False, css_classes: list[str] | None = None,
    on_open: Callable[[pn.Column], None] | None = None, background: str | None = None, margin: tuple[int, int] = (4, 10),
) -> pn.Column:
    """A titled section that opens and closes (a :class:`Disclosure` above its body).

    ``on_open(body)`` runs each time it opens (build the body lazily there);
    ``background`` tints the header (e.g. a failed step's)."""
    toggle = Disclosure(label=label, expanded=expanded, css_classes=["section-toggle"])
    body = pn.Column(*objects, visible=expanded, sizing_mode="stretch_width", margin=(4, 12, 8, 12), styles={"background": "#ffffff"})

    def toggled(event: Any) -> None:
        if event.new and on_open is not None:
            on_open(body)
        body.visible = event.new

    toggle.param.watch(toggled, "expanded")
    if expanded and on_open is not None:
        on_open(body)
    styles = {**SECTION_STYLE, "background": background} if background else SECTION_STYLE
    return pn.Column(toggle, body, sizing_mode="stretch_width", css_classes=css_classes or [], styles=styles, margin=margin)


class CellList(JSComponent):
    """Collapsed cells, as ONE component: a list of native disclosure buttons.

    A 50-cell scenario is one Bokeh model instead of a widget set per cell; clicking a
    cell asks Python to open it (its full editor is built then, as a ``CellCard``).
    ``focus_id`` names a cell whose button takes the focus once drawn (a cell just closed).
    """

    items = param.List(default=[], doc="[{id, title}] in display order.")
    focus_id = param.String(default="", doc="Focus this cell's button once drawn (then cleared).")

    _esm = FOCUS_JS + """
    export function render({ model }) {
      const list = document.createElement('ul');
      list.className = 'cw-cells';
      const buttons = new Map();
      const focus = () => {
        const button = buttons.get(model.focus_id);
        if (button) { model.focus_id = ''; focusSoon(button); }
      };
      const draw = () => {
        list.replaceChildren();
        buttons.clear();
        for (const item of model.items) {
          const li = document.createElement('li');
          li.className = `cell-card cell-${item.id}`;
          const wrap = document.createElement('div');
          wrap.className = `cell-toggle cell-toggle-${item.id}`;
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'cw-disclosure';
          button.textContent = item.title;
          button.setAttribute('aria-expanded', 'false');
          button.addEventListener('click', () => {
            button.setAttribute('aria-busy', 'true');
            model.send_msg({ open: item.id });
          });
          buttons.set(item.id, button);
          wrap.appendChild(button);
          li.appendChild(wrap);
          list.appendChild(li);
        }
        focus();
      };
      draw();
      model.on('items', draw);
      model.on('focus_id', focus);
      return list;
    }
    """
    _stylesheets = [DISCLOSURE_CSS, CELL_LIST_CSS]

    def __init__(self, on_open: Callable[[str], Any], **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)
        self._on_open = on_open

    def _handle_msg(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("open"), str):
            self._on_open(data["open"])


REFERENCE_CSS = """
:host { display: block; width: 100%; }
.cw-refs { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; font-size: 14px; color: #111827; }
.cw-refs label { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.cw-refs label.pick { flex: 1 1 260px; }
.cw-refs select { font: inherit; padding: 6px 8px; border: 1px solid #9ca3af; border-radius: 4px; background: #f3f4f6; color: #111827; max-width: 100%; }
.cw-refs button { font: inherit; padding: 6px 14px; border: 1px solid #9ca3af; border-radius: 4px; background: #ffffff; color: #111827; cursor: pointer; }
.cw-refs button:hover { background: #e5e7eb; }
.cw-refs select:focus-visible, .cw-refs button:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
"""


class ReferencePicker(JSComponent):
    """"Insert a reference to earlier data": a reference, a field, and a button.

    Into a text field the reference goes where the cursor was (replacing a selection),
    done in the browser, which alone knows the cursor; the field then sends its new value
    as if typed. Other fields (objects, lists, numbers, choices) ask Python, which adds
    the reference as a new key, a new item, or turns the field into text.
    """

    ref_options = param.List(default=[], doc="[[label, reference]] of earlier cells' fields.")
    field_options = param.List(default=[], doc="[[name, label, mode]]: mode 'cursor' (text) or 'form' (Python inserts).")
    field_class = param.String(default="", doc="CSS class prefix of the form's fields: '{prefix}-' + name.")

    _esm = """
    function deepFind(cls) {
      const roots = [document];
      while (roots.length) {
        const root = roots.pop();
        const hit = root.querySelector('.' + CSS.escape(cls));
        if (hit) return hit;
        for (const el of root.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
      }
      return null;
    }
    export function render({ model }) {
      const box = document.createElement('div');
      box.className = 'cw-refs ref-picker';
      const uid = Math.random().toString(36).slice(2);
      const pickLabel = document.createElement('label');
      pickLabel.className = 'pick';
      pickLabel.textContent = 'Insert a reference to earlier data';
      const pick = document.createElement('select');
      pick.className = 'ref-pick';
      pickLabel.appendChild(pick);
      const targetLabel = document.createElement('label');
      targetLabel.textContent = 'into field';
      const target = document.createElement('select');
      target.className = 'ref-target';
      targetLabel.appendChild(target);
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'ref-insert';
      button.textContent = 'Insert reference';
      const fill = (select, rows) => {
        const keep = select.value;
        select.replaceChildren();
        for (const [value, label] of rows) {
          const option = document.createElement('option');
          option.value = value;
          option.textContent = label;
          select.appendChild(option);
        }
        if (rows.some(([value]) => value === keep)) select.value = keep;
      };
      const draw = () => {
        const refs = model.ref_options.map(([label, ref]) => [ref, label]);
        fill(pick, refs.length ? refs : [['', '(no earlier data)']]);
        fill(target, model.field_options.map(([name, label]) => [name, label]));
        button.disabled = !refs.length || !model.field_options.length;
      };
      button.addEventListener('click', () => {
        const ref = pick.value, name = target.value;
        if (!ref || !name) return;
        const mode = (model.field_options.find(([n]) => n === name) || [])[2];
        const host = mode === 'cursor' ? deepFind(model.field_class + name) : null;
        const input = host && (host.shadowRoot || host).querySelector('textarea, input');
        if (!input) { model.send_msg({ field: name, reference: ref }); return; }
        const text = input.value || '';
        const start = input.selectionStart ?? text.length, end = input.selectionEnd ?? start;
        input.value = text.slice(0, start) + ref + text.slice(end);
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.dispatchEvent(new Event('change', { bubbles: true }));
        input.focus();
        input.setSelectionRange(start + ref.length, start + ref.length);
      });
      draw();
      model.on('ref_options', draw);
      model.on('field_options', draw);
      box.append(pickLabel, targetLabel, button);
      return box;
    }
    """
    _stylesheets = [REFERENCE_CSS]

    def __init__(self, on_insert: Callable[[str, str], Any], **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", (4, 0))
        super().__init__(**params)
        self._on_insert = on_insert

    def _handle_msg(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("field"), str) and isinstance(data.get("reference"), str):
            self._on_insert(data["field"], data["reference"])


class LeaveGuard(JSComponent):
    """Asks the browser to confirm leaving the page while there are unsaved changes."""

    dirty = param.Boolean(default=False)

    _esm = """
    export function render({ model }) {
      const handler = (event) => { if (model.dirty) { event.preventDefault(); event.returnValue = ''; } };
      window.addEventListener('beforeunload', handler);
      model.on('remove', () => window.removeEventListener('beforeunload', handler));
      const el = document.createElement('span');
      el.setAttribute('aria-hidden', 'true');
      return el;
    }
    """


__all__ = ["CellList", "Disclosure", "LeaveGuard", "section"]
