"""Alert rules: per user, "when scenario X (or any) fails, tell me"."""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from ..models import AlertRuleRow
from ..records import AlertRule
from ._base import RepoBase, new_id, rowcount, to_record, utcnow


class AlertsRepo(RepoBase):
    def create_alert_rule(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        notify_workspace: bool = True,
        webhook_url: str | None = None,
        email_connection_id: str | None = None,
        email_to: list[str] | None = None,
    ) -> AlertRule:
        """Add a rule for ``user_id``; ``scenario_id`` None matches every scenario.
        The caller validates the URL, the addresses, and that the scenario and the
        connection are the user's."""
        row = AlertRuleRow(
            id=new_id(),
            user_id=user_id,
            scenario_id=scenario_id,
            notify_workspace=notify_workspace,
            webhook_url=webhook_url,
            created_at=utcnow(),
            email_connection_id=email_connection_id,
            email_to=list(email_to) if email_to else None,
        )
        with self._write() as s:
            s.add(row)
        return to_record(AlertRule, row)

    def list_alert_rules(self, user_id: str) -> list[AlertRule]:
        """The user's rules, oldest first."""
        query = (
            select(AlertRuleRow).where(AlertRuleRow.user_id == user_id).order_by(AlertRuleRow.id)
        )
        with self._read() as s:
            return [to_record(AlertRule, r) for r in s.scalars(query)]

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool:
        """Delete one of the user's rules; False when there is no such rule of theirs."""
        query = delete(AlertRuleRow).where(
            AlertRuleRow.id == rule_id, AlertRuleRow.user_id == user_id
        )
        with self._write() as s:
            return rowcount(s.execute(query)) > 0

    def alert_rules_for(self, user_id: str, scenario_id: str) -> list[AlertRule]:
        """The user's rules that match a failure of ``scenario_id`` (its own and "any")."""
        query = (
            select(AlertRuleRow)
            .where(
                AlertRuleRow.user_id == user_id,
                or_(AlertRuleRow.scenario_id == scenario_id, AlertRuleRow.scenario_id.is_(None)),
            )
            .order_by(AlertRuleRow.id)
        )
        with self._read() as s:
            return [to_record(AlertRule, r) for r in s.scalars(query)]
