"""The apps Cellwright ships, as an explicit list (STYLE.md item 4)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from connectors import (
    ai,
    code,
    data_store,
    delay,
    formatter,
    google_workspace,
    http,
    hubspot,
    mailchimp,
    manual,
    monday,
    scenario,
    schedule,
    shopify,
    slack,
    smtp,
    stripe,
    webhook,
    wordpress,
)
from connectors.sdk import App, ConfigurationError


class Registry:
    """Look apps up by key."""

    def __init__(self, apps: Iterable[App]) -> None:
        self._apps: dict[str, App] = {}
        for app in apps:
            if app.key in self._apps:
                raise ValueError(f"Two apps use the key '{app.key}'.")
            self._apps[app.key] = app

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._apps.values())

    def __len__(self) -> int:
        return len(self._apps)

    def __contains__(self, key: object) -> bool:
        return key in self._apps

    def get(self, key: str) -> App:
        try:
            return self._apps[key]
        except KeyError:
            raise ConfigurationError(
                f"There is no app '{key}'. Known apps: {', '.join(sorted(self._apps))}."
            ) from None

    def keys(self) -> list[str]:
        return list(self._apps)


BUILTIN_APPS: tuple[App, ...] = (
    webhook.app,
    schedule.app,
    manual.app,
    scenario.app,
    http.app,
    formatter.app,
    delay.app,
    smtp.app,
    data_store.app,
    ai.app,
    code.app,
)

APPS: tuple[App, ...] = (
    *BUILTIN_APPS,
    monday.app,
    wordpress.app,
    slack.app,
    stripe.app,
    hubspot.app,
    shopify.app,
    google_workspace.app,
    mailchimp.app,
)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    return Registry(APPS)
