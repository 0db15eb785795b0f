"""``Privacy``: a user's data export, account deletion, and a data subject's erasure.

* :meth:`Privacy.export` writes everything an account owns to one zip archive, page by
  page (executions ``BATCH`` at a time), without any secret: connections without their
  credentials, API keys without their hash, execution records scrubbed once more.
* :meth:`Privacy.delete_account` removes every row of a user (the store's
  ``delete_account``), and their analytics rows. The audit trail is kept whole: its
  entries are hash-chained over the user and actor ids, so they cannot be rewritten
  without breaking the chain. Those ids are random (``new_id``) and, once the user row
  is gone, point at nobody: the entries are pseudonymous (docs/security.md, "GDPR").
* :meth:`Privacy.find` / :meth:`Privacy.erase`: an administrator finds a value (an
  e-mail address) in every user's execution records and replaces it with ``[erased]``;
  the audit entry holds a hash of the value and the counts, never the value.

Audited: ``account.export``, ``account.delete``, ``privacy.erase``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from cells.secrets import scrub
from connectors.sdk import InvalidInputError
from engine.errors import Conflict, NotFound
from storage import ERASED, MAX_SEARCH_LENGTH, MIN_ERASE_LENGTH

if TYPE_CHECKING:
    from engine.ports import PrivacyStore
    from storage import Connection, ErasureMatch, User

__all__ = ["EXPORT_FORMAT", "ErasureResult", "Privacy"]

#: the archive's layout version (manifest.json ``format``)
EXPORT_FORMAT = 1
BATCH = 500

_README = """# Your Cellwright data

Exported {exported_at} for {email} (user id {user_id}).

| file | what |
| --- | --- |
| manifest.json | this export: who, when, how many of each |
| account.json | your account (e-mail, name, role, created) |
| scenarios/<id>.json | a scenario and every saved version of its document |
| executions.jsonl | one execution a line, with every cell's input, output, error and timings |
| connections.json | your connections: name, app, auth kind, status, created (no credentials) |
| data_stores.json | your data stores and their records |
| alert_rules.json | your alert rules |
| api_keys.json | your API keys: name, prefix, created, last used, revoked (never the key) |
| audit.jsonl | the audit trail's entries about your account and objects |

Secrets are not part of an export: connection credentials, secrets typed into cells
(scenario documents hold {{"$secret": id}} references instead) and API keys stay out,
and credential headers in execution records are masked (**********).
"""


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure changed."""

    executions: int
    cells: int
    value_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "cells": self.cells,
            "value_sha256": self.value_sha256,
        }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _check_value(value: str) -> str:
    value = value.strip()
    if len(value) < MIN_ERASE_LENGTH or len(value) > MAX_SEARCH_LENGTH:
        raise InvalidInputError(
            f"Search for a value of {MIN_ERASE_LENGTH} to {MAX_SEARCH_LENGTH} characters "
            "(an e-mail address, a phone number, a name).",
            errors=[{"field": "value", "message": "too short or too long"}],
        )
    if value.lower() in ERASED.lower():
        raise InvalidInputError(
            f"{value!r} is part of the erasure marker {ERASED}: search for another value.",
            errors=[{"field": "value", "message": "part of the erasure marker"}],
        )
    return value


def value_digest(value: str) -> str:
    """What the audit trail keeps of an erased value: its SHA-256 (lower-cased)."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


class Privacy:
    """Export, deletion and erasure. ``auth_kind`` names a connection's auth kind
    (``oauth2``, ``api_key``…) from the app registry; ``analytics``: whether the DuckDB
    log is kept (``Settings.analytics``), so an erasure is queued for it."""

    def __init__(
        self,
        store: PrivacyStore,
        auth_kind: Callable[[Connection], str | None],
        *,
        analytics: bool = True,
    ) -> None:
        self._store = store
        self._auth_kind = auth_kind
        self._analytics = analytics

    # -- export -------------------------------------------------------------------------

    def export(
        self, user_id: str, out: IO[bytes], *, now: datetime | None = None
    ) -> dict[str, int]:
        """Write the user's data to ``out`` as a zip archive; returns how many of each
        were written. Audited as ``account.export`` (with the counts)."""
        user = self._store.get_user(user_id)
        if user is None:
            raise NotFound(f"No user {user_id}.")
        exported_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        counts: dict[str, int] = {}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("account.json", _json(user.to_dict()))
            counts["scenarios"], counts["scenario_versions"] = self._export_scenarios(
                archive, user_id
            )
            counts["executions"], counts["cells"] = self._export_executions(archive, user_id)
            connections = [self._connection_out(c) for c in self._store.list_connections(user_id)]
            archive.writestr("connections.json", _json(connections))
            counts["connections"] = len(connections)
            stores = [
                {**store.to_dict(), "records": [r.to_dict() for r in records]}
                for store, records in self._store.data_store_export(user_id)
            ]
            archive.writestr("data_stores.json", _json(stores))
            counts["data_stores"] = len(stores)
            rules = [r.to_dict() for r in self._store.list_alert_rules(user_id)]
            archive.writestr("alert_rules.json", _json(rules))
            counts["alert_rules"] = len(rules)
            keys = [k.to_dict() for k in self._store.list_api_keys(user_id)]
            archive.writestr("api_keys.json", _json(keys))
            counts["api_keys"] = len(keys)
            counts["audit_entries"] = self._export_audit(archive, user_id)
            manifest = {
                "format": EXPORT_FORMAT,
                "exported_at": exported_at,
                "user": {"id": user.id, "email": user.email},
                "counts": counts,
            }
            archive.writestr("manifest.json", _json(manifest))
            archive.writestr(
                "README.md",
                _README.format(exported_at=exported_at, email=user.email, user_id=user.id),
            )
        self._store.audit(user_id, "account.export", "user", user_id, dict(counts))
        return counts

    def _export_scenarios(self, archive: zipfile.ZipFile, user_id: str) -> tuple[int, int]:
        scenarios = self._store.list_scenarios(user_id) + self._store.list_scenarios(
            user_id, file_runs=True
        )
        seen: set[str] = set()
        versions = 0
        for scenario in scenarios:
            if scenario.id in seen:
                continue
            seen.add(scenario.id)
            history = [
                {"version": v, "saved_at": at.isoformat(), "document": doc}
                for v, at, doc in self._store.scenario_versions(scenario.id)
            ]
            versions += len(history)
            body = {"scenario": scenario.to_dict(), "versions": history}
            archive.writestr(f"scenarios/{scenario.id}.json", _json(body))
        return len(seen), versions

    def _export_executions(self, archive: zipfile.ZipFile, user_id: str) -> tuple[int, int]:
        executions = cells = 0
        after: str | None = None
        with archive.open("executions.jsonl", "w", force_zip64=True) as out:
            while True:
                page = self._store.executions_page(user_id, after=after, limit=BATCH)
                for execution, results in page:
                    record = execution.to_dict()
                    record["cells"] = [r.to_dict() for r in results]
                    out.write((_json(scrub(record)) + "\n").encode())
                    cells += len(results)
                executions += len(page)
                if len(page) < BATCH:
                    return executions, cells
                after = page[-1][0].id

    def _export_audit(self, archive: zipfile.ZipFile, user_id: str) -> int:
        written = 0
        with archive.open("audit.jsonl", "w", force_zip64=True) as out:
            while True:
                entries = self._store.audit_entries(user_id, BATCH, offset=written)
                for entry in entries:
                    out.write((_json(entry.to_dict()) + "\n").encode())
                written += len(entries)
                if len(entries) < BATCH:
                    return written

    def _connection_out(self, connection: Connection) -> dict[str, Any]:
        return {
            "id": connection.id,
            "name": connection.name,
            "app": connection.app_id,
            "auth_kind": self._auth_kind(connection),
            "status": connection.status,
            "status_message": connection.status_message,
            "is_sandbox": connection.is_sandbox,
            "created_at": connection.created_at.isoformat(),
            "last_used": connection.last_used.isoformat() if connection.last_used else None,
        }

    # -- account deletion ---------------------------------------------------------------

    def delete_account(self, actor: User, user_id: str) -> dict[str, int]:
        """Delete ``user_id``'s account and everything of theirs (``actor``: the user
        themselves, or an administrator). The last administrator cannot be deleted:
        make someone else an administrator first. Audited as ``account.delete`` (the
        counts; the entry's user id is the deleted, now pseudonymous, id)."""
        if actor.id != user_id and not actor.is_admin:
            raise NotFound(f"No user {user_id}.")
        user = self._store.get_user(user_id)
        if user is None:
            raise NotFound(f"No user {user_id}.")
        self.check_deletable(user)
        counts = self._store.delete_account(user_id)
        details = {k: v for k, v in counts.items() if v}
        self._store.audit(user_id, "account.delete", "user", user_id, details, actor_id=actor.id)
        return counts

    def check_deletable(self, user: User) -> None:
        """``Conflict`` when ``user`` is the last administrator."""
        if user.is_admin:
            others = [u for u in self._store.list_users() if u.is_admin and u.id != user.id]
            if not others:
                raise Conflict(
                    f"{user.email} is the last administrator: make another user an "
                    "administrator first, then delete this account."
                )

    # -- a data subject's erasure -------------------------------------------------------

    def find(self, value: str, *, limit: int = 100) -> tuple[int, list[ErasureMatch]]:
        """Every user's executions whose records hold ``value``: how many, and the first
        ``limit`` (searched ``BATCH`` at a time)."""
        value = _check_value(value)
        total = 0
        shown: list[ErasureMatch] = []
        after: str | None = None
        while True:
            page = self._store.find_executions_containing(value, after=after, limit=BATCH)
            total += len(page)
            shown.extend(page[: max(0, limit - len(shown))])
            if len(page) < BATCH:
                return total, shown
            after = page[-1].id

    def erase(self, actor_id: str, value: str) -> ErasureResult:
        """Replace ``value`` with ``[erased]`` in every user's execution records (trigger
        data, cell inputs, outputs and errors; executions stay) and in the analytics
        log. Audited as ``privacy.erase`` with the counts and the value's SHA-256, never
        the value."""
        value = _check_value(value)
        executions = cells = 0
        after: str | None = None
        while True:
            page = self._store.find_executions_containing(value, after=after, limit=BATCH)
            changed = self._store.erase_value(value, [m.id for m in page])
            executions += changed[0]
            cells += changed[1]
            if len(page) < BATCH:
                break
            after = page[-1].id
        if self._analytics:  # off: no log to erase from, and no copy of the value kept
            self._store.queue_analytics_erasure(value)
        result = ErasureResult(executions, cells, value_digest(value))
        self._store.audit(
            actor_id, "privacy.erase", "executions", None, result.to_dict(), actor_id=actor_id
        )
        return result
