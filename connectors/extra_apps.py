"""Apps installed beside the shipped ones, without changing Cellwright.

Two sources, read when the service starts:

- the setting ``extra_apps`` (env ``CELLWRIGHT_EXTRA_APPS=acme_apps:app,acme_apps.crm:apps``):
  ``module:attribute`` entries, each naming an ``App`` or a list/tuple of Apps;
- entry points of installed packages in the group ``cellwright.apps``
  (``[project.entry-points."cellwright.apps"] acme = "acme_apps:app"``).

Each app must pass the same checks as the shipped ones (``connectors.sdk.conformance``)
and use a key of its own. Every problem is a ``ConfigurationError`` naming the entry
and what to do, so the server refuses to start instead of half-loading an app.
The shipped catalog (``default_registry()``, ``cellwright apps``, docs/apps.md) never
includes these.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from connectors.registry import APPS, Registry, default_registry
from connectors.sdk import App, ConfigurationError
from connectors.sdk.conformance import app_problems

ENTRY_POINT_GROUP = "cellwright.apps"
SETTING = "CELLWRIGHT_EXTRA_APPS"


@dataclass(frozen=True)
class Source:
    """Where an extra app was named: an entry of the setting, or an installed entry point."""

    value: str
    """``module:attribute``"""
    origin: str
    """How to find it again, for error messages."""

    @classmethod
    def from_setting(cls, entry: str) -> Source:
        return cls(entry, f"{SETTING} entry '{entry}'")

    @classmethod
    def from_entry_point(cls, ep: EntryPoint) -> Source:
        package = f" of the package '{ep.dist.name}'" if ep.dist is not None else ""
        return cls(
            ep.value, f"entry point '{ep.name} = {ep.value}' (group {ENTRY_POINT_GROUP}){package}"
        )


def registry_for(entries: Sequence[str], *, installed: bool = True) -> Registry:
    """The shipped apps plus the extra ones; ``default_registry()`` itself when there are none.

    ``entries``: the ``extra_apps`` setting. ``installed``: also load the ``cellwright.apps``
    entry points of installed packages.
    """
    sources = [Source.from_setting(entry) for entry in entries]
    if installed:
        sources += [Source.from_entry_point(ep) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    if not sources:
        return default_registry()
    return Registry([*APPS, *load_extra_apps(sources)])


def load_extra_apps(sources: Iterable[Source]) -> tuple[App, ...]:
    """Import, check and return the apps the sources name (in order, each once)."""
    builtin = {app.key for app in APPS}
    found: dict[str, tuple[App, Source]] = {}
    for source in sources:
        for app in _apps_of(source):
            if app.key in builtin:
                raise ConfigurationError(
                    f"The {source.origin} defines the app '{app.key}', which is the key "
                    "of an app Cellwright ships. Give your app another key (keys never change "
                    "once published, so pick a prefixed one such as 'acme_crm')."
                )
            if app.key in found:
                other_app, other = found[app.key]
                if other_app is app:
                    continue  # the same object named twice (the setting and an entry point)
                raise ConfigurationError(
                    f"The {source.origin} and the {other.origin} both define an app with the key "
                    f"'{app.key}'. Keep one of them, or give one app another key."
                )
            problems = app_problems(app)
            if problems:
                raise ConfigurationError(
                    f"The app '{app.key}' from the {source.origin} does not pass "
                    "Cellwright's app checks: "
                    + "; ".join(problems)
                    + ". Fix the app (see docs/adding-an-app.md), or remove the entry."
                )
            found[app.key] = (app, source)
    return tuple(app for app, _ in found.values())


def _apps_of(source: Source) -> list[App]:
    module_name, _, attribute = (part.strip() for part in source.value.partition(":"))
    if not module_name or not attribute:
        raise ConfigurationError(
            f"The {source.origin} is not 'module:attribute'. Name the module and the App in it, "
            "e.g. 'acme_apps:app'."
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):  # it, or its package, is missing
            raise ConfigurationError(
                f"The {source.origin} names the module '{module_name}', which is not installed. "
                "Install the package that provides it in Cellwright's Python environment "
                "(or add its folder to PYTHONPATH), or fix the spelling."
            ) from exc
        raise ConfigurationError(
            f"The {source.origin}: the module '{module_name}' needs '{exc.name}', "
            "which is not installed. Install it."
        ) from exc
    except (
        Exception
    ) as exc:  # the module's own code failed: a syntax error, an App refused by its constructor…
        raise ConfigurationError(
            f"The {source.origin}: the module '{module_name}' failed while importing "
            f"({type(exc).__name__}: {_message(exc)}). Fix the module, or remove the entry."
        ) from exc
    value: object = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ConfigurationError(
                f"The {source.origin}: the module '{module_name}' has no attribute '{attribute}'. "
                "Name the App (or the list of Apps) it defines, e.g. 'acme_apps:app'."
            )
        value = getattr(value, part)
    items: list[object] = list(value) if isinstance(value, list | tuple) else [value]
    apps = [item for item in items if isinstance(item, App)]
    wrong = [item for item in items if not isinstance(item, App)]
    if wrong or not items:
        if not items:
            what = "an empty list"
        elif value is wrong[0]:
            what = f"a {type(value).__name__} ({_short(value)})"
        else:
            what = f"a list holding a {type(wrong[0]).__name__} ({_short(wrong[0])})"
        raise ConfigurationError(
            f"The {source.origin} names {what}, not an App. It must name an App "
            "(connectors.sdk.App) or a list of Apps."
        )
    return apps


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message).strip().splitlines()[0] if str(message).strip() else "no message"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


__all__ = ["ENTRY_POINT_GROUP", "Source", "load_extra_apps", "registry_for"]
