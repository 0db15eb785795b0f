"""Secrets typed into cell inputs, encrypted by the vault and owned by a user.

A scenario document holds a reference (``{"$secret": <id>}``) where the user typed a
secret; the engine (``engine/secrets.py``) decides which fields are secret, stores their
values here and resolves references right before an operation runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Text, cast, or_, select, update

from ..models import NodeRow, ScenarioRow, ScenarioSecretRow, ScenarioVersionRow
from ._base import RepoBase, new_id, utcnow


def secret_aad(secret_id: str) -> str:
    """The vault's associated data for a scenario secret."""
    return f"scenario_secrets/{secret_id}"


class SecretsRepo(RepoBase):
    def create_secret(self, user_id: str, value: str) -> str:
        """Encrypt ``value`` into a new secret of the user; returns its id."""
        secret_id = new_id()
        token = self._vault.encrypt(value, aad=secret_aad(secret_id))
        with self._write() as s:
            s.add(
                ScenarioSecretRow(id=secret_id, user_id=user_id, value=token, created_at=utcnow())
            )
        return secret_id

    def owned_secrets(self, user_id: str, secret_ids: Iterable[str]) -> set[str]:
        """Which of ``secret_ids`` are the user's (missing and other users' ids are left out)."""
        wanted = {i for i in secret_ids if isinstance(i, str)}
        if not wanted:
            return set()
        with self._read() as s:
            rows = s.scalars(
                select(ScenarioSecretRow.id).where(
                    ScenarioSecretRow.user_id == user_id, ScenarioSecretRow.id.in_(wanted)
                )
            )
            return set(rows)

    def secret_values(self, user_id: str, secret_ids: Iterable[str]) -> dict[str, str]:
        """The decrypted values of the user's secrets among ``secret_ids`` (engine use,
        right before an operation runs); ids that are not the user's are left out."""
        wanted = {i for i in secret_ids if isinstance(i, str)}
        if not wanted:
            return {}
        with self._read() as s:
            rows = s.execute(
                select(ScenarioSecretRow.id, ScenarioSecretRow.value).where(
                    ScenarioSecretRow.user_id == user_id, ScenarioSecretRow.id.in_(wanted)
                )
            ).all()
        return {row.id: str(self._vault.decrypt(row.value, aad=secret_aad(row.id))) for row in rows}

    # -- moving plaintext of older installs (engine.secrets.seal_existing) ------------------
    def documents_containing(
        self, needles: Iterable[str]
    ) -> list[tuple[str, str, int | None, Any]]:
        """``(scenario_id, user_id, version, document)`` of every stored document whose JSON
        text contains one of ``needles``; ``version`` None is the scenario's latest copy
        (``scenarios.document``). A cheap filter: the caller checks each document."""
        patterns = [f"%{needle}%" for needle in needles]
        if not patterns:
            return []
        out: list[tuple[str, str, int | None, Any]] = []
        with self._read() as s:
            head = cast(ScenarioRow.document, Text)
            for sid, uid, doc in s.execute(
                select(ScenarioRow.id, ScenarioRow.user_id, ScenarioRow.document).where(
                    or_(*(head.like(p) for p in patterns))
                )
            ):
                out.append((sid, uid, None, doc))
            body = cast(ScenarioVersionRow.document, Text)
            for sid, uid, version, doc in s.execute(
                select(
                    ScenarioVersionRow.scenario_id,
                    ScenarioRow.user_id,
                    ScenarioVersionRow.version,
                    ScenarioVersionRow.document,
                )
                .join(ScenarioRow, ScenarioRow.id == ScenarioVersionRow.scenario_id)
                .where(or_(*(body.like(p) for p in patterns)))
            ):
                out.append((sid, uid, version, doc))
        return out

    def rewrite_document(
        self,
        scenario_id: str,
        version: int | None,
        document: Any,
        node_inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Replace a stored document in place (no new version): the latest copy when
        ``version`` is None, with ``node_inputs`` (cell id → inputs) written to its node
        rows; otherwise the saved ``version``."""
        with self._write() as s:
            if version is None:
                s.execute(
                    update(ScenarioRow)
                    .where(ScenarioRow.id == scenario_id)
                    .values(document=document)
                )
                for cell_id, inputs in (node_inputs or {}).items():
                    s.execute(
                        update(NodeRow)
                        .where(NodeRow.scenario_id == scenario_id, NodeRow.cell_id == cell_id)
                        .values(input_mappings=inputs)
                    )
            else:
                s.execute(
                    update(ScenarioVersionRow)
                    .where(
                        ScenarioVersionRow.scenario_id == scenario_id,
                        ScenarioVersionRow.version == version,
                    )
                    .values(document=document)
                )
