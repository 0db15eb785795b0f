"""Configuration: ``CELLWRIGHT_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".cellwright"


class Settings(BaseSettings):
    """Every setting has a default that works on one machine, offline."""

    model_config = SettingsConfigDict(
        env_prefix="CELLWRIGHT_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite store, the vault key and the analytics file live.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL; default: SQLite in the data directory. "
            "PostgreSQL: postgresql+psycopg://user@host/db"
        ),
    )
    broker_url: str | None = Field(
        None,
        description=(
            "Celery broker: scaled-out mode (redis://host:6379/0 or amqp://user:pass@host//)."
            " `cellwright worker` processes run the executions, `cellwright serve` only"
            " ingests and enqueues; needs PostgreSQL. Empty: the in-process executor."
        ),
    )
    redis_url: str | None = Field(
        None,
        description=(
            "Redis for scaled-out mode's run notifications (synchronous webhooks) and shared"
            " rate limits; default: broker_url when it is a redis:// URL. Without Redis,"
            " waiting for a run polls the store and rate limits count per process."
        ),
    )
    queue_name: str = Field(
        "cellwright",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description=(
            "The Celery queue of this deployment; also the prefix of its keys in Redis, so"
            " two deployments can share one broker."
        ),
    )
    worker_concurrency: int = Field(
        50,
        ge=1,
        le=1000,
        description=(
            "Executions one `cellwright worker` process runs at once (threads waiting on"
            " the process' one event loop)."
        ),
    )
    vault_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Base64 AES-256 keys, newest first; default: a key file in the data directory.",
    )

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None,
        description=(
            "The URL users and vendors reach the server at (webhook URLs); "
            "default http://host:port."
        ),
    )
    webhook_workers: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Extra processes `cellwright serve` starts to answer /hooks/ (and the REST API) on"
            " webhook_port, next to the workspace; they share the store and run what they"
            " receive. 0: the server answers webhooks itself. One per spare core is a good start."
        ),
    )
    webhook_port: int | None = Field(
        None, description="The port the webhook workers share; default: port + 1."
    )
    webhook_public_url: str | None = Field(
        None,
        description=(
            "The URL vendors reach /hooks/ at, when it differs from public_url (webhook"
            " workers, or a proxy that routes /hooks/ elsewhere); default: public_url, or"
            " http://host:webhook_port with webhook workers."
        ),
    )
    ssl_certfile: Path | None = Field(
        None,
        description=(
            "PEM certificate (chain) to serve HTTPS with, together with ssl_keyfile; the"
            " default public URL is then https://host:port."
        ),
    )
    ssl_keyfile: Path | None = Field(None, description="PEM private key of ssl_certfile.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description=(
            "Addresses (or networks, 10.0.0.0/8) whose X-Forwarded-For and X-Forwarded-Proto"
            " headers are believed: the client address of sign-in throttling and the audit"
            " trail. Comma-separated; '*' trusts everyone (only behind a proxy that sets"
            " both headers); empty: nobody. Default: loopback."
        ),
    )
    api_rate_limit: int = Field(
        600,
        ge=0,
        description=(
            "REST API requests one account may make per minute, "
            "per process (429 above; 0: no limit)."
        ),
    )
    webhook_rate_limit: int = Field(
        6000,
        ge=0,
        description=(
            "Requests one webhook URL accepts per minute, per process (429 above; 0: no limit)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        None,
        description=(
            "Turns /metrics (Prometheus) on: scrapers send it as 'Authorization: Bearer"
            " <token>'. Unset: /metrics answers 404."
        ),
    )
    demo_data: bool = Field(
        True, description="Create a demo user and scenarios on first start with an empty store."
    )

    quota_executions_per_day: int = Field(
        0,
        ge=0,
        description=(
            "Executions each user may start per day (UTC); 0: unlimited. A trigger over the"
            " quota is refused (webhooks answer 429) until the day ends."
        ),
    )
    quota_executions_per_month: int = Field(
        0,
        ge=0,
        description="Executions each user may start per calendar month (UTC); 0: unlimited.",
    )
    vendor_limit_max_wait_seconds: float = Field(
        1.5,
        ge=0,
        description=(
            "How long a call may wait for its turn under its app's declared vendor limits;"
            " a call that would wait longer parks its run (status waiting) and retries."
        ),
    )
    max_concurrent_executions: int = Field(
        200, ge=1, description="Executions the local executor runs at once."
    )
    lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a claimed execution is owned before another process may resume it.",
    )
    scheduler_lease_seconds: float = Field(
        15.0,
        ge=3.0,
        description=(
            "How long the process running the schedules holds its lease; if it dies, another"
            " takes over within this plus a third of it."
        ),
    )
    max_reclaims: int = Field(
        3,
        ge=0,
        description=(
            "How often an execution whose lease expired "
            "(its process stopped or stalled) is taken over and run again; "
            "past this it fails with 'run_abandoned' instead "
            "(a run that brings its server down every time)."
        ),
    )
    mapping_cell_seconds: float = Field(
        3.0,
        gt=0,
        description=(
            "CPU seconds the mappings of one cell may use in all (each expression: at most 1 s)."
        ),
    )
    mapping_run_seconds: float = Field(
        10.0,
        gt=0,
        description="CPU seconds the mappings of one run may use in all, over all its cells.",
    )
    code_timeout_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description=(
            "Seconds one code cell's JavaScript may run before it is stopped (code_timeout)."
        ),
    )
    code_memory_mb: int = Field(
        64,
        ge=8,
        le=2048,
        description=(
            "Memory (MB) one code cell's JavaScript may use before it is stopped (code_memory)."
        ),
    )
    code_workers: int = Field(
        2,
        ge=1,
        le=64,
        description=(
            "Worker processes that run code cells; more code cells at once wait for a free one."
        ),
    )
    code_log_chars: int = Field(
        10_000,
        ge=0,
        description=(
            "console.log text one code cell may keep in its output (_console); "
            "further lines are dropped."
        ),
    )
    retry_base_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles each attempt, with jitter."
    )
    retry_max_seconds: float = Field(300.0, gt=0)
    alert_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description=(
            "Tries of one alert webhook delivery "
            "(the first POST and its retries) while it gets no answer or HTTP 408, "
            "429 or 5xx; waits as retry_base_seconds / retry_max_seconds."
        ),
    )
    execution_timeout_seconds: float = Field(
        300.0, gt=0, description="Default cap on a whole run (a scenario may set its own)."
    )
    max_delay_days: float = Field(
        30.0,
        gt=0,
        description="Longest wait of one Delay cell (delay for / until) or one 'Wait for a call'"
        " timeout, in days; a longer one fails the cell with limit_exceeded.",
    )
    loop_max_items: int = Field(
        1000,
        ge=1,
        le=100_000,
        description=(
            "Default cap on the items of one loop cell: "
            "a longer list fails the loop before any item runs "
            "(a scenario may set its own, max_loop_items)."
        ),
    )
    pause_after_failures: int = Field(
        5,
        ge=0,
        le=1000,
        description=(
            "Default number of runs in a row that fail before a scenario is paused with status "
            "'error' (0: never; a scenario may set its own)."
        ),
    )
    webhook_max_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="Largest webhook body accepted (413 above)."
    )
    request_max_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description=(
            "Largest body accepted by every other route — the REST API, "
            "sign-in, the demo echo (413 above, checked while reading)."
        ),
    )
    sync_response_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a synchronous webhook waits for the run to finish."
    )

    http_allow_private: bool = Field(
        False,
        description=(
            "Let the HTTP action and connectors reach private/loopback addresses "
            "(trusted installs only)."
        ),
    )
    http_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDR ranges the HTTP action may reach besides public addresses.",
    )
    http_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact origins (scheme://host:port) allowed besides public addresses.",
    )
    http_allowed_urls: list[str] = Field(
        default_factory=list,
        description=(
            "Exact URLs (scheme://host:port/path; any query) allowed besides public addresses, "
            "and nothing else on their origin. With demo data, "
            "`cellwright serve` adds its own /demo/echo."
        ),
    )
    max_scenario_depth: int = Field(
        5,
        ge=1,
        le=50,
        description='How deep "Run scenario" cells may nest: a scenario called by a '
        "scenario called by … (the first caller is level 0); a call deeper than this fails "
        "with limit_exceeded.",
    )
    max_hops: int = Field(
        8,
        ge=1,
        le=100,
        description=(
            "How many Cellwright scenarios may trigger one another in a chain through webhooks "
            "(the HTTP action sends X-Cellwright-Hops); "
            "a webhook call over it is refused with 508 and starts no run."
        ),
    )

    connection_check_minutes: float = Field(
        60.0,
        ge=0,
        description=(
            "The health check re-validates each connection at most this often "
            "(minutes); 0 turns it off."
        ),
    )
    connection_check_spacing_seconds: float = Field(
        2.0,
        ge=0,
        description="Pause between two connection checks, so the health check never sends a burst.",
    )

    oauth_clients: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Per app key: client_id, client_secret and, where the vendor signs webhooks with it, "
            "signing_secret (the operator's OAuth apps)."
        ),
    )
    extra_apps: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Apps to load beside the shipped ones: 'module:attribute' entries, "
            "each naming an App or a list of Apps (env: comma-separated, or a JSON list). "
            "Installed packages can also declare entry points in the group 'cellwright.apps'."
        ),
        examples=[["acme_apps:app", "acme_apps.crm:apps"]],
    )
    assistant_model: str | None = Field(
        None,
        description=(
            "The litellm model the chat assistant drafts scenarios with "
            "(needs the 'assistant' extra); empty turns the assistant off."
        ),
        examples=["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "ollama/llama3.1"],
    )
    assistant_api_base: str | None = Field(
        None,
        description=(
            "The model provider's URL, "
            "for a self-hosted or OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1)."
        ),
    )
    assistant_api_key: SecretStr | None = Field(
        None,
        description=(
            "The model provider's API key; "
            "empty: litellm reads the provider's usual variable (OPENAI_API_KEY, …)."
        ),
    )
    assistant_timeout_seconds: float = Field(
        60.0, gt=0, le=600, description="How long one request to the model may take."
    )
    analytics: bool = Field(
        True, description="Log finished executions to DuckDB for the dashboards."
    )
    retention_days: int = Field(
        30,
        ge=1,
        description=(
            "Executions older than this are deleted, on a schedule by the process running the"
            " schedules; an administrator may set a user's own period."
        ),
    )
    retention_failed_days: int | None = Field(
        None,
        ge=1,
        description=(
            "Keep failed executions this long instead (never shorter than retention_days);"
            " empty: like the others."
        ),
    )
    retention_interval_seconds: float = Field(
        21_600.0,
        ge=1.0,
        description="How often the retention sweep runs (default every 6 hours; 0 is not allowed).",
    )
    data_store_max_stores: int = Field(
        50, ge=1, description="Data stores one user may have (CELLWRIGHT_DATA_STORE_MAX_STORES)."
    )
    data_store_max_records: int = Field(
        10_000,
        ge=1,
        description="Records one data store may hold (CELLWRIGHT_DATA_STORE_MAX_RECORDS).",
    )
    data_store_max_value_bytes: int = Field(
        65_536,
        ge=16,
        description=(
            "Bytes of one data store value, "
            "as compact JSON (CELLWRIGHT_DATA_STORE_MAX_VALUE_BYTES)."
        ),
    )
    log_level: str = "INFO"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        """``CELLWRIGHT_TRUSTED_PROXIES=10.0.0.5,10.0.1.0/24`` or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError(
                        "not a JSON list: write the addresses comma-separated "
                        '(10.0.0.5,10.0.1.0/24) or as ["10.0.0.5"]'
                    ) from None
            else:
                value = text.split(",")
        if isinstance(value, list | tuple):
            entries = [
                item.strip() if isinstance(item, str) else item
                for item in value
                if not (isinstance(item, str) and not item.strip())
            ]
            for entry in entries:
                if entry == "*":
                    continue
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is not an IP address or network: "
                        "write addresses such as 10.0.0.5 or 10.0.1.0/24, or '*'"
                    ) from None
            return entries
        return value

    @field_validator("extra_apps", mode="before")
    @classmethod
    def _split_entries(cls, value: Any) -> Any:
        """``CELLWRIGHT_EXTRA_APPS=acme:app,acme.crm:apps`` or a JSON list; blanks are dropped."""
        if isinstance(value, str):
            text = value.strip()
            if not text.startswith("["):
                value = text.split(",")
            else:
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError(
                        "not a JSON list: write the entries comma-separated "
                        '(acme:app,acme.crm:apps) or as ["acme:app"]'
                    ) from None
        if isinstance(value, list | tuple):
            return [
                item.strip() if isinstance(item, str) else item
                for item in value
                if not (isinstance(item, str) and not item.strip())
            ]
        return value

    def resolved_public_url(self) -> str:
        scheme = "https" if self.serves_https() else "http"
        return (self.public_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

    def serves_https(self) -> bool:
        """This server answers HTTPS itself (a certificate and key are configured)."""
        return self.ssl_certfile is not None

    def public_https(self) -> bool:
        """Users reach the server over HTTPS (its own, or a proxy's): cookies are
        ``Secure`` and responses carry ``Strict-Transport-Security``."""
        return self.resolved_public_url().lower().startswith("https://")

    def resolved_webhook_port(self) -> int:
        return self.webhook_port if self.webhook_port is not None else self.port + 1

    def resolved_webhook_url(self) -> str:
        """Where vendors send webhooks: the base of every ``/hooks/…`` URL shown."""
        if self.webhook_public_url:
            return self.webhook_public_url.rstrip("/")
        if self.webhook_workers and not self.public_url:
            scheme = "https" if self.serves_https() else "http"
            return f"{scheme}://{self.host}:{self.resolved_webhook_port()}"
        return self.resolved_public_url()

    def scaled_out(self) -> bool:
        """A broker is set: Celery workers run the executions (engine/cluster.py)."""
        return bool(self.broker_url)

    def resolved_redis_url(self) -> str | None:
        """Redis for notifications and shared limits: redis_url, else a Redis broker."""
        if self.redis_url:
            return self.redis_url
        broker = self.broker_url or ""
        return broker if broker.startswith(("redis://", "rediss://", "unix://")) else None

    def ensure_data_dir(self) -> Path:
        """The data directory, created (or made) private to this account: mode 0700."""
        from storage.datadir import make_private_dir

        return make_private_dir(self.data_dir)
