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
    label: str, *objects: Any, expanded: bool = False, css_classes: list[str] | None = None,
    on_open: Callable[[pn.Column], None] | None = None, background: str | None = None, margin: tuple[int, int] = (4, 10),
) -> pn.Column:
    """A titled section that opens and closes (a :class:`Disclosure` above its body).

    ``on_open(body)`` runs each time it opens (build the body lazily there);
    ``background`` tints the header (e.g. a failed step's)."""
    toggle = Disclosure(label=label, expanded=expanded, css_classes=["section-toggle"])
    body = Slot(*objects, visible=expanded, sizing_mode="stretch_width", margin=(4, 12, 8, 12), styles={"background": "#ffffff"})

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
