"""Application Passwords (HTTP basic over HTTPS), API root discovery, the test call.

WordPress (≥ 5.6) lets each user create application passwords under Users → Profile;
a client sends ``username:application password`` as HTTP basic auth. The password
travels in every request, so plain ``http://`` sites are refused unless the user
says the site is a local development install (``allow_insecure_http``) — WordPress
itself only offers application passwords without HTTPS when the environment type is
``local``. The Cellwright sandbox host (``sandbox.invalid``, a reserved name that never
resolves on the Internet) is the one exception that needs no flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.sdk import BasicAuth, ConfigurationError, OperationContext, UpstreamError
from connectors.sdk.sandboxing import SANDBOX_BASE
from connectors.wordpress.api import API_LINK_REL, DEFAULT_API_ROOT, endpoint

SANDBOX_HOST = httpx.URL(SANDBOX_BASE).host
SANDBOX_CREDENTIALS = {
    "site_url": SANDBOX_BASE,
    "username": "admin",
    # the sandbox's published demo password
    "application_password": "abcd EFGH 1234 ijkl MNOP 6789",
}
FALLBACK_ROOTS = (DEFAULT_API_ROOT, "?rest_route=/")
"""Tried in order when the site does not advertise its root: ``?rest_route=`` works
on every WordPress, pretty permalinks or not."""


class WordPressCredentials(BaseModel):
    """The connection form."""

    model_config = ConfigDict(extra="forbid")
    site_url: str = Field(
        description="Your site's address, e.g. https://example.com (or https://example.com/blog "
        "when WordPress lives in a folder). The REST API root is discovered from it.",
        examples=["https://example.com"],
    )
    username: str = Field(
        description="The WordPress user name (or e-mail) the application password belongs to."
    )
    application_password: SecretStr = Field(
        description="An application password from Users → Profile → Application Passwords "
        "(not your login password). Spaces are fine."
    )
    allow_insecure_http: bool = Field(
        False,
        description="Allow a plain http:// site address. Only for a local development site: over "
        "http the password travels unencrypted.",
    )

    @model_validator(mode="after")
    def _check_site(self) -> WordPressCredentials:
        self.site_url = normalize_site_url(self.site_url, allow_insecure=self.allow_insecure_http)
        return self


def normalize_site_url(value: str, *, allow_insecure: bool = False) -> str:
    """``example.com/wp-admin/`` → ``https://example.com/``; refuses insecure or odd URLs."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    url = httpx.URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"'{value}' is not a web address; enter the site's address, e.g. https://example.com"
        )
    if url.scheme == "http" and not allow_insecure and url.host != SANDBOX_HOST:
        raise ValueError(
            f"{value} uses plain http://: the application password would travel unencrypted. "
            "Use the site's https:// address, or tick 'allow insecure http' for a local "
            "development site."
        )
    # People paste the API root or an admin page; keep the site part.
    path = re.sub(r"/(wp-json|wp-admin|wp-login\.php|index\.php)(/.*)?$", "", url.path).rstrip("/")
    return str(url.copy_with(path=path + "/", query=None, fragment=None))


def site_base(credentials: Mapping[str, Any]) -> str:
    """``App.base_url``: the normalized site address (operations add the API root)."""
    try:
        return normalize_site_url(
            str(credentials.get("site_url") or ""),
            allow_insecure=bool(credentials.get("allow_insecure_http")),
        )
    except ValueError as exc:
        raise ConfigurationError(f"WordPress connection: {exc}") from None


def relative_root(base: str, advertised: str) -> str:
    """The advertised API root, relative to the client's base URL when it lives under it.

    Relative roots keep working when the same site is reached through another base
    (the sandbox mounted under a prefix). A root on another host is accepted only for
    the ``www.`` twin of the site's host, since the password is sent to it.
    """
    base = base if base.endswith("/") else base + "/"
    if advertised.startswith(base):
        return advertised[len(base) :]
    site, root = httpx.URL(base), httpx.URL(advertised)
    same_site = root.host.removeprefix("www.") == site.host.removeprefix("www.")
    if not same_site or (root.scheme != "https" and site.scheme == "https"):
        raise ConfigurationError(
            f"{base} says its REST API is at {advertised}, on another site; "
            "enter that site's address in the connection instead."
        )
    return advertised


async def advertised_root(ctx: OperationContext) -> str | None:
    """The root from the ``Link: <…>; rel="https://api.w.org/"`` header of the home page."""
    for method in ("HEAD", "GET"):  # some hosts refuse HEAD
        try:
            response = await ctx.http.request(method, "")
        except UpstreamError:
            continue
        link = response.links.get(API_LINK_REL)
        if link and link.get("url"):
            return relative_root(str(ctx.http.client.base_url), link["url"])
    return None


async def test_connection(ctx: OperationContext) -> dict[str, Any]:
    """Discover the API root and call ``GET wp/v2/users/me?context=edit``.

    Returns the label and what the connection should keep in its metadata:
    ``api_root`` (the root operations use), ``user_id``, ``username``, ``roles``.
    """
    site = site_base(ctx.credentials)
    found = await advertised_root(ctx)
    last: UpstreamError | None = None
    for root in (found,) if found else FALLBACK_ROOTS:
        try:
            me = await ctx.http.get(endpoint(root, "wp/v2/users/me", {"context": "edit"}))
        except UpstreamError as exc:
            if exc.details.get("wp_code"):
                raise  # WordPress itself answered: its message says what is wrong
            last = exc
            continue
        if isinstance(me, dict) and "id" in me:
            where = httpx.URL(site)
            return {
                "label": (
                    f"{me.get('name') or me.get('username')} "
                    f"on {where.host}{where.path.rstrip('/')}"
                ),
                "api_root": root,
                "user_id": me["id"],
                "username": me.get("username"),
                "roles": me.get("roles", []),
            }
    raise UpstreamError(
        f"No WordPress REST API answered at {site}"
        + (f" ({last.message})" if last else "")
        + ". Check the address; a security plugin may also have disabled the REST API.",
        status=last.status if last else None,
    )


auth = BasicAuth(
    fields=WordPressCredentials,
    username_field="username",
    password_field="application_password",  # noqa: S106 - a field name, not a password
    test=test_connection,
)
