"""Connections: authenticated links to apps, with credentials encrypted by the vault."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select, update

from ..errors import NotFoundError
from ..models import CONNECTION_STATUSES, ConnectionRow, NodeRow, ScenarioRow
from ..records import Connection, Scenario
from ..statuses import ConnectionStatus
from ._base import RepoBase, check_choice, new_id, rowcount, to_record, utcnow


def connection_aad(connection_id: str) -> str:
    """The vault's associated data for a connection's credentials."""
    return f"connections/{connection_id}"


def _record(row: ConnectionRow) -> Connection:
    return to_record(Connection, row, metadata=row.metadata_)


class ConnectionsRepo(RepoBase):
    def create_connection(
        self,
        user_id: str,
        app_id: str,
        name: str,
        credentials: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        is_sandbox: bool = False,
        status: str = ConnectionStatus.ACTIVE,
        status_message: str | None = None,
    ) -> Connection:
        """Store a new connection; ``credentials`` are encrypted before they are written."""
        check_choice(status, CONNECTION_STATUSES, "connection status")
        now = utcnow()
        connection_id = new_id()
        row = ConnectionRow(
            id=connection_id,
            app_id=app_id,
            user_id=user_id,
            name=name,
            status=status,
            status_message=status_message,
            credentials=self._vault.encrypt(credentials, aad=connection_aad(connection_id)),
            created_at=now,
            updated_at=now,
            last_used=None,
            usage_count=0,
            metadata_=metadata or {},
            is_sandbox=is_sandbox,
        )
        with self._write() as s:
            s.add(row)
        return _record(row)

    def get_connection(self, user_id: str, connection_id: str) -> Connection | None:
        """The user's connection, or None (also for another user's)."""
        with self._read() as s:
            row = s.get(ConnectionRow, connection_id)
            return _record(row) if row and row.user_id == user_id else None

    def list_connections(self, user_id: str, app_id: str | None = None) -> list[Connection]:
        """The user's connections (optionally for one app), oldest first."""
        query = select(ConnectionRow).where(ConnectionRow.user_id == user_id)
        if app_id is not None:
            query = query.where(ConnectionRow.app_id == app_id)
        with self._read() as s:
            rows = s.scalars(query.order_by(ConnectionRow.created_at, ConnectionRow.id))
            return [_record(r) for r in rows]

    def update_connection(
        self,
        user_id: str,
        connection_id: str,
        *,
        name: str | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        status: str | None = None,
        status_message: str | None = None,
    ) -> Connection | None:
        """Change the given fields of the user's connection; None if not found."""
        if status is not None:
            check_choice(status, CONNECTION_STATUSES, "connection status")
        with self._write() as s:
            row = s.get(ConnectionRow, connection_id)
            if row is None or row.user_id != user_id:
                return None
            if name is not None:
                row.name = name
            if credentials is not None:
                row.credentials = self._vault.encrypt(credentials, aad=connection_aad(row.id))
            if metadata is not None:
                row.metadata_ = metadata
            if status is not None:
                row.status = status
            if status_message is not None:
                row.status_message = status_message
            row.updated_at = utcnow()
            return _record(row)

    def delete_connection(self, user_id: str, connection_id: str) -> bool:
        """Delete the user's connection; False if not found."""
        with self._write() as s:
            result = s.execute(
                delete(ConnectionRow).where(
                    ConnectionRow.id == connection_id, ConnectionRow.user_id == user_id
                )
            )
            return rowcount(result) == 1

    def connection_webhook_token(self, user_id: str, connection_id: str) -> str | None:
        """The token of the user's connection's webhook URL (``/hooks/apps/<app>/<token>``),
        created the first time it is asked for (random, URL-safe); None if the connection
        is not the user's (or does not exist)."""
        with self._read() as s:
            found = s.execute(
                select(ConnectionRow.user_id, ConnectionRow.webhook_token).where(
                    ConnectionRow.id == connection_id
                )
            ).first()
        if found is None or found.user_id != user_id:
            return None
        if found.webhook_token:
            return str(found.webhook_token)
        with self._write() as s:
            row = s.get(ConnectionRow, connection_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                return None  # deleted meanwhile
            if row.webhook_token is None:  # another caller may have just made it
                row.webhook_token = secrets.token_urlsafe(24)
            return row.webhook_token

    def connection_by_webhook_token(self, token: str) -> Connection | None:
        """The connection whose webhook URL carries ``token``, or None (engine use; not
        user-scoped: the token is the URL's secret part)."""
        with self._read() as s:
            row = s.scalar(select(ConnectionRow).where(ConnectionRow.webhook_token == token))
            return _record(row) if row else None

    def connection_credentials(self, connection_id: str) -> dict[str, Any]:
        """The decrypted credentials (engine use; not user-scoped). NotFoundError if absent."""
        with self._read() as s:
            token = s.scalar(
                select(ConnectionRow.credentials).where(ConnectionRow.id == connection_id)
            )
        if token is None:
            raise NotFoundError(f"connection {connection_id!r} not found")
        credentials: dict[str, Any] = self._vault.decrypt(token, aad=connection_aad(connection_id))
        return credentials

    def set_connection_status(
        self, connection_id: str, status: str, message: str | None = None
    ) -> None:
        """Set status and message (e.g. "error", "token expired") from the engine."""
        check_choice(status, CONNECTION_STATUSES, "connection status")
        with self._write() as s:
            s.execute(
                update(ConnectionRow)
                .where(ConnectionRow.id == connection_id)
                .values(status=status, status_message=message, updated_at=utcnow())
            )

    def touch_connection(self, connection_id: str) -> None:
        """Record one use: last_used = now, usage_count + 1 (atomic)."""
        with self._write() as s:
            s.execute(
                update(ConnectionRow)
                .where(ConnectionRow.id == connection_id)
                .values(last_used=utcnow(), usage_count=ConnectionRow.usage_count + 1)
            )

    def scenarios_using_connection(self, user_id: str, connection_id: str) -> list[Scenario]:
        """The user's scenarios with a cell that uses this connection."""
        used = select(NodeRow.scenario_id).where(NodeRow.connection_id == connection_id)
        with self._read() as s:
            rows = s.scalars(
                select(ScenarioRow)
                .where(ScenarioRow.user_id == user_id, ScenarioRow.id.in_(used))
                .order_by(ScenarioRow.created_at, ScenarioRow.id)
            )
            return [to_record(Scenario, r) for r in rows]
