"""WordPress (self-hosted, core REST API ``wp/v2``): posts, pages, media, terms, comments.

Auth is an application password (HTTP basic over HTTPS); the connection's test call
discovers the site's API root (``/wp-json/`` or ``/?rest_route=/``) and returns it
for the connection's metadata. Triggers poll: WordPress core has no webhooks.
"""

from __future__ import annotations

from connectors.sdk import App
from connectors.wordpress.actions import ACTIONS
from connectors.wordpress.api import parse_error
from connectors.wordpress.auth import SANDBOX_CREDENTIALS, auth, site_base
from connectors.wordpress.options import OPTIONS
from connectors.wordpress.triggers import TRIGGERS

app = App(
    key="wordpress",
    name="WordPress",
    description="Publish posts and pages, upload media, manage categories, tags and comments on a "
    "self-hosted WordPress site; react to new posts, edits, comments and uploads.",
    category="Content & CMS",
    icon="wordpress",
    auth=auth,
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    base_url=site_base,
    # no declared limits: WordPress core has none; hosts and WAFs may answer 429/503, which
    # park the run like any vendor's 429. ../shared/specs/VENDORS.md "WordPress"
    error_parser=parse_error,
    docs_url="https://developer.wordpress.org/rest-api/",
    sandbox="connectors.wordpress.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

__all__ = ["app"]
