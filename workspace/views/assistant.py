"""The assistant page: describe a scenario in plain language, get a draft to open.

``AssistantState`` holds the conversation's outcome and calls ``assistant.draft``; it
has no Panel in it and is tested headlessly. ``AssistantPage`` renders it. When the
assistant is not set up (the extra is missing, no model configured) the page says what
the operator must install or set, and nothing else in the workspace changes.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from workspace.views.widgets import Banner, attempt, html

PRE_CSS = """
pre.draft-yaml { background: #f3f4f6; color: #111827; border: 1px solid #d1d5db; border-radius: 6px;
  padding: 8px; max-height: 480px; overflow: auto; font-size: 13px; white-space: pre; }
pre.draft-yaml:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; }
"""


class AssistantState(param.Parameterized):
    """The request, and the last draft: its YAML, problems and the model's notes."""

    request = param.String(default="", doc="What the user wants, in plain language.")
    yaml_text = param.String(default="")
    problems = param.List(default=[], item_type=str)
    notes = param.String(default="")
    busy = param.Boolean(default=False)

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.document: Any = None

    @property
    def unavailable(self) -> str | None:
        """What the operator must set before the assistant works; None when it is ready."""
        from assistant import unavailable_reason

        return unavailable_reason(self.svc.settings)

    @property
    def can_create(self) -> bool:
        return self.document is not None and not self.busy

    async def make_draft(self) -> Any:
        """Ask the model for a draft of ``request``; errors propagate (the page shows them)."""
        from assistant import draft

        self.busy = True
        try:
            result = await draft(self.request, registry=self.svc.apps, settings=self.svc.settings)
        finally:
            self.busy = False
        self.document = result.document
        self.param.update(
            yaml_text=result.yaml_text, problems=list(result.problems), notes=result.notes
        )
        return result

    def create(self) -> Any:
        """Store the draft as a new scenario (a draft version; connections still to pick)."""
        if self.document is None:
            from connectors.sdk import InvalidInputError

            raise InvalidInputError("There is no valid draft to create yet: draft one first.")
        return self.svc.import_scenario(self.user.id, self.document)


class AssistantPage(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.nav = nav
        self.state = AssistantState(svc, user)
        self.banner = Banner()
        intro = html(
            "<h1>Assistant</h1>"
            "<p>Describe what should happen, in plain language; the assistant drafts a scenario "
            "from the apps Cellwright has. Review it, create it, then pick its connections in "
            "the notebook.</p>"
        )
        reason = self.state.unavailable
        if reason is not None:
            self._layout = pn.Column(
                intro,
                html(
                    f'<div class="cw-banner warn" role="status">{escape(reason)}</div>',
                    css_classes=["assistant-unavailable"],
                ),
                sizing_mode="stretch_width",
            )
            return
        self.request = pn.widgets.TextAreaInput(
            name="Describe the scenario you want",
            rows=5,
            max_length=4000,
            sizing_mode="stretch_width",
            placeholder="e.g. When a Stripe payment succeeds, post the amount and the customer's "
            "e-mail to #sales on Slack.",
            css_classes=["assistant-request"],
        )
        self.draft_button = pn.widgets.Button(
            name="Draft scenario", button_type="primary", css_classes=["assistant-draft"]
        )
        self.create_button = pn.widgets.Button(
            name="Create draft scenario",
            button_type="success",
            disabled=True,
            css_classes=["assistant-create"],
        )
        self.progress = html("", css_classes=["assistant-progress"])
        self.result = html("", css_classes=["assistant-result"], stylesheets=[PRE_CSS])
        self.draft_button.on_click(self.on_draft)
        self.create_button.on_click(self.on_create)
        privacy = html(
            '<p class="cw-muted">Your description and the list of apps go to the configured '
            "model provider; no connections, credentials or run data are sent.</p>"
        )
        self._layout = pn.Column(
            intro,
            self.banner,
            self.request,
            privacy,
            pn.Row(self.draft_button, self.create_button),
            self.progress,
            self.result,
            sizing_mode="stretch_width",
        )

    async def on_draft(self, _: Any = None) -> None:
        self.state.request = self.request.value_input or self.request.value or ""
        self.draft_button.disabled = self.create_button.disabled = True
        self.draft_button.name = "Drafting…"
        self.progress.object = '<p role="status">Drafting the scenario; this can take a minute…</p>'
        try:
            await attempt(self.banner, self.state.make_draft)
        finally:
            self.draft_button.name = "Draft scenario"
            self.draft_button.disabled = False
            self.progress.object = ""
            self.create_button.disabled = not self.state.can_create
            self.render_result()

    def render_result(self) -> None:
        state = self.state
        if not state.yaml_text and not state.problems:
            self.result.object = ""
            return
        parts = []
        if state.problems:
            items = "".join(f"<li>{escape(p)}</li>" for p in state.problems)
            parts.append(
                f'<div class="cw-banner warn" role="status">The draft still has problems; '
                f"describe the scenario differently, or create it by hand:<ul>{items}</ul></div>"
            )
        if state.notes:
            parts.append(f'<p class="assistant-notes">{escape(state.notes)}</p>')
        if state.yaml_text:
            parts.append(
                '<h2 style="font-size:18px">Draft</h2>'
                '<pre class="draft-yaml" tabindex="0" aria-label="Drafted scenario (YAML)">'
                f"<code>{escape(state.yaml_text)}</code></pre>"
            )
        self.result.object = "".join(parts)

    async def on_create(self, _: Any = None) -> None:
        scenario = await attempt(self.banner, self.state.create)
        if scenario is not None:
            self.nav("scenario", scenario.id)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
