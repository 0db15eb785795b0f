"""Secrets typed into cell inputs live in the vault; documents hold references.

Which fields are secret is the operation's business (``cells.secrets.secret_fields``:
``SecretStr`` fields such as the HTTP action's ``bearer_token`` or the webhook
trigger's ``secret``). Their life:

- **save** (:func:`seal`): a typed value is encrypted into ``scenario_secrets`` and
  replaced by ``{"$secret": id}``; a reference sent back unchanged (or a mask, or the
  same value again) keeps the stored secret; a reference that is not the user's is
  refused — the user types the secret again; a ``{{ }}`` mapping stays a mapping;
- **run** (:func:`resolver`, :func:`trigger_inputs`): references are resolved right
  before the operation is called, never into a document or an execution record;
- **installs from before** (:func:`seal_existing`, on startup): plaintext still in
  stored documents is moved into the vault.

The REST API, exports and the workspace therefore only ever see references.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from cells import document as documents
from cells.models import OperationCell, ScenarioDocument, TriggerCell
from cells.run import SecretResolver, validation_error
from cells.secrets import (
    Slot,
    is_mask,
    is_plaintext,
    ref,
    ref_id,
    refs_in,
    secret_fields,
    secret_slots,
    slot_value,
    with_slot,
)
from connectors.sdk import CellwrightError, ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from connectors.registry import Registry
    from connectors.sdk import Trigger
    from storage import Store

log = logging.getLogger("cellwright")


class SecretStore(Protocol):
    def create_secret(self, user_id: str, value: str) -> str: ...
    def owned_secrets(self, user_id: str, secret_ids: Iterable[str]) -> set[str]: ...
    def secret_values(self, user_id: str, secret_ids: Iterable[str]) -> dict[str, str]: ...


def _fields(apps: Registry, cell: OperationCell) -> frozenset[str]:
    """The secret fields of the cell's operation (none for an unknown app or operation)."""
    try:
        app = apps.get(cell.app)
        op = (
            app.trigger(cell.operation)
            if isinstance(cell, TriggerCell)
            else app.action(cell.operation)
        )
    except CellwrightError:
        return frozenset()
    return secret_fields(op.input)


def _secret_slots(apps: Registry, doc: ScenarioDocument) -> Iterator[tuple[OperationCell, Slot]]:
    """Every (cell, secret slot) of the document: secret fields, set or not, and
    credential headers (``cells.secrets.secret_slots``)."""
    for cell, _ in doc.walk():
        if isinstance(cell, OperationCell):
            for slot in list(secret_slots(cell.inputs, _fields(apps, cell))):
                yield cell, slot


def _put(cell: OperationCell, slot: Slot, value: Any) -> None:
    cell.inputs[slot[0]] = with_slot(cell.inputs, slot, value)[slot[0]]


def _name(slot: Slot) -> str:
    return ".".join(slot)


def _label(cell: OperationCell) -> str:
    return f"Cell '{cell.name or cell.id}'"


def seal(
    store: SecretStore,
    apps: Registry,
    user_id: str,
    doc: ScenarioDocument,
    previous: Mapping[str, Any] | None = None,
) -> ScenarioDocument:
    """The document to store: typed secrets moved into the vault, references checked.

    ``previous`` is the scenario's latest stored document (when saving a new version):
    a mask, or the very value already stored, in the same cell and field keeps its
    reference. Raises ``InvalidInputError`` before storing anything when a reference is
    not the user's or a mask stands for nothing.
    """
    doc = doc.model_copy(deep=True)
    before = _previous_refs(apps, previous)
    typed: list[tuple[OperationCell, Slot, str]] = []
    claimed: dict[str, tuple[OperationCell, Slot]] = {}
    problems: list[dict[str, str]] = []
    for cell, slot in _secret_slots(apps, doc):
        value = slot_value(cell.inputs, slot)
        secret_id = ref_id(value)
        if secret_id is not None:
            claimed[secret_id] = (cell, slot)
        elif is_mask(value):
            kept = before.get((cell.id, slot))
            if kept is None:
                problems.append(
                    _problem(
                        cell,
                        slot,
                        "shows a masked secret, but no secret is stored for it. "
                        "Type the secret again.",
                    )
                )
            else:
                _put(cell, slot, ref(kept))
        elif is_plaintext(value):
            typed.append((cell, slot, value))
    owned = store.owned_secrets(user_id, set(claimed)) if claimed else set()
    for secret_id, (cell, name) in claimed.items():
        if secret_id not in owned:
            problems.append(
                _problem(
                    cell,
                    name,
                    "refers to a stored secret that was not found in your account "
                    "(it may come from another account or installation). Type the secret again.",
                )
            )
    if problems:
        raise InvalidInputError(" ".join(p["message"] for p in problems[:5]), errors=problems)
    same_slot = {(c.id, n): before[(c.id, n)] for c, n, _ in typed if (c.id, n) in before}
    stored = store.secret_values(user_id, set(same_slot.values())) if same_slot else {}
    for cell, slot, value in typed:
        kept = same_slot.get((cell.id, slot))
        _put(
            cell,
            slot,
            ref(
                kept
                if kept is not None and stored.get(kept) == value
                else store.create_secret(user_id, value)
            ),
        )
    return doc


def _problem(cell: OperationCell, slot: Slot, what: str) -> dict[str, str]:
    return {
        "cell_id": cell.id,
        "field": f"inputs.{_name(slot)}",
        "message": f"{_label(cell)}: '{_name(slot)}' {what}",
    }


def _previous_refs(
    apps: Registry, previous: Mapping[str, Any] | None
) -> dict[tuple[str, Slot], str]:
    """(cell id, field) → secret id of the references in a stored document."""
    if not previous:
        return {}
    try:
        doc = documents.parse(previous)
    except CellwrightError:
        return {}  # an old document that no longer parses has nothing to keep
    found: dict[tuple[str, Slot], str] = {}
    for cell, slot in _secret_slots(apps, doc):
        secret_id = ref_id(slot_value(cell.inputs, slot))
        if secret_id is not None:
            found[(cell.id, slot)] = secret_id
    return found


def resolver(store: SecretStore, user_id: str) -> SecretResolver:
    """Resolves a cell's references right before its operation runs (runner, "Run cell").

    Only the owner's secrets resolve; any other id reads "not found"."""

    async def resolve(
        cell: OperationCell, inputs: Mapping[str, Any], fields: frozenset[str]
    ) -> dict[str, Any]:
        return await asyncio.to_thread(_resolve, store, user_id, cell, inputs, fields)

    return resolve


def _resolve(
    store: SecretStore,
    user_id: str,
    cell: OperationCell,
    inputs: Mapping[str, Any],
    fields: frozenset[str],
) -> dict[str, Any]:
    wanted = dict(refs_in(inputs, fields))
    if not wanted:
        return dict(inputs)
    values = store.secret_values(user_id, set(wanted.values()))
    out = dict(inputs)
    for slot, secret_id in wanted.items():
        if secret_id not in values:
            raise ConfigurationError(
                f"{_label(cell)}: the secret stored for '{_name(slot)}' was not found. "
                "Type it again in the cell and save."
            )
        out = with_slot(out, slot, values[secret_id])
    return out


def trigger_inputs(
    store: SecretStore, user_id: str, op: Trigger, trigger: TriggerCell
) -> BaseModel:
    """The trigger's validated inputs with its stored secrets resolved (synchronous: the
    store is read in the caller's thread). Ingress, scheduler and arming use it where
    they used ``op.input.model_validate(trigger.inputs)``."""
    inputs = _resolve(store, user_id, trigger, trigger.inputs, secret_fields(op.input))
    try:
        return op.input.model_validate(inputs)
    except ValidationError as exc:
        raise validation_error(trigger.id, exc, what="trigger inputs") from None


# -- installs from before: plaintext in stored documents ---------------------------------


def _credential_key_spellings() -> set[str]:
    """How credential header names are usually written (the search for old plaintext
    is by exact text; the slots themselves are found case-insensitively)."""
    spellings = {"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-API-Key"}
    return spellings | {s.lower() for s in spellings} | {s.upper() for s in spellings}


def seal_existing(store: Store, apps: Registry) -> int:
    """Move plaintext secrets of already stored documents (every version, the latest copy
    and its node rows) into the vault; returns how many documents changed.

    Idempotent and cheap when there is nothing to do: only documents whose JSON text
    holds a secret field name followed by text are read. The same value of one user
    becomes one secret, shared by the versions that hold it.
    """
    names = sorted(
        {
            name
            for app in apps
            for op in (*app.triggers, *app.actions)
            for name in secret_fields(op.input)
        }
        | _credential_key_spellings()
    )
    # a plaintext value is stored as "name": "text"; a reference is "name": {"$secret": ...}
    needles = [f'"{name}": "' for name in names]
    made: dict[tuple[str, str], str] = {}
    changed = 0
    for scenario_id, user_id, version, data in store.documents_containing(needles):
        try:
            doc = documents.parse(data)
        except CellwrightError:
            log.warning(
                "scenario %s version %s does not parse; its secrets were not moved",
                scenario_id,
                version or "latest",
            )
            continue
        touched: dict[str, Any] = {}
        for cell, slot in _secret_slots(apps, doc):
            value = slot_value(cell.inputs, slot)
            if not is_plaintext(value):
                continue
            key = (user_id, value)
            if key not in made:
                made[key] = store.create_secret(user_id, value)
            _put(cell, slot, ref(made[key]))
            touched[cell.id] = cell.inputs
        if touched:
            store.rewrite_document(
                scenario_id, version, doc.to_data(), touched if version is None else None
            )
            changed += 1
    if changed:
        log.info("moved the secrets of %d stored scenario document(s) into the vault", changed)
    return changed
