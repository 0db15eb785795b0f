"""Alert rules ("when scenario X — or any — fails, tell me"), per user, and the list of
failures they match (the workspace's notification list).

Interim store: one JSON file per user in ``<data dir>/alert-rules/`` (the store has no table
for rules yet). Delivering a rule's webhook needs a hook in the engine when an execution
fails; until then a rule's webhook URL is stored and shown, and the workspace lists matches.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import param

from connectors.sdk import InvalidInputError

DIRNAME = "alert-rules"
MAX_RULES = 50
_LOCK = threading.Lock()


class AlertRules(param.Parameterized):
    """One user's rules: ``{id, scenario_id (None = any), notify_workspace, webhook_url, created_at}``."""

    rules = param.List(default=[])

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.path: Path = svc.settings.ensure_data_dir() / DIRNAME / f"{user.id}.json"
        self.rules = self._read()

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def _write(self, rules: list[dict[str, Any]]) -> None:
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # webhook URLs may carry tokens
            with os.fdopen(fd, "w") as fh:
                json.dump(rules, fh, indent=2)
            os.replace(tmp, self.path)
        self.rules = rules

    def add(self, scenario_id: str | None, *, notify_workspace: bool = True, webhook_url: str | None = None) -> dict[str, Any]:
        webhook_url = (webhook_url or "").strip() or None
        if webhook_url is not None and (urlsplit(webhook_url).scheme not in ("http", "https") or not urlsplit(webhook_url).netloc):
            raise InvalidInputError("The webhook URL must start with https:// (or http://).", errors=[{"field": "webhook_url", "message": "not an http(s) URL"}])
        if not notify_workspace and webhook_url is None:
            raise InvalidInputError("Choose where to be told: in the workspace, a webhook URL, or both.", errors=[{"field": "notify", "message": "nowhere"}])
        if scenario_id is not None:
            self.svc.scenario(self.user.id, scenario_id)  # NotFound for someone else's or a deleted scenario
        if len(self.rules) >= MAX_RULES:
            raise InvalidInputError(f"You have {MAX_RULES} alert rules already; delete one first.", errors=[])
        rule = {
            "id": secrets.token_hex(6), "scenario_id": scenario_id, "notify_workspace": notify_workspace,
            "webhook_url": webhook_url, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write([*self.rules, rule])
        return rule

    def delete(self, rule_id: str) -> None:
        self._write([r for r in self.rules if r.get("id") != rule_id])

    def notifications(self, limit: int = 20) -> list[dict[str, Any]]:
        """Failed executions matched by a rule that notifies in the workspace, newest first."""
        watched = [r for r in self.rules if r.get("notify_workspace")]
        if not watched:
            return []
        since = min(datetime.fromisoformat(r["created_at"]) for r in watched)
        any_scenario = any(r.get("scenario_id") is None for r in watched)
        ids = {r["scenario_id"] for r in watched if r.get("scenario_id")}
        failed = self.svc.store.list_executions(self.user.id, status="failed", since=since, limit=limit * 3)
        out = [e.to_dict() for e in failed if any_scenario or e.scenario_id in ids]
        return out[:limit]


__all__ = ["AlertRules"]
