"""Cellwright's persistent state: SQLAlchemy models and repositories, Alembic
migrations and the credential vault.

``storage`` imports nothing from the rest of the project; configuration is passed in::

    store = Store.for_data_dir(Path("~/.cellwright").expanduser())  # SQLite + vault.key
    store.migrate()
    user = store.create_user("ada@example.com", "Ada")
"""

from .audit_chain import AUDIT_SOURCES, AuditOrigin, ChainVerdict, audit_origin
from .errors import (
    ConflictError,
    LimitReachedError,
    NotFoundError,
    StoreError,
    VaultDecryptError,
    VaultError,
    VaultKeyMissingError,
)
from .records import (
    AlertRule,
    ApiKey,
    AppRecord,
    AuditEntry,
    Connection,
    DataRecord,
    DataStore,
    Execution,
    Node,
    NodeResult,
    Scenario,
    TriggerState,
    User,
    WebhookSubscription,
)
from .repos.executions import MAX_SEARCH_LENGTH
from .repos.privacy import (
    ERASED,
    MIN_ERASE_LENGTH,
    AnalyticsDeletion,
    ErasureMatch,
    RetentionPolicy,
)
from .statuses import (
    FINAL_EXECUTION_STATUSES,
    OPEN_EXECUTION_STATUSES,
    ConnectionStatus,
    ExecutionStatus,
    NodeStatus,
    ScenarioStatus,
)
from .store import Store
from .vault import Vault, VaultKey

__all__ = [
    "FINAL_EXECUTION_STATUSES",
    "OPEN_EXECUTION_STATUSES",
    "ConnectionStatus",
    "ExecutionStatus",
    "NodeStatus",
    "ScenarioStatus",
    "AUDIT_SOURCES",
    "ERASED",
    "MIN_ERASE_LENGTH",
    "AnalyticsDeletion",
    "ErasureMatch",
    "RetentionPolicy",
    "MAX_SEARCH_LENGTH",
    "AlertRule",
    "ApiKey",
    "AppRecord",
    "AuditEntry",
    "AuditOrigin",
    "ChainVerdict",
    "ConflictError",
    "Connection",
    "DataRecord",
    "DataStore",
    "Execution",
    "Node",
    "NodeResult",
    "LimitReachedError",
    "NotFoundError",
    "Scenario",
    "Store",
    "StoreError",
    "TriggerState",
    "User",
    "Vault",
    "VaultDecryptError",
    "VaultError",
    "VaultKey",
    "VaultKeyMissingError",
    "WebhookSubscription",
    "audit_origin",
]
