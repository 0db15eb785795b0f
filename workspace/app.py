"""The Panel workspace, mounted into the FastAPI server at ``/``.

One Panel page hosts every view; the URL's query (``?page=scenario&id=…``) says which
one, so views can be bookmarked and reloaded. Browsers without a session are sent to
``/login`` (see :mod:`workspace.sessions`) before Panel starts a session for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextvars import ContextVar
from html import escape
from typing import Any

import panel as pn
import param
from starlette.requests import HTTPConnection

from storage import audit_origin
from storage.audit_chain import current_origin
from workspace.sessions import COOKIE
from workspace.views.components import Disclosure, NavMenu
from workspace.views.widgets import Banner, attempt, html

log = logging.getLogger("cellwright.workspace")

#: (page key, label in the navigation)
NAV: list[tuple[str, str]] = [
    ("scenarios", "Scenarios"),
    ("executions", "Executions"),
    ("connections", "Connections"),
    ("datastores", "Data stores"),
    ("directory", "App directory"),
    ("templates", "Templates"),
    ("assistant", "Assistant"),
    ("analytics", "Analytics"),
    ("audit", "Audit trail"),
    ("settings", "Settings"),
]
#: detail pages and the navigation entry they belong to
PARENT = {"scenario": "scenarios", "execution": "executions", "app": "directory"}

SHELL_CSS = """
.cw-header { display: flex; align-items: center; gap: 16px; width: 100%; }
.cw-header .brand { font-size: 20px; font-weight: 700; color: #ffffff; margin: 0; }
.cw-header .who { margin-left: auto; color: #ffffff; font-size: 14px; }
.cw-header form { margin: 0; }
.cw-header button { background: #ffffff; color: #1e3a8a; border: 1px solid #ffffff; \
border-radius: 6px; padding: 6px 12px; font-weight: 600; cursor: pointer; }
.cw-header button:focus { outline: 3px solid #fbbf24; outline-offset: 2px; }
.cw-header .sign-out-form { margin-left: auto; }
.cw-header .who + .sign-out-form { margin-left: 0; }
@media (max-width: 767px) { .cw-header .who { display: none; } }
"""

GLOBAL_CSS = """
body { background: #f9fafb; color: #111827; \
font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 24px; margin: 8px 0; }
"""

#: below this width the menu collapses behind the Menu button and pages stack
NARROW = "(max-width: 767px)"
# Bokeh gives stretching layouts a min-width: the sum of their fixed-width children,
# the hidden menu's 190 px included. On a narrow screen that pushed pages sideways;
# the shell's layouts may shrink to the window instead (their children wrap).
FIT = f"@media {NARROW} {{ :host {{ min-width: 0 !important; max-width: 100vw; }} }}"

# The Menu button: only on narrow screens, white on the header's blue.
MENU_TOGGLE_CSS = f"""
:host {{ display: none !important; }}
@media {NARROW} {{ :host {{ display: block !important; width: 96px !important; }} }}
button.cw-disclosure {{ color: #1e3a8a; background: #ffffff; border: 1px solid #ffffff; \
border-radius: 6px; padding: 6px 12px; font-weight: 600; }}
button.cw-disclosure:hover {{ background: #e5e7eb; }}
button.cw-disclosure:focus-visible {{ outline: 3px solid #fbbf24; outline-offset: 2px; }}
"""

# The navigation: a column beside the page, its border as tall as the page (stretched
# to the row: with a min-height only, the border stopped halfway down long pages). On
# narrow screens hidden until the Menu button opens it above the page, full width.
NAV_CSS = f"""
:host {{ border-right: 1px solid #d1d5db; min-height: calc(100vh - 52px); \
align-self: stretch !important; height: auto !important; }}
@media {NARROW} {{
  :host {{ display: none !important; }}
  /* flex: none — in the stacked body Bokeh's "flex: 0 0 190px" (its width) would become its \
height */
  :host(.cw-open) {{ display: flex !important; flex: none !important; width: 100% !important; \
min-height: 0;
    border-right: 0; border-bottom: 1px solid #d1d5db; }}
}}
"""

# Sidebar and page side by side; stacked on narrow screens. (No min-height on the page:
# its sections have Bokeh's max-height: 100%, which a definite page height would cap.)
BODY_CSS = f"""
@media {NARROW} {{ :host {{ flex-direction: column !important; }} }}
{FIT}
"""
PAGE_CSS = f"""
:host {{ min-width: 0; }}
/* stacked: Bokeh's "flex: 1 1 0" (a share of the row's width) would become a zero height */
@media {NARROW} {{ :host {{ flex: none !important; height: auto !important; }} }}
{FIT}
"""


def _views() -> dict[str, Callable[..., Any]]:
    """Page key → factory(svc, user, nav, ref, **args). Imported lazily: only what is opened."""

    def scenarios(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.scenarios import ScenarioList

        return ScenarioList(svc, user, nav)

    def scenario(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.notebook import Notebook

        return Notebook(svc, user, ref, nav)

    def executions(svc: Any, user: Any, nav: Any, ref: str, **args: Any) -> Any:
        from workspace.views.executions import ExecutionList

        return ExecutionList(svc, user, nav, scenario_id=args.get("scenario") or ref or None)

    def execution(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.executions import ExecutionPage

        return ExecutionPage(svc, user, ref, nav)

    def directory(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.directory import Directory

        return Directory(svc, user, nav)

    def app(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.directory import AppPage

        return AppPage(svc, user, ref, nav)

    def connections(svc: Any, user: Any, nav: Any, ref: str, **args: Any) -> Any:
        from workspace.views.connections import Connections

        return Connections(
            svc, user, nav, app_key=args.get("app"), focus=ref or None, csrf=args.get("csrf", "")
        )

    def datastores(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.datastores import DataStoresPage

        return DataStoresPage(svc, user, nav)

    def templates(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.templates import Gallery

        return Gallery(svc, user, nav, selected=ref or None)

    def assistant(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.assistant import AssistantPage

        return AssistantPage(svc, user, nav)

    def analytics(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.analytics import Dashboard

        return Dashboard(svc, user)

    def audit(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.audit import AuditPage

        return AuditPage(svc, user, nav)

    def settings(svc: Any, user: Any, nav: Any, ref: str, **_: Any) -> Any:
        from workspace.views.settings import SettingsPage

        return SettingsPage(svc, user, nav)

    return locals()


VIEWS = _views()


class Shell(pn.viewable.Viewer):
    """Header, navigation, and the current page."""

    page = param.String(default="scenarios")
    ref = param.String(default="")

    def __init__(self, svc: Any, user: Any, csrf: str, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.csrf = csrf
        self.banner = Banner()
        self.view: Any = None
        self._args: dict[str, Any] = {}
        self._pending: tuple[str, str, dict[str, Any]] | None = None
        header = html(
            '<header class="cw-header" role="banner"><p class="brand">Cellwright</p>'
            f'<span class="who">Signed in as {escape(user.email)}</span>'
            '<form method="post" action="/logout" class="sign-out-form">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit" class="sign-out">Sign out</button></form></header>',
            stylesheets=[SHELL_CSS],
            margin=0,
            css_classes=["cw-top"],
        )
        self.menu_toggle = Disclosure(
            label="Menu",
            css_classes=["menu-toggle"],
            stylesheets=[MENU_TOGGLE_CSS],
            align="center",
            margin=0,
            sizing_mode="fixed",
            width=96,
            height=34,
        )
        self.menu_toggle.param.watch(lambda e: self._show_menu(e.new), "expanded")
        self.nav = NavMenu(self.go, items=[list(item) for item in NAV])
        self.confirm = pn.Row(
            pn.Spacer(width=0, height=0), visible=False, sizing_mode="stretch_width"
        )  # never empty: see widgets.placeholder
        self.main = pn.Column(
            sizing_mode="stretch_width", css_classes=["cw-main"], margin=(0, 16), stylesheets=[FIT]
        )
        self.sidebar = pn.Column(
            self.nav,
            width=190,
            css_classes=["cw-nav"],
            styles={"background": "#ffffff"},
            stylesheets=[NAV_CSS],
            margin=0,
        )
        page = pn.Column(
            self.banner,
            self.confirm,
            self.main,
            sizing_mode="stretch_width",
            margin=0,
            styles={"padding-top": "8px"},
            stylesheets=[PAGE_CSS],
            css_classes=["cw-page"],
        )
        self._layout = pn.Column(
            pn.Row(
                self.menu_toggle,
                header,
                sizing_mode="stretch_width",
                margin=0,
                styles={"background": "#1e3a8a", "padding": "10px 16px", "gap": "12px"},
                stylesheets=[FIT],
            ),
            pn.Row(
                self.sidebar, page, sizing_mode="stretch_width", margin=0, stylesheets=[BODY_CSS]
            ),
            sizing_mode="stretch_width",
            margin=0,
            stylesheets=[GLOBAL_CSS, FIT],
        )
        self.param.watch(lambda *_: self.render(), ["page", "ref"])

    # -- navigation -------------------------------------------------------------------------

    def go(self, page: str, ref: str | None = None, **args: Any) -> None:
        """Open a page; asks first when the current one has unsaved changes."""
        ref = ref or ""
        if getattr(self.view, "dirty", False):
            self._pending = (page, ref, args)
            self._ask_to_leave()
            return
        self._navigate(page, ref, args)

    def _show_menu(self, open_: bool) -> None:
        """Open or close the menu on narrow screens (wide ones always show it)."""
        classes = [c for c in self.sidebar.css_classes if c != "cw-open"]
        self.sidebar.css_classes = [*classes, "cw-open"] if open_ else classes

    def _navigate(self, page: str, ref: str, args: dict[str, Any]) -> None:
        self.menu_toggle.expanded = False  # a chosen page replaces the open menu
        self._args = args
        self.confirm.visible = False
        if (page, ref) == (self.page, self.ref):
            self.render()
        else:
            self.param.update(page=page, ref=ref)

    def _ask_to_leave(self) -> None:
        save = pn.widgets.Button(
            name="Save and continue", button_type="primary", css_classes=["leave-save"]
        )
        discard = pn.widgets.Button(
            name="Discard changes", button_type="danger", css_classes=["leave-discard"]
        )
        stay = pn.widgets.Button(name="Stay here", button_type="light", css_classes=["leave-stay"])

        async def do_save(_: Any) -> None:
            if await self.view.save_and_leave():
                self._leave()

        save.on_click(do_save)
        discard.on_click(lambda e: self._leave())
        stay.on_click(lambda e: (setattr(self.confirm, "visible", False), self.banner.clear()))
        self.banner.show("This scenario has unsaved changes. Save them before leaving?", "warn")
        self.confirm[:] = [save, discard, stay]
        self.confirm.visible = True

    def _leave(self) -> None:
        self.banner.clear()
        if self._pending is not None:
            page, ref, args = self._pending
            self._pending = None
            self.view = None
            self._navigate(page, ref, args)

    def render(self) -> None:
        dispose = getattr(self.view, "dispose", None)
        if dispose is not None:
            dispose()
        page = self.page if self.page in VIEWS else "scenarios"
        active = PARENT.get(page, page)
        self.nav.active = active
        try:
            self.view = VIEWS[page](
                self.svc, self.user, self.go, self.ref, **{"csrf": self.csrf, **self._args}
            )
        except Exception as exc:  # a missing object, a bad link: say so, never a traceback
            self.view = None
            err = Banner()
            err.error(exc)
            back = pn.widgets.Button(name="Back to scenarios", button_type="primary")
            back.on_click(lambda e: self.go("scenarios"))
            self.main[:] = [err, back]
            return
        self.banner.clear()
        self.main[:] = [self.view]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


_browser: ContextVar[tuple[Any, Any] | None] = ContextVar("cellwright_browser", default=None)
"""(user, session) of the request opening a Panel session: its page GET or its WebSocket."""

#: the Panel routes whose requests may open a Bokeh session (the page, its WebSocket)
PANEL_PATHS = ("/", "/ws")


class BrowserSession:
    """Reads the session cookie of the requests that open a Panel session, so the page
    knows its user while the cookie stays out of Bokeh's session token.

    Bokeh copies request cookies and headers into the token it writes into the page, where
    any script can read them: ``cw_session`` is ``HttpOnly`` so that scripts cannot.
    ``mount_workspace`` keeps cookies out of the token; the user is found here instead and
    handed to the page function through a context variable (it runs within this request).
    """

    def __init__(self, app: Any, svc: Any, sessions: Any) -> None:
        self.app = app
        self.svc = svc
        self.sessions = sessions

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") not in PANEL_PATHS:
            await self.app(scope, receive, send)
            return
        cookie = HTTPConnection(scope).cookies.get(COOKIE)
        found = (
            await asyncio.to_thread(self.sessions.user, self.svc.accounts, cookie)
            if cookie
            else None
        )
        token = _browser.set(found)
        origin = current_origin()
        try:
            # what the page's callbacks change is audited as done by its user (the
            # WebSocket's callbacks run within this call)
            with audit_origin("workspace", ip=origin.ip, actor_id=found[0].id if found else None):
                await self.app(scope, receive, send)
        finally:
            _browser.reset(token)


def signed_in(svc: Any) -> tuple[Any, Any] | None:
    """The (user, session) of the browser that opened this Panel session, or None."""
    return _browser.get()


def workspace_page(svc: Any) -> pn.viewable.Viewable:
    found = signed_in(svc)
    if found is None:
        return pn.pane.HTML(
            '<main><h1>Your session has ended</h1><p><a href="/login">Sign in again</a>.</p></main>'
        )
    user, session = found
    shell = Shell(svc, user, session.csrf)
    if pn.state.location is not None:
        pn.state.location.sync(shell, {"page": "page", "ref": "id"})
    shell.render()
    return shell


def _warm_up() -> None:
    """Import the heavy page modules (HoloViews, hvplot) in the background at start, so the
    first visitor of Analytics does not wait for them."""
    import threading

    def run() -> None:
        try:
            from workspace.views import analytics, notebook  # noqa: F401

            analytics.warm_up()
        except Exception:  # only a head start: the page imports them anyway
            log.debug("warm-up import failed", exc_info=True)

    threading.Thread(target=run, name="cellwright-warm-up", daemon=True).start()


def mount_workspace(app: Any, svc: Any) -> None:
    """Add sign-in routes and the Panel workspace to the FastAPI app."""
    from panel.io.fastapi import add_applications

    from workspace import sessions

    svc._workspace_sessions = sessions.add_routes(app, svc)
    info = sessions.ensure_admin(svc)
    if info:
        print(info, flush=True)  # noqa: T201 - the operator needs it once, on the console
    pn.extension(notifications=False, design="bootstrap")
    _warm_up()

    def page() -> pn.viewable.Viewable:
        return workspace_page(svc)

    # no cookie (nor the Cookie header) in the session token the page carries: see BrowserSession
    add_applications(
        {"/": page}, app=app, title="Cellwright", include_cookies=[], exclude_headers=["Cookie"]
    )
    app.add_middleware(BrowserSession, svc=svc, sessions=svc._workspace_sessions)


__all__ = ["attempt", "mount_workspace", "workspace_page"]
