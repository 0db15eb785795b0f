"""Checks of a scenario document against the apps that exist.

The document model (``cells.models``) checks the document on its own: shape, ids,
references. This check needs the app registry: does every cell name a real app and
an operation of the right kind, are the trigger's inputs valid. (Mapping expressions
are compiled by the document model itself: a document that parses has none broken.) ``Cellwright.validate`` raises the first error; the assistant
collects them all to send back to the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from cells.models import OperationCell, ScenarioDocument, TriggerCell
from cells.run import validation_error
from connectors.sdk import CellwrightError


def operation_errors(doc: ScenarioDocument, apps: Any) -> Iterator[CellwrightError]:
    """One error per cell whose app or operation does not exist (or is of the wrong
    kind), or whose trigger inputs are invalid. ``apps`` is a ``Registry``."""
    for cell, _ in doc.walk():
        if not isinstance(cell, OperationCell):
            continue
        try:
            app = apps.get(cell.app)
            if isinstance(cell, TriggerCell):
                op = app.trigger(cell.operation)
                try:
                    op.input.model_validate(cell.inputs)
                except ValidationError as exc:
                    raise validation_error(cell.id, exc, what="trigger inputs") from None
            else:
                app.action(cell.operation)
        except CellwrightError as exc:
            yield exc
