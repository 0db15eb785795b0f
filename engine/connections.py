"""``Connections``: reading a user's connections, and storing sandbox ones.

Creating, testing, updating and deleting a real connection run the app's test call
through a context and tell the webhook ingress, so they stay with ``Cellwright``; this
service lists and looks up, and never returns credentials (``storage.Connection``
records carry none). Another user's connection is ``NotFound``, as is a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from connectors.sdk import ConfigurationError
from engine.errors import NotFound
from storage.statuses import ConnectionStatus

if TYPE_CHECKING:
    from connectors.sdk import App
    from engine.ports import ConnectionStore
    from storage import Connection

__all__ = ["Connections"]


class Connections:
    """A user's connections, without their credentials."""

    def __init__(self, store: ConnectionStore) -> None:
        self._store = store

    def get(self, user_id: str, connection_id: str) -> Connection:
        """The connection; ``NotFound`` when it is not the user's."""
        connection = self._store.get_connection(user_id, connection_id)
        if connection is None:
            raise NotFound(f"No connection {connection_id}.")
        return connection

    def find(self, user_id: str, connection_id: str) -> Connection | None:
        """The connection, or None when it is not the user's."""
        return self._store.get_connection(user_id, connection_id)

    def for_user(self, user_id: str, app_id: str | None = None) -> list[Connection]:
        """The user's connections, of one app when ``app_id`` is given."""
        return self._store.list_connections(user_id, app_id=app_id)

    def choices(self, user_id: str, app_id: str) -> dict[str, str]:
        """``{label: connection id}`` of the user's connections to an app, for a picker;
        sandbox connections say so in their label."""
        return {
            c.name + (" (sandbox)" if c.is_sandbox else ""): c.id
            for c in self._store.list_connections(user_id, app_id=app_id)
        }

    def add_sandbox(
        self, user_id: str, app: App, *, details: Mapping[str, Any] | None = None
    ) -> Connection:
        """Store a connection to the app's sandbox with its published credentials, active,
        without a test call (for data seeded before an event loop runs; the health check
        validates it later). ``details`` are added to the audit entry."""
        if app.sandbox is None:
            raise ConfigurationError(f"{app.name} has no sandbox.")
        credentials = dict(app.sandbox_credentials)
        try:
            app.auth.fields.model_validate(
                credentials
            )  # a broken sandbox credential set fails here, loudly
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise ConfigurationError(
                f"{app.name}'s sandbox credentials do not fill its connection form "
                f"(fields: {fields})."
            ) from None
        connection = self._store.create_connection(
            user_id,
            app.key,
            f"{app.name} (sandbox)",
            credentials,
            is_sandbox=True,
            status=ConnectionStatus.ACTIVE,
        )
        self._store.audit(
            user_id,
            "connection.create",
            "connection",
            connection.id,
            {"app": app.key, "sandbox": True, **(details or {})},
        )
        return connection
