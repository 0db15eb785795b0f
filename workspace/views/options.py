"""The dropdown beside an ID field: choices fetched through the connection.

:class:`OptionsPicker` sits under a field's own text input (which keeps taking free text
and ``{{ }}`` references): once loaded it is a labelled select of the app's real values
(label and ID); picking one hands the value to ``on_pick``. A fetch that fails leaves a
short message under the field and never blocks typing. The form (``SchemaForm``) and
the template dialog both use it; neither knows where the choices come from (``load``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from html import escape
from typing import Any

import panel as pn

from connectors.sdk import CellwrightError, Option

log = logging.getLogger("cellwright.workspace")

Load = Callable[[], Awaitable[Sequence[Option]]]

NONE = ""
"""The select's "nothing picked" value (options are never empty strings)."""

NOTE_CSS = ".cw-options-note { color: #374151; font-size: 13px; margin: -2px 0 6px 2px; }"


def failure_text(exc: BaseException) -> str:
    """A short sentence for a failed fetch (our errors carry one; others are logged)."""
    if isinstance(exc, CellwrightError):
        return exc.message
    log.exception("listing the choices of a field failed", exc_info=exc)
    return "The list of choices could not be loaded; type the value instead."


def choice_labels(options: Sequence[Option]) -> dict[str, Any]:
    """Select options (label → value); a label shown twice gets its value added."""
    seen = [o.label for o in options]
    return {
        (o.label if seen.count(o.label) == 1 else f"{o.label} ({o.value})"): o.value
        for o in options
    }


class OptionsPicker(pn.viewable.Viewer):
    """A select of fetched choices for one field, plus a note saying how loading went."""

    def __init__(
        self,
        label: str,
        on_pick: Callable[[Any], None],
        *,
        load: Load | None = None,
        current: Callable[[], Any] | None = None,
        css: str = "",
        width: int | None = None,
        **params: Any,
    ) -> None:
        """``current()`` reads the field's value, shown as picked once the choices arrive."""
        super().__init__(**params)
        self.current = current
        size: dict[str, Any] = {"width": width} if width else {"sizing_mode": "stretch_width"}
        self.on_pick = on_pick
        self.load = load
        self.options: list[Option] = []
        self.message = ""
        """The note under the field ("" when there is none)."""
        self.select = pn.widgets.Select(
            name=f"{label}: choose from the list",
            options={"(not loaded)": NONE},
            value=NONE,
            visible=False,
            css_classes=["cw-options", *([css] if css else [])],
            **size,
        )
        self.note = pn.pane.HTML(
            "",
            visible=False,
            margin=(0, 10),
            stylesheets=[NOTE_CSS],
            sizing_mode="stretch_width",
            css_classes=["cw-options-note-host", *([f"{css}-note"] if css else [])],
        )
        self._quiet = False  # set while the select is changed by code, not by the user
        self.select.param.watch(self._picked, "value")
        self._layout = pn.Column(self.select, self.note, sizing_mode="stretch_width", margin=0)

    def _say(self, text: str) -> None:
        self.message = text
        self.note.object = (
            f'<div class="cw-options-note" role="status">{escape(text)}</div>' if text else ""
        )
        self.note.visible = bool(text)

    def _picked(self, event: Any) -> None:
        if not self._quiet and event.new not in (NONE, None):
            self.on_pick(event.new)

    async def refresh(self) -> None:
        """Fetch the choices again (after the connection or a field they depend on changed)."""
        if self.load is None:
            return
        self._say("Loading the choices…")
        try:
            options = list(await self.load())
        except Exception as exc:  # every failure becomes a note; the text input still works
            self.options = []
            self.select.visible = False
            self._say(failure_text(exc))
            return
        self.options = options
        if not options:
            self.select.visible = False
            self._say("Nothing to choose from here yet; type the value.")
            return
        picked = self._match(self.current() if self.current is not None else None)
        self._quiet = True
        try:
            self.select.param.update(
                options={f"(choose one of {len(options)})": NONE, **choice_labels(options)},
                visible=True,
            )
            self.select.value = (
                picked  # once the choices hold it (Panel resets a value it cannot find)
            )
        finally:
            self._quiet = False
        self._say("")

    def reflect(self, value: Any) -> None:
        """Show ``value`` as picked when it is one of the choices (typed or loaded), else
        nothing."""
        self._quiet = True
        try:
            self.select.value = self._match(value)
        finally:
            self._quiet = False

    def _match(self, value: Any) -> Any:
        # a typed 7 is the text "7": compare as text, select the option's own value
        return next(
            (o.value for o in self.options if value is not None and str(o.value) == str(value)),
            NONE,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["OptionsPicker", "choice_labels", "failure_text"]
