"""The ``Store`` facade: every repository behind one object.

``Store`` is thread-safe and synchronous: the engine calls it from worker threads
(``asyncio.to_thread``). Every method opens its own short session and returns plain
records (``storage.records``), never ORM instances. Connection credentials, webhook
subscription state and secrets typed into cell inputs are encrypted by the
:class:`~storage.vault.Vault` before they reach the database.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from types import TracebackType
from typing import cast

from alembic import command
from sqlalchemy import select, update

from .datadir import create_private_file, make_private_dir
from .migrations import alembic_config
from .models import ConnectionRow, ScenarioSecretRow, WebhookSubscriptionRow
from .repos.alerts import AlertsRepo
from .repos.analytics_outbox import AnalyticsOutboxRepo
from .repos.apps import AppsRepo
from .repos.audit import AuditRepo
from .repos.connections import ConnectionsRepo, connection_aad
from .repos.datastores import DataStoresRepo
from .repos.executions import ExecutionsRepo
from .repos.leases import LeasesRepo
from .repos.privacy import PrivacyRepo
from .repos.scenarios import ScenariosRepo
from .repos.secrets import SecretsRepo, secret_aad
from .repos.sessions import SessionsRepo
from .repos.triggers import TriggersRepo, subscription_aad
from .repos.users import UsersRepo
from .vault import Vault

#: Alembic keeps its context in module globals: one migration at a time per process.
_MIGRATE_LOCK = threading.Lock()

SQLITE_FILENAME = "cellwright.db"
VAULT_KEY_FILENAME = "vault.key"


class Store(
    UsersRepo,
    AppsRepo,
    ConnectionsRepo,
    ScenariosRepo,
    SecretsRepo,
    ExecutionsRepo,
    AnalyticsOutboxRepo,
    LeasesRepo,
    TriggersRepo,
    AuditRepo,
    AlertsRepo,
    SessionsRepo,
    DataStoresRepo,
    PrivacyRepo,
):
    """The persistent state of Cellwright: SQLite by default, PostgreSQL by URL."""

    def __init__(self, url: str, vault: Vault, *, echo: bool = False) -> None:
        self._init_db(url, vault, echo=echo)

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, vault: Vault | None = None, url: str | None = None
    ) -> Store:
        """The store of a data directory: ``<data_dir>/cellwright.db`` unless ``url`` is
        given, with the vault kept in ``<data_dir>/vault.key`` unless ``vault`` is given."""
        data_dir = make_private_dir(Path(data_dir))
        if vault is None:
            vault = Vault.from_key_file(data_dir / VAULT_KEY_FILENAME)
        if url is None:
            # SQLite gives its -wal and -shm files the database file's mode: make it 0600
            create_private_file(data_dir / SQLITE_FILENAME)
        return cls(url or f"sqlite:///{data_dir / SQLITE_FILENAME}", vault)

    @property
    def vault(self) -> Vault:
        """The vault that encrypts credentials (for rotation)."""
        return self._vault

    def migrate(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``).

        Safe to call from several processes at once: SQLite serialises on its write lock,
        PostgreSQL on an advisory lock taken by the migration environment (and threads of
        one process on a lock here, since Alembic keeps global state).
        """
        config = alembic_config()
        with _MIGRATE_LOCK, self._write_lock, self._write_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The migration the database is at (``alembic_version``); None before any."""
        from sqlalchemy import text

        with self._read() as session:
            row = session.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    @staticmethod
    def expected_schema_revision() -> str:
        """The newest migration this version of Cellwright ships."""
        return _shipped_head()

    def reencrypt_all(self) -> int:
        """Re-encrypt every secret not under the vault's primary key; returns rows changed.

        Run after :meth:`Vault.rotate`; afterwards the old keys can be removed.
        """
        vault = self._vault
        targets = (
            (ConnectionRow, ConnectionRow.credentials, connection_aad),
            (WebhookSubscriptionRow, WebhookSubscriptionRow.state, subscription_aad),
            (ScenarioSecretRow, ScenarioSecretRow.value, secret_aad),
        )
        changed = 0
        with self._write() as s:
            for model, column, aad_of in targets:
                query = select(model.id, column).where(column.is_not(None))
                for row_id, token in s.execute(query):
                    token = cast(str, token)  # NULLs are filtered out above
                    if not vault.needs_reencrypt(token):
                        continue
                    aad = aad_of(row_id)
                    fresh = vault.encrypt(vault.decrypt(token, aad=aad), aad=aad)
                    s.execute(update(model).where(model.id == row_id).values({column: fresh}))
                    changed += 1
        return changed

    def close(self) -> None:
        """Close every pooled database connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._engine.url.render_as_string(hide_password=True)!r})"


@functools.cache
def _shipped_head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_heads()[0])
