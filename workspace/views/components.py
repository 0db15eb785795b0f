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
button.cw-disclosure { display: block; width: 100%; text-align: left; white-space: normal; \
background: transparent; border: 0;
  border-radius: 8px; padding: 8px 12px; font: inherit; font-size: 14px; color: #111827; \
cursor: pointer; }
button.cw-disclosure:hover { background: #e5e7eb; }
button.cw-disclosure:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
button.cw-disclosure[aria-busy="true"] { color: #4b5563; cursor: progress; }
/* the arrow is decoration: an empty alternative text keeps it out of the accessible name */
button.cw-disclosure::before { content: "\\25B8\\00A0" / ""; }
button.cw-disclosure[aria-expanded="true"]::before { content: "\\25BE\\00A0" / ""; }
button.cw-disclosure img.cw-logo { width: 20px; height: 20px; object-fit: contain; \
vertical-align: -4px; margin-right: 6px; }
"""

CELL_LIST_CSS = """
ul.cw-cells { list-style: none; margin: 0; padding: 0; }
ul.cw-cells li { display: flex; align-items: center; border: 1px solid #d1d5db; \
border-radius: 8px; background: #ffffff; margin: 4px 0; }
ul.cw-cells li > div { flex: 1; min-width: 0; }
ul.cw-cells .grip { flex: none; width: 22px; padding: 8px 0 8px 6px; color: #4b5563; \
cursor: grab; user-select: none; text-align: center; }
ul.cw-cells li.fixed .grip { cursor: default; visibility: hidden; }
ul.cw-cells li.dragging { opacity: 0.5; }
ul.cw-cells li.drop-before { box-shadow: 0 -3px 0 0 #1d4ed8; }
ul.cw-cells li.drop-after { box-shadow: 0 3px 0 0 #1d4ed8; }
"""

# the cell being dragged, shared by every cell list of the page: a cell dropped on
# another list (the same steps, split by an open cell) moves there
DRAG_JS = """
function dragState(value) {
  if (value !== undefined) window.cwCellDrag = value;
  return window.cwCellDrag || null;
}
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
    autofocus = param.Boolean(
        default=False, doc="Take the focus once drawn (then turns itself off)."
    )
    icon = param.String(
        default="",
        doc="URL of a logo shown before the label (decorative: the label names the app).",
    )

    _esm = (
        FOCUS_JS
        + """
    export function render({ model }) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'cw-disclosure';
      const sync = () => {
        button.textContent = model.label;
        if (model.icon) {
          const img = document.createElement('img');
          img.src = model.icon; img.alt = ''; img.width = 20; img.height = 20; \
img.className = 'cw-logo';
          button.prepend(img);
        }
        button.setAttribute('aria-expanded', String(model.expanded));
        button.removeAttribute('aria-busy');
      };
      sync();
      model.on('label', sync);
      model.on('icon', sync);
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
    )
    _stylesheets = [DISCLOSURE_CSS]

    def __init__(self, **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)


class Slot(pn.Column):
    """A column filled later (a form, a result, a lazily built section body).

    While it has nothing to show it holds a zero-size placeholder: Bokeh logs a
    W-1002 (EMPTY_LAYOUT) warning for every empty layout each time it validates the
    document, which it does for every plot it draws, so empty columns filled the
    server log with dozens of lines per session.
    """

    def __init__(self, *objects: Any, **params: Any) -> None:
        super().__init__(*(objects or [_placeholder()]), **params)
        self.param.watch(self._keep_placeholder, "objects")

    def _keep_placeholder(self, event: Any) -> None:
        if not event.new:
            self.objects = [_placeholder()]

    @property
    def shown(self) -> list[Any]:
        """The objects it holds, without the placeholder."""
        return [o for o in self.objects if not getattr(o, "_cw_placeholder", False)]


def _placeholder() -> pn.Spacer:
    spacer = pn.Spacer(width=0, height=0, margin=0)
    spacer._cw_placeholder = True  # type: ignore[attr-defined]
    return spacer


SECTION_STYLE = {"border": "1px solid #d1d5db", "border-radius": "8px", "background": "#f3f4f6"}


def section(
    label: str,
    *objects: Any,
    expanded: bool = False,
    css_classes: list[str] | None = None,
    on_open: Callable[[pn.Column], None] | None = None,
    background: str | None = None,
    margin: tuple[int, int] = (4, 10),
) -> pn.Column:
    """A titled section that opens and closes (a :class:`Disclosure` above its body).

    ``on_open(body)`` runs each time it opens (build the body lazily there);
    ``background`` tints the header (e.g. a failed step's)."""
    toggle = Disclosure(label=label, expanded=expanded, css_classes=["section-toggle"])
    body = Slot(
        *objects,
        visible=expanded,
        sizing_mode="stretch_width",
        margin=(4, 12, 8, 12),
        styles={"background": "#ffffff"},
    )

    def toggled(event: Any) -> None:
        if event.new and on_open is not None:
            on_open(body)
        body.visible = event.new

    toggle.param.watch(toggled, "expanded")
    if expanded and on_open is not None:
        on_open(body)
    styles = {**SECTION_STYLE, "background": background} if background else SECTION_STYLE
    return pn.Column(
        toggle,
        body,
        sizing_mode="stretch_width",
        css_classes=css_classes or [],
        styles=styles,
        margin=margin,
    )


class CellList(JSComponent):
    """Collapsed cells, as ONE component: a list of native disclosure buttons.

    A 50-cell scenario is one Bokeh model instead of a widget set per cell; clicking a
    cell asks Python to open it (its full editor is built then, as a ``CellCard``).
    ``focus_id`` names a cell whose button takes the focus once drawn (a cell just closed).

    Cells are reordered by dragging them (their grip, or anywhere on them) before or after
    another cell of the same list of steps (``container``); a ``fixed`` cell (the
    trigger) neither moves nor lets a cell go before it. Keyboard users have the cell's
    Move up / Move down buttons.
    """

    items = param.List(default=[], doc="[{id, title, icon, container, fixed}] in display order.")
    focus_id = param.String(default="", doc="Focus this cell's button once drawn (then cleared).")

    _esm = (
        FOCUS_JS
        + DRAG_JS
        + """
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
          if (item.icon) {
            const img = document.createElement('img');
            img.src = item.icon; img.alt = ''; img.width = 20; img.height = 20; \
img.className = 'cw-logo';
            button.prepend(img);
          }
          button.setAttribute('aria-expanded', 'false');
          button.addEventListener('click', () => {
            button.setAttribute('aria-busy', 'true');
            model.send_msg({ open: item.id });
          });
          buttons.set(item.id, button);
          const grip = document.createElement('span');
          grip.className = 'grip';
          grip.setAttribute('aria-hidden', 'true');
          grip.textContent = '\u283f';
          grip.title = 'Drag to reorder';
          wrap.appendChild(button);
          li.append(grip, wrap);
          if (item.fixed) li.classList.add('fixed');
          else draggable(li, item);
          droppable(li, item);
          list.appendChild(li);
        }
        focus();
      };
      const clear = (li) => li.classList.remove('drop-before', 'drop-after');
      const draggable = (li, item) => {
        li.draggable = true;
        li.addEventListener('dragstart', (event) => {
          dragState({ id: item.id, container: item.container });
          event.dataTransfer.effectAllowed = 'move';
          event.dataTransfer.setData('text/plain', item.id);
          li.classList.add('dragging');
        });
        li.addEventListener('dragend', () => { dragState(null); li.classList.remove('dragging'); });
      };
      const place = (li, item, event) => {
        const drag = dragState();
        if (!drag || drag.id === item.id || drag.container !== item.container) return null;
        const box = li.getBoundingClientRect();
        const after = item.fixed || event.clientY > box.top + box.height / 2; \
 // nothing goes before the trigger
        return { drag, after };
      };
      const droppable = (li, item) => {
        li.addEventListener('dragover', (event) => {
          const where = place(li, item, event);
          if (!where) return;
          event.preventDefault();
          event.dataTransfer.dropEffect = 'move';
          li.classList.toggle('drop-after', where.after);
          li.classList.toggle('drop-before', !where.after);
        });
        li.addEventListener('dragleave', () => clear(li));
        li.addEventListener('drop', (event) => {
          const where = place(li, item, event);
          clear(li);
          if (!where) return;
          event.preventDefault();
          dragState(null);
          model.send_msg({ move: where.drag.id, target: item.id, after: where.after });
        });
      };
      draw();
      model.on('items', draw);
      model.on('focus_id', focus);
      return list;
    }
    """
    )
    _stylesheets = [DISCLOSURE_CSS, CELL_LIST_CSS]

    def __init__(
        self,
        on_open: Callable[[str], Any],
        on_move: Callable[[str, str, bool], Any] | None = None,
        **params: Any,
    ) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)
        self._on_open = on_open
        self._on_move = on_move

    def _handle_msg(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if isinstance(data.get("open"), str):
            self._on_open(data["open"])
        elif (
            self._on_move is not None
            and isinstance(data.get("move"), str)
            and isinstance(data.get("target"), str)
        ):
            self._on_move(data["move"], data["target"], bool(data.get("after")))


SCENARIO_TABLE_CSS = """
:host { display: block; width: 100%; }
.cw-rows { list-style: none; margin: 0; padding: 0; font-size: 14px; color: #111827; }
.cw-rows li { display: flex; flex-wrap: wrap; align-items: center; \
border-bottom: 1px solid #e5e7eb; padding: 4px 0; }
.cw-rows .cell { flex: none; box-sizing: border-box; padding: 4px 10px; min-width: 0; \
overflow-wrap: anywhere; }
.cw-rows .name { display: flex; flex-direction: column; gap: 2px; }
.cw-rows button { font: inherit; padding: 5px 10px; border: 1px solid #9ca3af; \
border-radius: 4px; background: #ffffff; color: #111827; cursor: pointer; }
.cw-rows button:hover { background: #e5e7eb; }
.cw-rows button:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
.cw-rows .open-scenario button { display: block; width: 100%; text-align: left; \
white-space: normal; background: #f8f9fa; border-color: #f8f9fa; }
.cw-rows .open-scenario button:hover { background: #e5e7eb; }
.cw-rows .actions { display: flex; flex-wrap: wrap; gap: 4px; padding: 4px 0 4px 10px; }
.cw-rows .delete-scenario button { background: #dc3545; border-color: #dc3545; color: #ffffff; }
.cw-rows .delete-scenario button:hover { background: #b02a37; }
@media (max-width: 899px) { .cw-rows .cell { width: auto !important; \
} .cw-rows .name { width: 100% !important; } }
"""


class ScenarioTable(JSComponent):
    """The scenarios list as ONE component: a row per scenario with its name (and tags),
    status, last run and success rate, and its buttons (open, enable/disable, duplicate,
    export, delete). Built from a Panel widget per button, a list of 50 scenarios was 600
    Bokeh models that the server built and the browser laid out one by one.

    ``rows`` carry their cells as HTML the server escaped (``cells``: label → HTML, in
    column order); the buttons are native ``<button>``s inside elements classed
    ``open-scenario``, ``toggle-scenario``… and each click sends ``{action, id}``."""

    _stylesheets = [SCENARIO_TABLE_CSS]

    rows = param.List(
        default=[], doc="[{id, name, tags_html, cells: [[label, html, width]], toggle}]"
    )
    name_width = param.Integer(default=300, doc="The name column's width (px), as the headers'.")

    _esm = """
    export function render({ model }) {
      const list = document.createElement('ul');
      list.className = 'cw-rows';
      const button = (cls, label, action, id, extra) => {
        const wrap = document.createElement('span');
        wrap.className = cls;
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = label;
        if (extra) b.setAttribute('aria-label', extra);
        b.addEventListener('click', () => model.send_msg({ action, id }));
        wrap.appendChild(b);
        return wrap;
      };
      const draw = () => {
        list.replaceChildren();
        for (const row of model.rows) {
          const li = document.createElement('li');
          li.className = 'scenario-row';
          const name = document.createElement('div');
          name.className = 'cell name';
          name.style.width = `${model.name_width}px`;
          name.appendChild(button('open-scenario', row.name, 'open', row.id));
          if (row.tags_html) {
            const tags = document.createElement('div');
            tags.innerHTML = row.tags_html;  // escaped by the server
            name.appendChild(tags);
          }
          li.appendChild(name);
          for (const [label, html, width] of row.cells) {
            const cell = document.createElement('div');
            cell.className = 'cell';
            cell.style.width = `${width}px`;
            cell.innerHTML = `<span class="cw-label">${label}: </span>${html}`; \
 // escaped by the server
            li.appendChild(cell);
          }
          const actions = document.createElement('div');
          actions.className = 'actions';
          actions.append(
            button('toggle-scenario', row.toggle, 'toggle', row.id, `${row.toggle} ${row.name}`),
            button('duplicate-scenario', 'Duplicate', 'duplicate', row.id, `Duplicate ${row.name}`),
            button('export-scenario', 'Export', 'export', row.id, `Export ${row.name}`),
            button('delete-scenario', 'Delete', 'delete', row.id, `Delete ${row.name}`),
          );
          li.appendChild(actions);
          list.appendChild(li);
        }
      };
      draw();
      model.on('rows', draw);
      // an export arrives as {download: {filename, text}}: saved like a file link
      model.on('msg:custom', (msg) => {
        if (!msg || !msg.download) return;
        const url = URL.createObjectURL(new Blob([msg.download.text], \
{ type: 'application/yaml' }));
        const a = document.createElement('a');
        a.href = url; a.download = msg.download.filename;
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      });
      return list;
    }
    """

    ACTIONS = ("open", "toggle", "duplicate", "export", "delete")

    def __init__(self, on_action: Callable[[str, str], Any], **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)
        self._on_action = on_action

    def _handle_msg(self, data: Any) -> None:
        if (
            isinstance(data, dict)
            and data.get("action") in self.ACTIONS
            and isinstance(data.get("id"), str)
        ):
            if any(row["id"] == data["id"] for row in self.rows):  # only a row it shows
                self._on_action(data["action"], data["id"])

    def download(self, filename: str, text: str) -> None:
        """Have the browser save ``text`` as ``filename``."""
        self._send_msg({"download": {"filename": filename, "text": text}})


NAV_MENU_CSS = """
:host { display: block; width: 100%; }
nav { padding: 8px 4px; }
nav .title { font-size: 12px; color: #4b5563; padding: 0 4px; }
nav ul { list-style: none; margin: 4px 0 0 0; padding: 0; display: flex; flex-direction: column; \
gap: 4px; }
nav button { font: inherit; font-size: 14px; text-align: left; padding: 6px 12px; \
border: 1px solid #f8f9fa; border-radius: 4px;
  background: #f8f9fa; color: #212529; cursor: pointer; }
nav button:hover { background: #e2e6ea; }
nav button[aria-current="page"] { background: #0072b5; border-color: #0072b5; color: #ffffff; }
nav button:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
"""


class NavMenu(JSComponent):
    """The workspace's menu as ONE component: a ``<nav>`` of native buttons (each inside an
    element classed ``nav nav-<page>``), the current page marked ``aria-current``. Eight
    Panel buttons were eight Bokeh models on every page the server built and the browser
    laid out."""

    items = param.List(default=[], doc="[[page key, label]] in menu order.")
    active = param.String(default="", doc="The page shown (its button is marked current).")

    _esm = """
    export function render({ model }) {
      const nav = document.createElement('nav');
      nav.setAttribute('aria-label', 'Workspace');
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = 'MENU';
      const list = document.createElement('ul');
      nav.append(title, list);
      const buttons = new Map();
      const mark = () => {
        for (const [key, button] of buttons) {
          if (key === model.active) button.setAttribute('aria-current', 'page');
          else button.removeAttribute('aria-current');
        }
      };
      const draw = () => {
        list.replaceChildren();
        buttons.clear();
        for (const [key, label] of model.items) {
          const li = document.createElement('li');
          li.className = `nav nav-${key}`;
          const button = document.createElement('button');
          button.type = 'button';
          button.textContent = label;
          button.addEventListener('click', () => model.send_msg({ go: key }));
          buttons.set(key, button);
          li.appendChild(button);
          list.appendChild(li);
        }
        mark();
      };
      draw();
      model.on('items', draw);
      model.on('active', mark);
      return nav;
    }
    """
    _stylesheets = [NAV_MENU_CSS]

    def __init__(self, on_go: Callable[[str], Any], **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)
        self._on_go = on_go

    def _handle_msg(self, data: Any) -> None:
        if isinstance(data, dict) and any(data.get("go") == key for key, _ in self.items):
            self._on_go(data["go"])


REFERENCE_CSS = """
:host { display: block; width: 100%; }
.cw-refs { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; font-size: 14px; \
color: #111827; }
.cw-refs label { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.cw-refs label.pick { flex: 1 1 260px; }
.cw-refs select { font: inherit; padding: 6px 8px; border: 1px solid #9ca3af; border-radius: 4px; \
background: #f3f4f6; color: #111827; max-width: 100%; }
.cw-refs button { font: inherit; padding: 6px 14px; border: 1px solid #9ca3af; \
border-radius: 4px; background: #ffffff; color: #111827; cursor: pointer; }
.cw-refs button:hover { background: #e5e7eb; }
.cw-refs select:focus-visible, .cw-refs button:focus-visible { outline: 3px solid #1d4ed8; \
outline-offset: 1px; }
"""


class ReferencePicker(JSComponent):
    """ "Insert a reference to earlier data": a reference, a field, and a button.

    Into a text field the reference goes where the cursor was (replacing a selection),
    done in the browser, which alone knows the cursor; the field then sends its new value
    as if typed. Other fields (objects, lists, numbers, choices) ask Python, which adds
    the reference as a new key, a new item, or turns the field into text.
    """

    ref_options = param.List(default=[], doc="[[label, reference]] of earlier cells' fields.")
    field_options = param.List(
        default=[], doc="[[name, label, mode]]: mode 'cursor' (text) or 'form' (Python inserts)."
    )
    field_class = param.String(
        default="", doc="CSS class prefix of the form's fields: '{prefix}-' + name."
    )

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
        params.setdefault("margin", (4, 10))  # inset like the fields above it
        super().__init__(**params)
        self._on_insert = on_insert

    def _handle_msg(self, data: Any) -> None:
        if (
            isinstance(data, dict)
            and isinstance(data.get("field"), str)
            and isinstance(data.get("reference"), str)
        ):
            self._on_insert(data["field"], data["reference"])


class LeaveGuard(JSComponent):
    """Asks the browser to confirm leaving the page while there are unsaved changes."""

    dirty = param.Boolean(default=False)

    _esm = """
    export function render({ model }) {
      const handler = (event) => { if (model.dirty) { event.preventDefault(); \
event.returnValue = ''; } };
      window.addEventListener('beforeunload', handler);
      model.on('remove', () => window.removeEventListener('beforeunload', handler));
      const el = document.createElement('span');
      el.setAttribute('aria-hidden', 'true');
      return el;
    }
    """


__all__ = ["CellList", "Disclosure", "LeaveGuard", "section"]
