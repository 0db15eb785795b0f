"""Scenarios, their versions, and the node rows derived from their documents."""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError, NotFoundError
from ..models import NODE_TYPES, SCENARIO_STATUSES, NodeRow, ScenarioRow, ScenarioVersionRow
from ..records import Node, Scenario
from ..statuses import ScenarioStatus
from ._base import RepoBase, check_choice, like_escape, new_id, rowcount, to_record, utcnow

#: what a document without these settings does: the defaults of ``cells.models.ScenarioSettings``
#: (a test keeps the two equal; storage does not import the document model)
DEFAULT_ERROR_HANDLING: dict[str, Any] = {"retry_count": 2, "notify_on_error": False}

_NODE_KEYS = frozenset(
    {
        "cell_id",
        "name",
        "type",
        "position",
        "parent_cell_id",
        "branch",
        "app_id",
        "connection_id",
        "operation",
        "config",
        "input_mappings",
        "output_mappings",
        "conditions",
    }
)


def _apply_document(row: ScenarioRow, document: dict[str, Any]) -> None:
    """Copy the metadata the document carries onto the scenario row."""
    if "name" in document:
        row.name = str(document["name"] or "")
    if "description" in document:
        row.description = str(document["description"] or "")
    # an export leaves out an empty list, so no "tags" key means no tags (not "unchanged")
    row.tags = [str(tag) for tag in document.get("tags") or []]
    if "schedule" in document:
        row.schedule = document["schedule"]
    # the row says what the document does: a setting it leaves out is the default
    # (the stored document drops defaults), not the value an earlier version had
    settings = document.get("settings")
    written = settings if isinstance(settings, dict) else {}
    row.error_handling = {
        key: written.get(key, default) for key, default in DEFAULT_ERROR_HANDLING.items()
    }


def _node_rows(scenario_id: str, nodes: list[dict[str, Any]]) -> list[NodeRow]:
    """Node rows for ``nodes``, parents before children, ``parent_cell_id`` resolved."""
    specs: dict[str, dict[str, Any]] = {}
    for index, node in enumerate(nodes):
        unknown = set(node) - _NODE_KEYS
        if unknown:
            raise ValueError(
                f"unknown node fields {sorted(unknown)} for cell {node.get('cell_id')!r}"
            )
        cell_id = node.get("cell_id")
        if not cell_id:
            raise ValueError(f"node #{index} has no cell_id")
        if cell_id in specs:
            raise ConflictError(f"cell id {cell_id!r} is used twice in the scenario")
        check_choice(node.get("type", ""), NODE_TYPES, f"type of cell {cell_id!r}")
        specs[cell_id] = {"position": index, **node}
    ids = {cell_id: new_id() for cell_id in specs}

    def depth(cell_id: str) -> int:
        seen = {cell_id}
        level = 0
        parent = specs[cell_id].get("parent_cell_id")
        while parent is not None:
            if parent not in specs:
                raise ValueError(f"cell {cell_id!r} has unknown parent {parent!r}")
            if parent in seen:
                raise ValueError(f"cell {cell_id!r} is inside itself (parent cycle)")
            seen.add(parent)
            level += 1
            parent = specs[parent].get("parent_cell_id")
        return level

    depths = {cell_id: depth(cell_id) for cell_id in specs}  # depth() validates every chain
    rows = []
    for cell_id in sorted(specs, key=depths.__getitem__):
        spec = specs[cell_id]
        parent = spec.get("parent_cell_id")
        rows.append(
            NodeRow(
                id=ids[cell_id],
                scenario_id=scenario_id,
                cell_id=cell_id,
                name=spec.get("name") or "",
                type=spec["type"],
                position=spec["position"],
                parent_id=ids[parent] if parent is not None else None,
                branch=spec.get("branch"),
                app_id=spec.get("app_id"),
                connection_id=spec.get("connection_id"),
                operation=spec.get("operation"),
                config=spec.get("config", {}),
                input_mappings=spec.get("input_mappings", {}),
                output_mappings=spec.get("output_mappings", {}),
                conditions=spec.get("conditions"),
            )
        )
    return rows


class ScenariosRepo(RepoBase):
    def save_scenario(
        self,
        user_id: str,
        document: dict[str, Any],
        *,
        scenario_id: str | None = None,
        nodes: list[dict[str, Any]] | None = None,
        schedule: dict[str, Any] | None | EllipsisType = ...,
    ) -> Scenario:
        """Create (no ``scenario_id``) or update the user's scenario from its document.

        Every save bumps ``version`` and keeps the document in ``scenario_versions``;
        ``live_version`` (what the trigger runs) changes only by :meth:`publish_scenario`.
        ``name``, ``description`` and ``schedule`` are copied from the document when
        present; ``error_handling`` is its ``settings.retry_count`` /
        ``settings.notify_on_error``, the defaults where it has none.
        ``nodes`` (dicts of the ``nodes`` columns, parent as ``parent_cell_id``; position
        defaults to the list index) replace the scenario's node rows; ``None`` leaves
        them as they are. ``schedule``, when given, is the ``schedule`` column (the
        engine derives it from a Schedule trigger; None for any other), whatever the
        document says. Updating another user's (or a missing) scenario raises
        NotFoundError.
        """
        now = utcnow()
        with self._write() as s:
            if scenario_id is None:
                row = ScenarioRow(
                    id=new_id(),
                    user_id=user_id,
                    name="Untitled scenario",
                    description="",
                    status=ScenarioStatus.DRAFT,
                    created_at=now,
                    last_run=None,
                    schedule=None,
                    error_handling=dict(DEFAULT_ERROR_HANDLING),
                    version=0,
                    webhook_token=None,
                    live_version=None,
                    tags=[],
                )
                s.add(row)
            else:
                # FOR UPDATE: two concurrent saves on PostgreSQL must not both take version N+1
                found = s.get(ScenarioRow, scenario_id, with_for_update=True)
                if found is None or found.user_id != user_id:
                    raise NotFoundError(f"scenario {scenario_id!r} not found")
                row = found
            _apply_document(row, document)
            if schedule is not ...:
                row.schedule = schedule
            row.document = document
            row.version += 1
            row.updated_at = now
            s.add(
                ScenarioVersionRow(
                    scenario_id=row.id, version=row.version, document=document, created_at=now
                )
            )
            if nodes is not None:
                new_rows = _node_rows(row.id, nodes)
                s.execute(delete(NodeRow).where(NodeRow.scenario_id == row.id))
                s.add_all(new_rows)
        return to_record(Scenario, row)

    def publish_scenario(
        self, user_id: str, scenario_id: str, version: int | None = None
    ) -> Scenario:
        """Make a saved version (default: the latest) the one the scenario's trigger runs.

        NotFoundError for another user's (or a missing) scenario, and for a version that
        was never saved.
        """
        with self._write() as s:
            row = s.get(ScenarioRow, scenario_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"scenario {scenario_id!r} not found")
            target = row.version if version is None else version
            if s.get(ScenarioVersionRow, (row.id, target)) is None:
                raise NotFoundError(
                    f"scenario {scenario_id!r} has no version {target} (latest: {row.version})"
                )
            row.live_version = target
            row.updated_at = utcnow()
            return to_record(Scenario, row)

    def get_scenario(self, user_id: str, scenario_id: str) -> Scenario | None:
        """The user's scenario, or None (also for another user's)."""
        scenario = self.get_scenario_any(scenario_id)
        return scenario if scenario and scenario.user_id == user_id else None

    def get_scenario_any(self, scenario_id: str) -> Scenario | None:
        """A scenario whoever owns it (engine use), or None."""
        with self._read() as s:
            row = s.get(ScenarioRow, scenario_id)
            return to_record(Scenario, row) if row else None

    def list_scenarios(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        file_runs: bool = False,
    ) -> list[Scenario]:
        """The user's scenarios, most recently changed first (not the hidden ones that
        keep file runs: :meth:`file_scenario`).

        ``name``: only those whose name contains it (case-insensitive for ASCII letters on
        SQLite, for every letter on PostgreSQL); ``tag``: only those with exactly that
        (normalised, lower-case) tag; ``file_runs``: include the hidden ones.
        """
        conditions: list[Any] = [ScenarioRow.user_id == user_id]
        if not file_runs:
            conditions.append(ScenarioRow.source_file.is_(None))
        if name and name.strip():
            conditions.append(ScenarioRow.name.ilike(f"%{like_escape(name.strip())}%", escape="!"))
        if tag is not None:
            conditions.append(self._has_tag(tag))
        return self._scenarios(and_(*conditions))

    def file_scenario(self, user_id: str, source_file: str) -> Scenario | None:
        """The hidden scenario keeping the user's runs of ``source_file``, or None."""
        found = self._scenarios(
            and_(ScenarioRow.user_id == user_id, ScenarioRow.source_file == source_file)
        )
        return found[0] if found else None

    def mark_file_scenario(self, scenario_id: str, source_file: str) -> None:
        """Hide the scenario from lists: it keeps the runs of ``source_file``."""
        with self._write() as s:
            row = s.get(ScenarioRow, scenario_id)
            if row is None:
                raise NotFoundError(f"scenario {scenario_id!r} not found")
            row.source_file = source_file

    def _has_tag(self, tag: str) -> Any:
        if self.is_sqlite:
            # the JSON list is text on SQLite: compare its decoded items (json_each)
            items = func.json_each(ScenarioRow.tags).table_valued("value")
            return exists(select(1).select_from(items).where(items.c.value == tag))
        return type_coerce(ScenarioRow.tags, JSONB).contains([tag])  # tags @> '["tag"]'

    def active_scenarios(self, user_id: str | None = None) -> list[Scenario]:
        """The active scenarios of every user (for the scheduler and pollers), or of one."""
        if user_id is None:
            return self._scenarios(ScenarioRow.status == ScenarioStatus.ACTIVE)
        return self._scenarios(
            and_(ScenarioRow.status == ScenarioStatus.ACTIVE, ScenarioRow.user_id == user_id)
        )

    def _scenarios(self, condition: Any) -> list[Scenario]:
        with self._read() as s:
            rows = s.scalars(
                select(ScenarioRow)
                .where(condition)
                .order_by(ScenarioRow.updated_at.desc(), ScenarioRow.id.desc())
            )
            return [to_record(Scenario, r) for r in rows]

    def scenario_document(
        self, scenario_id: str, version: int | None = None
    ) -> dict[str, Any] | None:
        """The latest saved document, or the one saved as ``version``; None if there is none."""
        if version is None:
            query = select(ScenarioRow.document).where(ScenarioRow.id == scenario_id)
        else:
            query = select(ScenarioVersionRow.document).where(
                ScenarioVersionRow.scenario_id == scenario_id,
                ScenarioVersionRow.version == version,
            )
        with self._read() as s:
            document: dict[str, Any] | None = s.scalar(query)
            return document

    def set_scenario_status(
        self, user_id: str, scenario_id: str, status: str, reason: str | None = None
    ) -> Scenario | None:
        """Set the user's scenario's status and the reason for it (None clears an
        earlier one); None if not found."""
        check_choice(status, SCENARIO_STATUSES, "scenario status")
        with self._write() as s:
            row = s.get(ScenarioRow, scenario_id)
            if row is None or row.user_id != user_id:
                return None
            row.status = status
            row.status_reason = reason
            row.updated_at = utcnow()
            return to_record(Scenario, row)

    def set_webhook_token(self, scenario_id: str, token: str | None) -> None:
        """Set (or clear, with None) the scenario's webhook token; ConflictError if taken."""
        try:
            with self._write() as s:
                s.execute(
                    update(ScenarioRow)
                    .where(ScenarioRow.id == scenario_id)
                    .values(webhook_token=token)
                )
        except IntegrityError:
            raise ConflictError("this webhook token is already in use") from None

    def scenario_by_webhook_token(self, token: str) -> Scenario | None:
        """The scenario listening on ``/hooks/{token}``, or None."""
        with self._read() as s:
            row = s.scalar(select(ScenarioRow).where(ScenarioRow.webhook_token == token))
            return to_record(Scenario, row) if row else None

    def delete_scenario(self, user_id: str, scenario_id: str) -> bool:
        """Delete the user's scenario with its versions, nodes, executions, trigger state
        and webhook subscriptions; False if not found. Unsubscribe from vendors first."""
        with self._write() as s:
            result = s.execute(
                delete(ScenarioRow).where(
                    ScenarioRow.id == scenario_id, ScenarioRow.user_id == user_id
                )
            )
            return rowcount(result) == 1

    def list_nodes(self, scenario_id: str) -> list[Node]:
        """The scenario's node rows, by position (``parent_cell_id`` resolved)."""
        with self._read() as s:
            rows = list(
                s.scalars(
                    select(NodeRow)
                    .where(NodeRow.scenario_id == scenario_id)
                    .order_by(NodeRow.position, NodeRow.cell_id)
                )
            )
        cell_ids = {r.id: r.cell_id for r in rows}
        return [
            to_record(Node, r, parent_cell_id=cell_ids.get(r.parent_id) if r.parent_id else None)
            for r in rows
        ]
