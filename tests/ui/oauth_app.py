"""The "loopback" test app, for a ``cellwright serve`` subprocess to load as an extra app
(``CELLWRIGHT_EXTRA_APPS=tests.ui.oauth_app:apps``), pointed at the Authlib test
provider whose base URL is in ``LOOPBACK_PROVIDER_URL`` (tests/ui/test_oauth_browser.py)."""

from __future__ import annotations

import os

from connectors.sdk import App, ConfigurationError
from tests.oauth_helpers import PROVIDER_URL_ENV, make_apps


def _apps() -> list[App]:
    base_url = os.environ.get(PROVIDER_URL_ENV)
    if not base_url:
        raise ConfigurationError(
            f"Set {PROVIDER_URL_ENV} to the test OAuth provider's base URL (http://127.0.0.1:<port>)."
        )
    loopback, _machine = make_apps(base_url)
    return [loopback]


apps = _apps()
