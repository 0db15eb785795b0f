"""What triggers keep between events: polling state and vendor webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError
from ..models import TriggerStateRow, WebhookSubscriptionRow
from ..records import TriggerState, WebhookSubscription
from ._base import RepoBase, new_id, to_record, utcnow

_UNSET: Any = object()


def subscription_aad(subscription_id: str) -> str:
    """The vault's associated data for a webhook subscription's state."""
    return f"webhook_subscriptions/{subscription_id}"


class TriggersRepo(RepoBase):
    # ------------------------------------------------------------ polling state
    def get_trigger_state(self, scenario_id: str, cell_id: str) -> TriggerState | None:
        """The polling state of one trigger cell, or None before its first poll."""
        with self._read() as s:
            row = s.get(TriggerStateRow, (scenario_id, cell_id))
            return to_record(TriggerState, row) if row else None

    def save_trigger_state(
        self,
        scenario_id: str,
        cell_id: str,
        *,
        cursor: Any = None,
        seen_ids: list[str] | None = None,
        baseline_at: datetime | None = None,
        next_poll_at: datetime | None = None,
    ) -> TriggerState:
        """Create or update a trigger's state. Arguments left as None keep their stored
        value (use :meth:`delete_trigger_state` to start over)."""
        with self._write() as s:
            row = s.get(TriggerStateRow, (scenario_id, cell_id), with_for_update=True)
            if row is None:
                row = TriggerStateRow(
                    scenario_id=scenario_id,
                    cell_id=cell_id,
                    cursor=None,
                    seen_ids=[],
                    baseline_at=None,
                    next_poll_at=None,
                )
                s.add(row)
            if cursor is not None:
                row.cursor = cursor
            if seen_ids is not None:
                row.seen_ids = list(seen_ids)
            if baseline_at is not None:
                row.baseline_at = baseline_at
            if next_poll_at is not None:
                row.next_poll_at = next_poll_at
            row.updated_at = utcnow()
            return to_record(TriggerState, row)

    def delete_trigger_state(self, scenario_id: str, cell_id: str | None = None) -> None:
        """Forget one trigger's state, or every trigger's of the scenario."""
        query = delete(TriggerStateRow).where(TriggerStateRow.scenario_id == scenario_id)
        if cell_id is not None:
            query = query.where(TriggerStateRow.cell_id == cell_id)
        with self._write() as s:
            s.execute(query)

    # ------------------------------------------------------ webhook subscriptions
    def _subscription(self, row: WebhookSubscriptionRow) -> WebhookSubscription:
        state = self._vault.decrypt(row.state, aad=subscription_aad(row.id)) if row.state else {}
        return to_record(WebhookSubscription, row, state=state)

    def create_webhook_subscription(
        self,
        *,
        scenario_id: str,
        cell_id: str,
        token: str,
        app_id: str,
        connection_id: str | None = None,
        external_id: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> WebhookSubscription:
        """Store a subscription; ``state`` (signing secrets...) is encrypted.
        ConflictError if the token is taken."""
        subscription_id = new_id()
        row = WebhookSubscriptionRow(
            id=subscription_id,
            scenario_id=scenario_id,
            cell_id=cell_id,
            token=token,
            app_id=app_id,
            connection_id=connection_id,
            external_id=external_id,
            state=self._encrypt_state(subscription_id, state),
            created_at=utcnow(),
        )
        try:
            with self._write() as s:
                s.add(row)
        except IntegrityError:
            if self.webhook_subscription_by_token(token) is None:
                raise  # not the token: an unknown scenario
            raise ConflictError("this webhook token is already in use") from None
        return to_record(WebhookSubscription, row, state=state or {})

    def update_webhook_subscription(
        self,
        subscription_id: str,
        *,
        external_id: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> WebhookSubscription | None:
        """Set the vendor's id and/or the state after subscribing; None if not found."""
        with self._write() as s:
            row = s.get(WebhookSubscriptionRow, subscription_id)
            if row is None:
                return None
            if external_id is not None:
                row.external_id = external_id
            if state is not None:
                row.state = self._encrypt_state(row.id, state)
            return self._subscription(row)

    def _encrypt_state(self, subscription_id: str, state: dict[str, Any] | None) -> str | None:
        if not state:
            return None
        return self._vault.encrypt(state, aad=subscription_aad(subscription_id))

    def webhook_subscription_by_token(self, token: str) -> WebhookSubscription | None:
        """The subscription listening on ``/hooks/{token}`` (state decrypted), or None."""
        with self._read() as s:
            row = s.scalar(
                select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.token == token)
            )
            return self._subscription(row) if row else None

    def webhook_subscriptions(self, scenario_id: str) -> list[WebhookSubscription]:
        """The scenario's subscriptions (state decrypted), oldest first."""
        with self._read() as s:
            rows = s.scalars(
                select(WebhookSubscriptionRow)
                .where(WebhookSubscriptionRow.scenario_id == scenario_id)
                .order_by(WebhookSubscriptionRow.created_at, WebhookSubscriptionRow.id)
            )
            return [self._subscription(r) for r in rows]

    def delete_webhook_subscription(self, subscription_id: str) -> None:
        """Forget a subscription (unsubscribe from the vendor first)."""
        with self._write() as s:
            s.execute(
                delete(WebhookSubscriptionRow).where(WebhookSubscriptionRow.id == subscription_id)
            )
