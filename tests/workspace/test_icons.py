"""Logos and the favicon, served from the package (never a CDN)."""

from __future__ import annotations

from typing import Any

import httpx


async def test_each_app_logo_is_served_as_svg(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    slack = await anon.get("/static/icons/apps/slack.svg")
    assert slack.status_code == 200 and slack.headers["content-type"].startswith("image/svg+xml")
    assert (
        slack.text.startswith("<svg") and "#e01e5a" in slack.text.lower()
    )  # SVG Logos' Slack, in colour
    assert (
        "script-src" not in slack.headers["content-security-policy"]
        and "default-src 'none'" in slack.headers["content-security-policy"]
    )
    hubspot = await anon.get(
        "/static/icons/apps/hubspot.svg"
    )  # a planned app: the templates name it
    assert hubspot.status_code == 200 and "#FF7A59" in hubspot.text
    unknown = await anon.get(
        "/static/icons/apps/nobody.svg"
    )  # never a broken image: the neutral plug
    plug = await anon.get("/static/icons/plug.svg")
    assert unknown.status_code == 200 and unknown.text == plug.text
    assert (await anon.get("/static/icons/router.svg")).status_code == 200
    assert (await anon.get("/static/icons/..%2Fsdk%2Fapp.svg")).status_code == 404
    apps = (await client.get("/api/v1/apps")).json()
    by_key = {a["key"]: a for a in apps}
    assert (
        by_key["stripe"]["icon"] == "stripe"
        and by_key["stripe"]["icon_url"] == "/static/icons/apps/stripe.svg"
    )


async def test_an_installed_app_brings_its_own_svg(svc: Any) -> None:
    from dataclasses import replace

    from workspace.icons import app_icon

    own = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" '
        'height="1"/></svg>'
    )

    class Apps(dict[str, Any]):
        def get(self, key: str) -> Any:  # type: ignore[override]
            return self[key]

    apps = Apps(acme=replace(svc.apps.get("formatter"), key="acme", icon=own))
    assert app_icon(apps, "acme") == own


async def test_favicon(anon: httpx.AsyncClient) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        icon = await anon.get(path)
        assert (
            icon.status_code == 200
            and icon.headers["content-type"].startswith("image/svg+xml")
            and "<svg" in icon.text
        )


def _html(viewable: Any) -> str:
    """Every HTML pane's text inside a Panel layout."""
    import panel as pn

    return " ".join(str(p.object) for p in viewable.select(pn.pane.HTML))


def test_directory_app_page_and_templates_show_logos(svc: Any, user: Any) -> None:
    from workspace.views.directory import AppPage, Directory
    from workspace.views.templates import Gallery

    listing = _html(Directory(svc, user, nav=lambda *a, **k: None).__panel__())
    assert (
        '<img class="cw-logo" src="/static/icons/apps/slack.svg" alt=""' in listing
    )  # the app's name is beside it
    assert '<img class="cw-logo" src="/static/icons/apps/stripe.svg"' in listing
    page = _html(AppPage(svc, user, "monday", nav=lambda *a, **k: None).__panel__())
    assert 'src="/static/icons/apps/monday.svg"' in page
    cards = _html(Gallery(svc, user, nav=lambda *a, **k: None).__panel__())
    assert (
        'src="/static/icons/apps/hubspot.svg" alt="" width="20" height="20" '
        'style="vertical-align:-4px;object-fit:contain"> HubSpot' in cards
    )
