"""``Scenarios``: a user's scenarios and their saved versions.

Saving checks the document against the apps, the cells' connections against the user's
(``engine.ownership``) and moves typed secrets into the vault (``engine.secrets``).
Publishing, enabling and disabling arm vendor triggers, so they stay with
``Cellwright`` (``engine.arming``); this service only reads and stores.

Every read takes the user: another user's scenario is ``NotFound``, the same answer as
one that does not exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cells import document as documents
from cells.checks import operation_errors
from cells.models import ScenarioDocument
from connectors.sdk import CellwrightError
from engine import ownership
from engine import secrets as stored_secrets
from engine.errors import NotFound
from storage.statuses import ScenarioStatus

if TYPE_CHECKING:
    from connectors.registry import Registry
    from engine.ports import ScenarioStore
    from storage import Scenario

__all__ = ["Scenarios"]


def _nothing() -> None:
    return None


class Scenarios:
    """A user's scenarios. ``changed`` is called after every stored change (the webhook
    ingress drops its cached routes)."""

    def __init__(
        self, store: ScenarioStore, apps: Registry, *, changed: Callable[[], None] = _nothing
    ) -> None:
        self._store = store
        self._apps = apps
        self._changed = changed

    # -- reading ----------------------------------------------------------------------

    def get(self, user_id: str, scenario_id: str) -> Scenario:
        """The scenario; ``NotFound`` when it is not the user's."""
        scenario = self._store.get_scenario(user_id, scenario_id)
        if scenario is None:
            raise NotFound(f"No scenario {scenario_id}.")
        return scenario

    def find(self, user_id: str, scenario_id: str) -> Scenario | None:
        """The scenario, or None when it is not the user's (or was deleted)."""
        return self._store.get_scenario(user_id, scenario_id)

    def for_user(
        self, user_id: str, *, name: str | None = None, tag: str | None = None
    ) -> list[Scenario]:
        """The user's scenarios, most recently changed first; ``name``: a case-insensitive
        part of the name, ``tag``: one tag (lower-cased)."""
        return self._store.list_scenarios(user_id, name=name, tag=tag)

    def names(self, user_id: str) -> dict[str, str]:
        """``{scenario id: name}`` of the user's scenarios (for pickers and tables)."""
        return {s.id: s.name for s in self._store.list_scenarios(user_id, file_runs=True)}

    def document(self, user_id: str, scenario_id: str) -> ScenarioDocument:
        """The latest saved version's document (the draft)."""
        return documents.parse(self.get(user_id, scenario_id).document)

    def export(self, user_id: str, scenario_id: str) -> str:
        """The latest saved version as YAML (audited: ``scenario.export``)."""
        scenario = self.get(user_id, scenario_id)
        text = documents.dump(documents.parse(scenario.document))
        self._store.audit(
            user_id, "scenario.export", "scenario", scenario_id, {"version": scenario.version}
        )
        return text

    def record_export(self, user_id: str, scenario_id: str) -> None:
        """Audit an export the workspace made of what is in its editor (``scenario.export``
        with ``editor: true``; it may hold unsaved changes)."""
        scenario = self.get(user_id, scenario_id)
        self._store.audit(
            user_id,
            "scenario.export",
            "scenario",
            scenario_id,
            {"version": scenario.version, "editor": True},
        )

    def version_document(self, user_id: str, scenario_id: str, version: int) -> ScenarioDocument:
        """The document of one saved version (an execution's, say)."""
        self.get(user_id, scenario_id)  # the store's versions are not per user: check the owner
        data = self._store.scenario_document(scenario_id, version)
        if data is None:
            raise NotFound(f"Scenario {scenario_id} has no version {version}.")
        return documents.parse(data, source=f"version {version}")

    # -- storing ----------------------------------------------------------------------

    def validate(self, doc: ScenarioDocument) -> None:
        """Check that every cell names a real app and operation of the right kind."""
        for error in operation_errors(doc, self._apps):
            raise error

    def save_file_run(self, user_id: str, doc: ScenarioDocument, source_file: str) -> Scenario:
        """The hidden scenario keeping the runs of ``source_file`` (``cellwright run``), with
        ``doc`` as its latest version: one per user and file, never in scenario lists."""
        existing = self._store.file_scenario(user_id, source_file)
        if existing is not None and existing.document == doc.to_data():
            return existing
        scenario = self.save(user_id, doc, scenario_id=existing.id if existing else None)
        if existing is None:
            self._store.mark_file_scenario(scenario.id, source_file)
            scenario = self.get(user_id, scenario.id)
        return scenario

    def save(
        self,
        user_id: str,
        doc: ScenarioDocument,
        *,
        scenario_id: str | None = None,
        imported: bool = False,
    ) -> Scenario:
        """Store a document (new, or a new version of ``scenario_id``); audited as
        ``scenario.create`` (``scenario.import`` when ``imported`` from a file or the
        API) or ``scenario.save``.

        Every connection must be one of the user's; secrets typed into secret fields go
        to the vault and the stored document holds references. Saving never changes what
        runs: publishing does (``Cellwright.publish``).
        """
        self.validate(doc)
        existing = (
            self._store.get_scenario(user_id, scenario_id) if scenario_id is not None else None
        )
        if scenario_id is not None and existing is None:
            raise NotFound(f"No scenario {scenario_id}.")
        ownership.check_connections(self._store, self._apps, user_id, doc)
        doc = stored_secrets.seal(
            self._store, self._apps, user_id, doc, existing.document if existing else None
        )
        scenario = self._store.save_scenario(
            user_id,
            doc.to_data(),
            scenario_id=scenario_id,
            nodes=documents.node_rows(doc),
            schedule=self._schedule_of(doc),
        )
        if not scenario.webhook_token:
            self._store.set_webhook_token(scenario.id, secrets.token_urlsafe(24))
            scenario = self.get(user_id, scenario.id)
        action = (
            "scenario.save"
            if existing is not None
            else ("scenario.import" if imported else "scenario.create")
        )
        self._store.audit(
            user_id,
            action,
            "scenario",
            scenario.id,
            {"version": scenario.version, "name": scenario.name},
        )
        self._changed()
        return scenario

    def _schedule_of(self, doc: ScenarioDocument) -> dict[str, Any] | None:
        """The ``schedule`` column for ``doc``: a Schedule trigger's settings with their
        defaults (``{"mode": "cron", "cron": "0 9 * * 1", "timezone": "Europe/Paris",
        …}``), None for any other trigger."""
        trigger = doc.trigger
        if trigger.app != "schedule" or trigger.app not in self._apps:
            return None
        inputs = dict(trigger.inputs)
        try:
            model = self._apps.get(trigger.app).trigger(trigger.operation).input
            return model.model_validate(inputs).model_dump(mode="json")
        except (ValidationError, CellwrightError, KeyError):
            return inputs  # what the document says; publishing reports what is wrong

    def go_live_unarmed(self, user_id: str, scenario_id: str) -> Scenario | None:
        """Publish the latest version and mark the scenario active without arming its
        trigger. Only for data seeded before the server's event loop runs (the demo),
        whose triggers need no vendor subscription: schedules and polling triggers start
        from the stored state when the scheduler runs, Cellwright's own webhook URLs
        answer at once. Everything else goes through ``Cellwright.enable``."""
        self.get(user_id, scenario_id)
        self._store.publish_scenario(user_id, scenario_id)
        updated = self._store.set_scenario_status(user_id, scenario_id, ScenarioStatus.ACTIVE)
        self._changed()
        return updated

    def delete(self, user_id: str, scenario_id: str) -> None:
        """Delete the scenario with its versions and executions. Disable it first
        (``Cellwright.delete_scenario`` does both)."""
        scenario = self._store.get_scenario(user_id, scenario_id)
        if scenario is None or not self._store.delete_scenario(user_id, scenario_id):
            raise NotFound(f"No scenario {scenario_id}.")
        self._store.audit(
            user_id, "scenario.delete", "scenario", scenario_id, {"name": scenario.name}
        )
        self._changed()
