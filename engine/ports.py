"""What each engine service needs from the store, as narrow typed Protocols.

``storage.Store`` satisfies every one of them (mypy checks it where ``Cellwright``
builds the services); a test can hand a service a small fake instead. Each Protocol
lists only the calls its service makes, so a service's signature says what it may
touch: ``Scenarios`` cannot read credentials, ``Accounts`` cannot start a run.

The Protocols that already lived next to their one user stay there and are composed
here: ``engine.ownership.ConnectionLookup`` and ``engine.secrets.SecretStore``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import EllipsisType
from typing import Any, Protocol

from engine.ownership import ConnectionLookup
from engine.secrets import SecretStore
from storage import (
    AlertRule,
    ApiKey,
    AuditEntry,
    ChainVerdict,
    Connection,
    DataRecord,
    DataStore,
    ErasureMatch,
    Execution,
    NodeResult,
    RetentionPolicy,
    Scenario,
    User,
)
from storage.records import AnalyticsFacts
from storage.statuses import ConnectionStatus

__all__ = [
    "AccountStore",
    "AlertStore",
    "AuditLog",
    "ContextStore",
    "LeaseStore",
    "RunStore",
    "SubScenarioStore",
    "ConnectionStore",
    "DataStoreStore",
    "ExecutionStore",
    "PrivacyStore",
    "RetentionStore",
    "ScenarioStore",
    "SignInStore",
]


class AuditLog(Protocol):
    """Writes one line of the audit log."""

    def audit(
        self,
        user_id: str | None,
        action: str,
        object_type: str,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        source: str | None = None,
        ip: str | None = None,
        actor_id: str | None = None,
    ) -> AuditEntry: ...


class ScenarioStore(AuditLog, ConnectionLookup, SecretStore, Protocol):
    """Scenarios and their versions (``engine.scenarios.Scenarios``); saving also checks
    the cells' connections and seals typed secrets."""

    def get_scenario(self, user_id: str, scenario_id: str) -> Scenario | None: ...
    def list_scenarios(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        file_runs: bool = False,
    ) -> list[Scenario]: ...
    def file_scenario(self, user_id: str, source_file: str) -> Scenario | None: ...
    def mark_file_scenario(self, scenario_id: str, source_file: str) -> None: ...
    def scenario_document(
        self, scenario_id: str, version: int | None = None
    ) -> dict[str, Any] | None: ...
    def save_scenario(
        self,
        user_id: str,
        document: dict[str, Any],
        *,
        scenario_id: str | None = None,
        nodes: list[dict[str, Any]] | None = None,
        schedule: dict[str, Any] | None | EllipsisType = ...,
    ) -> Scenario: ...
    def set_webhook_token(self, scenario_id: str, token: str | None) -> None: ...
    def publish_scenario(
        self, user_id: str, scenario_id: str, version: int | None = None
    ) -> Scenario: ...
    def set_scenario_status(
        self, user_id: str, scenario_id: str, status: str, reason: str | None = None
    ) -> Scenario | None: ...
    def delete_scenario(self, user_id: str, scenario_id: str) -> bool: ...


class ConnectionStore(AuditLog, ConnectionLookup, Protocol):
    """A user's connections, as listed and stored without a test call
    (``engine.connections.Connections``); credentials are never read back here."""

    def list_connections(self, user_id: str, app_id: str | None = None) -> list[Connection]: ...
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
    ) -> Connection: ...


class DataStoreStore(AuditLog, Protocol):
    """A user's data stores and their records (``engine.datastores.DataStores``); every
    call takes the owner, so another user's store is simply not there."""

    def list_data_stores(self, user_id: str) -> list[DataStore]: ...
    def get_data_store(self, user_id: str, store_id: str) -> DataStore | None: ...
    def data_store_named(self, user_id: str, name: str) -> DataStore | None: ...
    def create_data_store(self, user_id: str, name: str, *, max_stores: int) -> DataStore: ...
    def delete_data_store(self, user_id: str, store_id: str) -> bool: ...
    def get_data_record(self, user_id: str, store_id: str, key: str) -> DataRecord | None: ...
    def find_data_records(
        self,
        user_id: str,
        store_id: str,
        *,
        prefix: str | None = None,
        where: Callable[[Any], bool] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DataRecord]: ...
    def count_data_records(
        self, user_id: str, store_id: str, *, prefix: str | None = None
    ) -> int: ...
    def put_data_record(
        self, user_id: str, store_id: str, key: str, value: Any, *, max_records: int
    ) -> DataRecord: ...
    def increment_data_record(
        self,
        user_id: str,
        store_id: str,
        key: str,
        by: int | float,
        *,
        max_records: int,
        check: Callable[[Any], None] | None = None,
    ) -> DataRecord: ...
    def delete_data_record(self, user_id: str, store_id: str, key: str) -> bool: ...
    def data_store_export(self, user_id: str) -> list[tuple[DataStore, list[DataRecord]]]: ...


class ExecutionStore(AuditLog, Protocol):
    """Executions as the front ends read them, and queued ones
    (``engine.executions.Executions``); running them is the executor's, deleting them
    retention's (``RetentionStore``)."""

    def get_execution(self, user_id: str | None, execution_id: str) -> Execution | None: ...
    def node_results(self, execution_id: str) -> list[NodeResult]: ...
    def list_executions(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        parent_execution_id: str | None = None,
    ) -> list[Execution]: ...
    def count_executions(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
        parent_execution_id: str | None = None,
    ) -> int: ...
    def create_execution(
        self,
        *,
        scenario_id: str,
        scenario_version: int,
        user_id: str,
        trigger: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> tuple[Execution, bool]: ...


class SignInStore(Protocol):
    """What signing in needs (``workspace.sessions``): users by id and e-mail, password
    hashes, revoked sessions and counted failures."""

    def get_user(self, user_id: str) -> User | None: ...
    def get_user_by_email(self, email: str) -> User | None: ...
    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        is_admin: bool | None = None,
    ) -> User | None: ...
    def revoke_session(self, nonce: str, expires_at: datetime, now: datetime) -> None: ...
    def session_revoked(self, nonce: str) -> bool: ...
    def record_login_failure(self, keys: Iterable[str], at: datetime) -> None: ...
    def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, int]: ...
    def clear_login_failures(self, keys: Iterable[str]) -> None: ...


class AccountStore(SignInStore, AuditLog, ConnectionLookup, Protocol):
    """Users, API keys, alert rules and the audit log (``engine.accounts.Accounts``)."""

    def list_users(self) -> list[User]: ...
    def create_user(
        self, email: str, name: str = "", password_hash: str | None = None, is_admin: bool = False
    ) -> User: ...
    def create_api_key(self, user_id: str, name: str = "default") -> tuple[str, ApiKey]: ...
    def list_api_keys(self, user_id: str) -> list[ApiKey]: ...
    def revoke_api_key(self, user_id: str, key_id: str) -> bool: ...
    def user_for_api_key(self, plaintext: str) -> User | None: ...
    def create_alert_rule(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        notify_workspace: bool = True,
        webhook_url: str | None = None,
        email_connection_id: str | None = None,
        email_to: list[str] | None = None,
    ) -> AlertRule: ...
    def list_alert_rules(self, user_id: str) -> list[AlertRule]: ...
    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool: ...
    def audit_entries(
        self,
        user_id: str | None = None,
        limit: int = 100,
        *,
        offset: int = 0,
        actor_id: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]: ...
    def verify_audit_chain(self) -> ChainVerdict: ...


class _AuditReader(Protocol):
    def audit_entries(
        self,
        user_id: str | None = None,
        limit: int = 100,
        *,
        offset: int = 0,
        actor_id: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]: ...


class PrivacyStore(AuditLog, _AuditReader, Protocol):
    """What an account's export and deletion and a data subject's erasure read and
    remove (``engine.privacy.Privacy``)."""

    def get_user(self, user_id: str) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def list_scenarios(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        file_runs: bool = False,
    ) -> list[Scenario]: ...
    def scenario_versions(self, scenario_id: str) -> list[tuple[int, datetime, Any]]: ...
    def executions_page(
        self, user_id: str, *, after: str | None = None, limit: int = ...
    ) -> list[tuple[Execution, list[NodeResult]]]: ...
    def list_connections(self, user_id: str, app_id: str | None = None) -> list[Connection]: ...
    def data_store_export(self, user_id: str) -> list[tuple[DataStore, list[DataRecord]]]: ...
    def list_alert_rules(self, user_id: str) -> list[AlertRule]: ...
    def list_api_keys(self, user_id: str) -> list[ApiKey]: ...
    def delete_account(self, user_id: str, *, batch: int = ...) -> dict[str, int]: ...
    def find_executions_containing(
        self, value: str, *, after: str | None = None, limit: int = ...
    ) -> list[ErasureMatch]: ...
    def erase_value(self, value: str, execution_ids: Sequence[str]) -> tuple[int, int]: ...
    def queue_analytics_erasure(self, value: str) -> None: ...


class RetentionStore(AuditLog, _AuditReader, Protocol):
    """Retention policies and the batched sweep (``engine.retention.Retention``)."""

    def get_user(self, user_id: str) -> User | None: ...
    def retention_policy(self, user_id: str) -> RetentionPolicy | None: ...
    def retention_policies(self) -> list[RetentionPolicy]: ...
    def set_retention_policy(
        self, user_id: str, *, retention_days: int | None, retention_failed_days: int | None
    ) -> RetentionPolicy | None: ...
    def delete_expired_executions(
        self,
        *,
        cutoff: datetime,
        failed_cutoff: datetime,
        user_id: str | None = None,
        exclude_users: Sequence[str] = (),
        limit: int = ...,
        analytics: bool = ...,
    ) -> int: ...


# -- running: what the runner, its contexts, alerts and the executors need ---------------


class ContextStore(ConnectionLookup, Protocol):
    """A cell's connection and its credentials, kept fresh (``engine.contexts.Contexts``:
    a refreshed OAuth token is written back)."""

    def connection_credentials(self, connection_id: str) -> dict[str, Any]: ...
    def touch_connection(self, connection_id: str) -> None: ...
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
    ) -> Connection | None: ...


class AlertStore(AuditLog, ConnectionLookup, Protocol):
    """The alert rules of a failed run, the e-mail connection they send through, and the
    audit line of each delivery (``engine.alerts.Alerts``)."""

    def alert_rules_for(self, user_id: str, scenario_id: str) -> list[AlertRule]: ...
    def connection_credentials(self, connection_id: str) -> dict[str, Any]: ...


class RunStore(ContextStore, AlertStore, SecretStore, Protocol):
    """One run's records (``engine.runner.Runner``): its version's document, each cell's
    results, parking, retries and the finish (with its analytics facts, in one
    transaction); the resume call of a wait-for-call cell."""

    def scenario_document(
        self, scenario_id: str, version: int | None = None
    ) -> dict[str, Any] | None: ...
    def node_results(self, execution_id: str) -> list[NodeResult]: ...
    def record_node_results(
        self, execution_id: str, results: list[dict[str, Any]]
    ) -> list[NodeResult]: ...
    def finish_execution(
        self,
        execution_id: str,
        *,
        status: str,
        error: dict[str, Any] | None = None,
        node_results: list[dict[str, Any]] | None = None,
        analytics: AnalyticsFacts | None = None,
    ) -> Execution: ...
    def schedule_retry(
        self, execution_id: str, *, next_attempt_at: datetime, attempt: int, error: dict[str, Any]
    ) -> None: ...
    def park_execution(
        self, execution_id: str, *, until: datetime, for_call: bool = False
    ) -> datetime: ...
    def ensure_resume_token(self, execution_id: str) -> str: ...
    def resume_call_of(self, execution_id: str) -> Any: ...
    def expire_resume_call(self, execution_id: str) -> Any: ...


class LeaseStore(Protocol):
    """Claiming executions through their lease (``engine.executor.LocalExecutor``)."""

    def claim_execution(
        self, execution_id: str, owner: str, lease_seconds: float
    ) -> Execution | None: ...
    def extend_lease(self, execution_id: str, owner: str, lease_seconds: float) -> bool: ...
    def reclaimable_executions(
        self, now: datetime | None = None, limit: int = 500
    ) -> list[str]: ...


class SubScenarioStore(LeaseStore, Protocol):
    """Calling a scenario from another (``engine.subscenarios.SubScenarios``): the callee,
    its execution (created claimed, run inline) and its results."""

    def get_scenario(self, user_id: str, scenario_id: str) -> Scenario | None: ...
    def list_scenarios(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        file_runs: bool = False,
    ) -> list[Scenario]: ...
    def get_execution(self, user_id: str | None, execution_id: str) -> Execution | None: ...
    def node_results(self, execution_id: str) -> list[NodeResult]: ...
    def create_execution(
        self,
        *,
        scenario_id: str,
        scenario_version: int,
        user_id: str,
        trigger: dict[str, Any],
        idempotency_key: str | None = None,
        status: str = ...,
        rerun_of: str | None = None,
        resume_from: str | None = None,
        claim_owner: str | None = None,
        lease_seconds: float = 60.0,
        hops: int = 0,
        parent_execution_id: str | None = None,
    ) -> tuple[Execution, bool]: ...
    def finish_execution(
        self,
        execution_id: str,
        *,
        status: str,
        error: dict[str, Any] | None = None,
        node_results: list[dict[str, Any]] | None = None,
        analytics: AnalyticsFacts | None = None,
    ) -> Execution: ...
