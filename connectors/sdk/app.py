"""An app: identity, auth, and explicit lists of triggers and actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.icons import GENERIC, icon_url, is_inline
from connectors.sdk.auth import AuthKind, NoAuth
from connectors.sdk.errors import ConfigurationError
from connectors.sdk.http import ErrorParser
from connectors.sdk.limits import VendorLimits
from connectors.sdk.operations import Action, InstantTrigger, Operation, Trigger
from connectors.sdk.options import OptionSource
from connectors.sdk.webhooks import ConnectionWebhook


@dataclass(frozen=True, kw_only=True)
class App:
    """One app. Keys are snake_case and never change once published."""

    key: str
    name: str
    description: str
    category: str
    auth: AuthKind = field(default_factory=NoAuth)
    """The default way to connect (what a connection without a recorded kind uses)."""
    other_auth: tuple[AuthKind, ...] = ()
    """Further ways to connect, e.g. monday.com's OAuth beside its personal token. At
    most one kind per type: a connection records its kind's type
    (``metadata["auth_type"]``) and ``auth_for`` finds the kind again."""
    triggers: tuple[Trigger, ...] = ()
    actions: tuple[Action, ...] = ()
    options: tuple[OptionSource, ...] = ()
    """Where the choices of ID fields come from (fields name a source with
    ``json_schema_extra=dynamic("channels")``; see connectors/sdk/options.py)."""
    base_url: str | Callable[[Mapping[str, Any]], str] | None = None
    """The API root operations' paths are relative to; a function of the connection's
    credentials for per-account hosts (a WordPress site, a Shopify shop)."""
    connection_base_url: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = None
    """The API root from a connection's credentials *and* metadata (what its OAuth sign-in
    or test call recorded), for vendors whose host is only learned after connecting
    (Mailchimp's data centre). Used instead of ``base_url`` when set."""
    allowed_hosts: tuple[str, ...] = ()
    """Host patterns (fnmatch) the app's client may call; empty means any public host."""
    default_headers: Mapping[str, str] = field(default_factory=dict)
    error_parser: ErrorParser | None = None
    limits: VendorLimits | None = None
    """The vendor's documented limits per connection (calls per period, calls at once):
    every call of a connection waits its turn before it is sent (connectors/sdk/limits.py)."""
    icon: str = GENERIC
    """The app's logo: the name of an icon shipped in ``connectors/icons`` (``"slack"``),
    or an SVG document (``"<svg …>…</svg>"``) for an app installed beside Cellwright.
    Without one the app shows a neutral plug. The conformance checks it can be shown."""
    docs_url: str | None = None
    sandbox: str | None = None
    """``"module:factory"`` of a Starlette app simulating the vendor's API, for tests
    and sandbox connections. The factory takes no arguments."""
    sandbox_credentials: Mapping[str, Any] = field(default_factory=dict)
    """Credentials the sandbox accepts: what a "sandbox connection" stores."""
    builtin: bool = False
    uses_data_stores: bool = False
    """The app reads and writes the owner's data stores: its operations' context carries
    ``data_stores`` (only the owner's, only through ``DataStoreAccess``)."""
    uses_scenarios: bool = False
    """The app calls the owner's other scenarios: its operations' context carries
    ``scenarios`` (``ScenarioCalls``; the built-in Scenarios app)."""
    connection_help: str | None = None
    """What a cell without a connection is told its connection needs (which fields to
    set), after "needs a <App> connection"."""
    connection_webhook: ConnectionWebhook | None = None
    """Set when the vendor sends every event of a connection to one URL (a Slack app's
    single Request URL): each connection gets that URL and feeds every enabled scenario
    whose trigger is one of this app's instant triggers on it. Those triggers then have
    no ``subscribe``: there is nothing to register per scenario."""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for kind in self.auth_kinds:
            if kind.type in seen:
                raise ConfigurationError(
                    f"App '{self.key}' declares two '{kind.type}' auth kinds; "
                    "an app has at most one kind per type."
                )
            seen.add(kind.type)
        keys = [source.key for source in self.options]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            raise ConfigurationError(f"App '{self.key}' declares the option source '{key}' twice.")
        if self.connection_webhook is not None:
            if not self.needs_connection:
                raise ConfigurationError(
                    f"App '{self.key}' has a connection webhook but no connection to give it a URL."
                )
            if any(op.subscribe is not None for op in self.instant_triggers):
                raise ConfigurationError(
                    f"App '{self.key}' has a connection webhook: its instant triggers are fed "
                    "from the connection's URL and cannot subscribe per scenario."
                )

    @property
    def instant_triggers(self) -> tuple[InstantTrigger, ...]:
        """The triggers the vendor calls (webhooks, events)."""
        return tuple(op for op in self.triggers if isinstance(op, InstantTrigger))

    @property
    def auth_kinds(self) -> tuple[AuthKind, ...]:
        """Every way to connect, the default (``auth``) first."""
        return (self.auth, *self.other_auth)

    def auth_for(self, auth_type: str | None) -> AuthKind:
        """The auth kind of type ``auth_type`` (``None``: the default, ``auth``)."""
        if auth_type is None:
            return self.auth
        for kind in self.auth_kinds:
            if kind.type == auth_type:
                return kind
        known = ", ".join(kind.type for kind in self.auth_kinds)
        raise ConfigurationError(f"App '{self.key}' has no '{auth_type}' auth. It has: {known}.")

    def operation(self, key: str) -> Operation:
        for op in (*self.triggers, *self.actions):
            if op.key == key:
                return op
        known = ", ".join(op.key for op in (*self.triggers, *self.actions))
        raise ConfigurationError(f"App '{self.key}' has no operation '{key}'. It has: {known}.")

    def trigger(self, key: str) -> Trigger:
        op = self.operation(key)
        if not isinstance(op, Trigger):
            raise ConfigurationError(f"'{self.key}.{key}' is an action, not a trigger.")
        return op

    def action(self, key: str) -> Action:
        op = self.operation(key)
        if not isinstance(op, Action):
            raise ConfigurationError(f"'{self.key}.{key}' is a trigger, not an action.")
        return op

    def option_source(self, key: str) -> OptionSource:
        for source in self.options:
            if source.key == key:
                return source
        known = ", ".join(source.key for source in self.options) or "none"
        raise ConfigurationError(f"App '{self.key}' has no option source '{key}'. It has: {known}.")

    def resolve_base_url(
        self, credentials: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
    ) -> str | None:
        """The API root for a connection with these credentials and metadata."""
        if self.connection_base_url is not None:
            return self.connection_base_url(credentials, metadata or {})
        if callable(self.base_url):
            return self.base_url(credentials)
        return self.base_url

    @property
    def needs_connection(self) -> bool:
        return any(kind.type != "none" for kind in self.auth_kinds)

    def describe(self, *, full: bool = True) -> dict[str, Any]:
        """The catalog entry (``cellwright apps --json``, ``GET /api/v1/apps``)."""
        data: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "icon": "inline" if is_inline(self.icon) else self.icon,
            "icon_url": icon_url(self.key),
            "auth": self.auth.type,
            "auth_types": [kind.type for kind in self.auth_kinds],
            "builtin": self.builtin,
            "has_sandbox": self.sandbox is not None,
            "connection_webhook": self.connection_webhook is not None,
            "limits": self.limits.describe() if self.limits else [],
        }
        if full:
            data["auth_schema"] = self.auth.describe()
            data["auth_schemas"] = {kind.type: kind.describe() for kind in self.auth_kinds}
            data["triggers"] = [t.describe() for t in self.triggers]
            data["actions"] = [a.describe() for a in self.actions]
            data["options"] = [
                {"key": o.key, "name": o.name, "needs": list(o.needs)} for o in self.options
            ]
        else:
            data["triggers"] = [{"key": t.key, "name": t.name} for t in self.triggers]
            data["actions"] = [{"key": a.key, "name": a.name} for a in self.actions]
        return data
