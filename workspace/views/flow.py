"""The scenario's flow diagram in the notebook: :class:`FlowDiagram` draws a
:class:`~workspace.views.flow_graph.FlowGraph` in the browser; :class:`FlowView` keeps
it in step with the notebook (edits, runs) and opens the cell whose node is pressed.

Nodes are native buttons (focusable, named by their text: number, label, app and
operation, status in words), laid out on a grid inside a box that scrolls on its own;
the edges are one decorative SVG behind them. Branch names and "if it passes" are text
on the edges. Everything is inline: no script or style comes from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import param
from panel.custom import JSComponent

from workspace.views.components import FOCUS_JS, section
from workspace.views.flow_graph import FlowGraph, build_flow

if TYPE_CHECKING:
    from workspace.views.notebook import Notebook

FLOW_CSS = """
:host { display: block; width: 100%; }
.cw-flow-box { max-height: min(460px, 70vh); overflow: auto; border: 1px solid #d1d5db; \
border-radius: 8px; background: #f9fafb; padding: 12px; }
.cw-flow { position: relative; margin: 0 auto; }
.cw-flow svg { position: absolute; left: 0; top: 0; overflow: visible; }
.cw-flow .edge { fill: none; stroke: #6b7280; stroke-width: 1.5; }
.cw-flow .edge-label { position: absolute; transform: translate(-50%, 0); background: #ffffff; \
border: 1px solid #9ca3af; border-radius: 10px;
  padding: 0 8px; font-size: 12px; line-height: 18px; color: #1f2937; white-space: nowrap; \
max-width: 220px; overflow: hidden; text-overflow: ellipsis; }
.cw-flow .node { position: absolute; display: flex; align-items: center; gap: 8px; \
box-sizing: border-box; padding: 6px 10px;
  background: #ffffff; border: 1px solid #9ca3af; border-left: 5px solid #9ca3af; \
border-radius: 8px; font: inherit; font-size: 13px;
  color: #111827; text-align: left; cursor: pointer; }
.cw-flow button.node:hover { background: #eff6ff; }
.cw-flow button.node:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.cw-flow .node img { width: 24px; height: 24px; flex: none; object-fit: contain; }
.cw-flow .node .text { display: flex; flex-direction: column; min-width: 0; flex: 1; }
.cw-flow .node .title { font-weight: 600; white-space: nowrap; overflow: hidden; \
text-overflow: ellipsis; }
.cw-flow .node .detail { color: #374151; font-size: 12px; white-space: nowrap; overflow: hidden; \
text-overflow: ellipsis; }
/* the status sits on the node's top edge: the title and detail keep their width */
.cw-flow .node .status { position: absolute; top: -9px; right: 8px; font-size: 11px; \
line-height: 16px; font-weight: 600; border-radius: 9px; padding: 0 6px; border: 1px solid; \
background: #ffffff; }
.cw-flow .node-trigger { border-left-color: #1d4ed8; }
.cw-flow .node-router { border-left-color: #7c3aed; background: #faf5ff; }
/* a filter is a gate: posts on both sides */
.cw-flow .node-filter { border: 2px solid #b45309; border-left: 8px double #b45309; \
border-right: 8px double #b45309; background: #fffbeb; }
.cw-flow .node-more { border-style: dashed; border-left-width: 1px; background: #f3f4f6; }
.cw-flow .node-empty { border-style: dashed; border-left-width: 1px; background: transparent; \
color: #374151; cursor: default; }
.cw-flow .status-completed { border-left-color: #15803d; }
.cw-flow .status-completed .status { background: #f0fdf4; color: #14532d; border-color: #15803d; }
.cw-flow .status-failed { border-left-color: #b91c1c; background: #fef2f2; }
.cw-flow .status-failed .status { background: #fef2f2; color: #7f1d1d; border-color: #b91c1c; }
.cw-flow .status-waiting { border-left-color: #b45309; }
.cw-flow .status-waiting .status { background: #fffbeb; color: #78350f; border-color: #b45309; }
.cw-flow .status-skipped .status, .cw-flow .status-not-run .status { background: #f3f4f6; \
color: #1f2937; border-color: #4b5563; }
.cw-flow-help { margin: 0 0 6px; font-size: 13px; color: #374151; }
"""

NODE_W, NODE_H, COL_W, ROW_H = 240, 54, 264, 88


class FlowDiagram(JSComponent):
    """Draws a flow graph (``graph``: ``FlowGraph.to_dict()``). Pressing a cell's node asks
    Python to open it; pressing a "more steps" node asks to show them. ``focus_id``: the
    node that takes the focus once drawn (then cleared)."""

    graph = param.Dict(default={"nodes": [], "edges": [], "cols": 1, "rows": 0})
    focus_id = param.String(default="")

    _esm = (
        FOCUS_JS
        + f"""
    const NODE_W = {NODE_W}, NODE_H = {NODE_H}, COL_W = {COL_W}, ROW_H = {ROW_H};
    const SVG = 'http://www.w3.org/2000/svg';
    """
        + """
    function el(tag, cls, text) {
      const e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined) e.textContent = text;
      return e;
    }
    export function render({ model }) {
      const root = el('div', 'cw-flow-wrap');
      const help = el('p', 'cw-flow-help', 'Press a step to open it. After a run, \
each step shows its status.');
      const box = el('div', 'cw-flow-box');
      const flow = el('div', 'cw-flow');
      flow.setAttribute('role', 'group');
      flow.setAttribute('aria-label', 'Flow diagram of the scenario');
      box.appendChild(flow);
      root.append(help, box);
      const buttons = new Map();
      const focus = () => {
        const b = buttons.get(model.focus_id);
        if (b) { model.focus_id = ''; focusSoon(b); }
      };
      const draw = () => {
        const g = model.graph;
        flow.replaceChildren();
        buttons.clear();
        const width = Math.max(g.cols, 1) * COL_W - (COL_W - NODE_W), \
height = Math.max(g.rows, 1) * ROW_H - (ROW_H - NODE_H);
        flow.style.width = width + 'px';
        flow.style.height = height + 'px';
        const at = new Map(g.nodes.map(n => [n.id, n]));
        const svg = document.createElementNS(SVG, 'svg');
        svg.setAttribute('width', width); svg.setAttribute('height', height);
        svg.setAttribute('aria-hidden', 'true'); svg.setAttribute('focusable', 'false');
        const defs = document.createElementNS(SVG, 'defs');
        defs.innerHTML = '<marker id="cw-arrow" viewBox="0 0 10 10" refX="9" refY="5" \
markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
          + '<path d="M0 0 L10 5 L0 10 z" fill="#6b7280"/></marker>';
        svg.appendChild(defs);
        flow.appendChild(svg);
        const labels = [];
        for (const e of g.edges) {
          const s = at.get(e.source), t = at.get(e.target);
          if (!s || !t) continue;
          const x1 = s.col * COL_W + NODE_W / 2, y1 = s.row * ROW_H + NODE_H;
          const x2 = t.col * COL_W + NODE_W / 2, y2 = t.row * ROW_H;
          const bend = y2 - (ROW_H - NODE_H) / 2;
          const path = document.createElementNS(SVG, 'path');
          path.setAttribute('d', \
x1 === x2 ? `M${x1} ${y1} V${y2 - 1}` : `M${x1} ${y1} V${bend} H${x2} V${y2 - 1}`);
          path.setAttribute('class', 'edge');
          path.setAttribute('marker-end', 'url(#cw-arrow)');
          svg.appendChild(path);
          if (e.label) {
            const label = el('span', 'edge-label', e.label);
            label.title = e.label;
            label.style.left = x2 + 'px';
            label.style.top = (y2 - (ROW_H - NODE_H) + 4) + 'px';
            labels.push(label);
          }
        }
        for (const n of g.nodes) {
          const interactive = n.kind !== 'empty';
          const node = el(interactive ? 'button' : 'div', \
`node node-${n.kind}` + (n.status ? ` status-${n.status.replace(' ', '-')}` : ''));
          if (interactive) {
            node.type = 'button';
            node.addEventListener('click', \
() => model.send_msg(n.kind === 'more' ? { expand: n.id } : { open: n.id }));
            buttons.set(n.id, node);
          }
          node.dataset.id = n.id;
          node.style.left = (n.col * COL_W) + 'px';
          node.style.top = (n.row * ROW_H) + 'px';
          node.style.width = NODE_W + 'px';
          node.style.height = NODE_H + 'px';
          const img = el('img');
          img.src = n.icon; img.alt = ''; img.width = 24; img.height = 24; \
 // the detail line names the app
          const text = el('span', 'text');
          text.append(el('span', 'title', n.number ? `${n.number}. ${n.label}` : n.label), \
el('span', 'detail', n.detail));
          node.append(img, text);
          if (n.status) node.append(el('span', 'status', n.status));
          node.title = [n.number ? `${n.number}. ${n.label}` : n.label, n.detail, \
n.status].filter(Boolean).join(' — ');
          flow.appendChild(node);
        }
        flow.append(...labels);
        focus();
      };
      draw();
      model.on('graph', draw);
      model.on('focus_id', focus);
      return root;
    }
    """
    )
    _stylesheets = [FLOW_CSS]

    def __init__(
        self, on_open: Callable[[str], Any], on_expand: Callable[[str], Any], **params: Any
    ) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)
        self._on_open = on_open
        self._on_expand = on_expand

    def _handle_msg(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if isinstance(data.get("open"), str):
            self._on_open(data["open"])
        elif isinstance(data.get("expand"), str):
            self._on_expand(data["expand"])


class FlowView:
    """The notebook's diagram section: rebuilt from the state when cells or results change."""

    def __init__(self, notebook: Notebook) -> None:
        self.nb = notebook
        self.state = notebook.state
        self.expanded: set[str] = set()
        self.graph = self.build()
        self.diagram = FlowDiagram(
            on_open=self._open,
            on_expand=self.expand,
            graph=self.graph.to_dict(),
            css_classes=["flow-diagram"],
        )
        self.panel = section(
            "Flow diagram", self.diagram, expanded=True, css_classes=["flow-section"], margin=(4, 0)
        )
        self.state.param.watch(
            lambda *_: self.refresh(),
            ["structure", "results", "revision", "last_execution", "step_log"],
        )

    def build(self) -> FlowGraph:
        state = self.state
        whole_run = state.last_execution is not None or bool(state.step_log)
        calls = any(c.get("app") == "scenario" for c in _all_cells(state.cells))
        return build_flow(
            state.cells,
            state.results,
            state.svc.apps,
            self.expanded,
            whole_run=whole_run,
            # the names of the scenarios Run scenario cells call (only when there is one)
            scenario_names=state.svc.scenarios.names(state.user.id) if calls else None,
        )

    def refresh(self) -> None:
        """Redraw when what the diagram shows changed (typing in a field changes nothing here)."""
        graph = self.build()
        if graph != self.graph:
            self.graph = graph
            self.diagram.graph = graph.to_dict()

    def _open(self, cell_id: str) -> None:
        self.nb.open_cell(cell_id)

    def expand(self, node_id: str) -> None:
        """Show the steps a "more steps" node stands for; the first of them takes the focus."""
        node = next((n for n in self.graph.nodes if n.id == node_id), None)
        if node is None or not node.hidden:
            return
        self.expanded.add(node_id)
        self.refresh()
        self.diagram.focus_id = node.hidden[0]


__all__ = ["FlowDiagram", "FlowView"]


def _all_cells(cells: Any) -> Iterator[Mapping[str, Any]]:
    """Every cell of a document's cell list, nested ones (branches, loops, routes) too."""
    for cell in cells or []:
        if not isinstance(cell, Mapping):
            continue
        yield cell
        for branch in cell.get("branches") or []:
            if isinstance(branch, Mapping):
                yield from _all_cells(branch.get("cells"))
        yield from _all_cells(cell.get("cells"))
        on_error = cell.get("on_error")
        if isinstance(on_error, Mapping):
            yield from _all_cells(on_error.get("cells"))
