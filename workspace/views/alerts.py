"""Alert rules ("when scenario X — or any — fails, tell me"), per user, and the list of
failures they match (the workspace's notification list).

Rules live in the store (``alert_rules``). The engine delivers them when an execution
fails (``engine/alerts.py``): a rule's webhook URL gets a POST, its recipients an e-mail
through the user's SMTP connection (``engine/alert_email.py``); the workspace lists the
failures matched by rules that notify in the workspace, and those of scenarios with
``notify_on_error`` (audited as ``alert.execution_failed``). Each webhook rule shows its
last delivery, and each e-mail rule its last e-mail, read from the audit trail
(``alert.delivered`` / ``alert.delivery_failed``, written by the engine once a delivery's
retries are over; e-mails carry ``channel: "email"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import param

from connectors.sdk import InvalidInputError
from engine.alerts import DELIVERED, DELIVERY_FAILED

MAX_RULES = 50
#: audit entries looked at for ``notify_on_error`` failures and last deliveries
AUDIT_WINDOW = 200


def _rule_dict(rule: Any) -> dict[str, Any]:
    """``{id, scenario_id (None = any), notify_workspace, webhook_url, created_at,
    email_connection_id, email_to}``."""
    data = rule.to_dict()
    data.pop("user_id", None)
    return data


class AlertRules(param.Parameterized):
    """One user's rules:
    ``{id, scenario_id (None = any), notify_workspace, webhook_url, created_at}``."""

    rules = param.List(default=[])
    deliveries = param.Dict(
        default={}, doc="Rule id → its webhook's last delivery (see :meth:`last_deliveries`)."
    )
    email_deliveries = param.Dict(
        default={}, doc="Rule id → its last alert e-mail (see :meth:`last_deliveries`)."
    )

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    def refresh(self) -> list[dict[str, Any]]:
        self.rules = [_rule_dict(r) for r in self.svc.accounts.alert_rules(self.user.id)]
        self.deliveries = self.last_deliveries()
        self.email_deliveries = self.last_deliveries(channel="email")
        return self.rules

    def email_connections(self) -> dict[str, str]:
        """``{label: connection id}`` of the user's SMTP connections, for the rule form."""
        return dict(self.svc.connections.choices(self.user.id, "smtp"))

    def add(
        self,
        scenario_id: str | None,
        *,
        notify_workspace: bool = True,
        webhook_url: str | None = None,
        email_connection_id: str | None = None,
        email_to: str | list[str] | None = None,
    ) -> dict[str, Any]:
        """Add a rule; the e-mail channel (an SMTP connection of the user's and the
        recipients, comma-separated or a list) is checked by ``svc.accounts``."""
        webhook_url = (webhook_url or "").strip() or None
        email_connection_id = email_connection_id or None
        if isinstance(email_to, str):
            email_to = email_to.strip() or None
        if webhook_url is not None and (
            urlsplit(webhook_url).scheme not in ("http", "https")
            or not urlsplit(webhook_url).netloc
        ):
            raise InvalidInputError(
                "The webhook URL must start with https:// (or http://).",
                errors=[{"field": "webhook_url", "message": "not an http(s) URL"}],
            )
        if not notify_workspace and webhook_url is None and not (email_connection_id or email_to):
            raise InvalidInputError(
                "Choose where to be told: in the workspace, a webhook URL, by e-mail, or several.",
                errors=[{"field": "notify", "message": "nowhere"}],
            )
        if len(self.svc.accounts.alert_rules(self.user.id)) >= MAX_RULES:
            raise InvalidInputError(
                f"You have {MAX_RULES} alert rules already; delete one first.", errors=[]
            )
        rule = self.svc.accounts.add_alert_rule(
            self.user.id,
            scenario_id=scenario_id,
            notify_workspace=notify_workspace,
            webhook_url=webhook_url,
            email_connection_id=email_connection_id,
            email_to=email_to,
        )
        self.refresh()
        return _rule_dict(rule)

    def delete(self, rule_id: str) -> None:
        self.svc.accounts.delete_alert_rule(
            self.user.id, rule_id
        )  # someone else's rule: nothing happens
        self.refresh()

    def last_deliveries(self, channel: str = "webhook") -> dict[str, dict[str, Any]]:
        """Each webhook rule's last delivery (``channel="email"``: each e-mail rule's last
        alert e-mail), from the newest ``AUDIT_WINDOW`` audit entries:
        ``{rule id: {delivered, attempts, status, error, at, execution_id, summary}}``. A rule
        with no delivery yet (or none that recent) is absent."""
        field = "email_connection_id" if channel == "email" else "webhook_url"
        webhooks = {r["id"] for r in self.rules if r.get(field)}
        found: dict[str, dict[str, Any]] = {}
        if not webhooks:
            return found
        for entry in self.svc.accounts.audit_entries(
            self.user.id, limit=AUDIT_WINDOW
        ):  # newest first
            if entry.action not in (DELIVERED, DELIVERY_FAILED):
                continue
            details = entry.details if isinstance(entry.details, dict) else {}
            if details.get("channel", "webhook") != channel:
                continue
            for rule_id in details.get("rule_ids") or []:
                if rule_id in webhooks and rule_id not in found:
                    found[rule_id] = _delivery(entry, details)
            if len(found) == len(webhooks):
                break
        return found

    def notifications(self, limit: int = 20) -> list[dict[str, Any]]:
        """Failed executions matched by a rule that notifies in the workspace, or alerted by
        their scenario's ``notify_on_error``, newest first."""
        watched = [r for r in self.rules if r.get("notify_workspace")]
        audited = {
            e.object_id
            for e in self.svc.accounts.audit_entries(self.user.id, limit=AUDIT_WINDOW)
            if e.action == "alert.execution_failed"
        }
        if not watched and not audited:
            return []
        first = min(datetime.fromisoformat(r["created_at"]) for r in watched) if watched else None
        any_scenario = any(r.get("scenario_id") is None for r in watched)
        ids = {r["scenario_id"] for r in watched if r.get("scenario_id")}

        def matched(e: Any) -> bool:
            if e.id in audited:
                return True
            return (
                first is not None
                and e.created_at >= first
                and (any_scenario or e.scenario_id in ids)
            )

        failed = self.svc.executions.records(
            self.user.id, status="failed", since=None if audited else first, limit=limit * 3
        )
        return [e.to_dict() for e in failed if matched(e)][:limit]


def _delivery(entry: Any, details: dict[str, Any]) -> dict[str, Any]:
    delivered = entry.action == DELIVERED
    attempts = details.get("attempts") or 1
    status, error = details.get("status"), details.get("error")
    if details.get("channel") == "email":
        count = details.get("recipients") or 0
        why = error or f"e-mail to {count} recipient{'s' if count != 1 else ''}"
    else:
        why = f"HTTP {status}" if status is not None else (error or "no answer")
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    # "delivered (HTTP 200)", "delivered after 3 attempts (HTTP 200)",
    # "failed after 4 attempts (HTTP 503)"
    summary = (
        f"delivered{tries} ({why})" if delivered else f"failed{tries or ' after 1 attempt'} ({why})"
    )
    if details.get("attempts") == 0:  # e.g. the rule's e-mail connection was deleted
        summary = f"not sent ({why})"
    return {
        "delivered": delivered,
        "attempts": attempts,
        "status": status,
        "error": error,
        "at": entry.at.isoformat(),
        "execution_id": entry.object_id,
        "summary": summary,
    }


__all__ = ["AlertRules"]
