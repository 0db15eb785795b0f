"""Checks of a scenario document against the apps that exist.

The document model (``cells.models``) checks the document on its own: shape, ids,
references. This check needs the app registry: does every cell name a real app and an
operation of the right kind, are the trigger's inputs valid. (Mapping expressions are
compiled by the document model itself: a document that parses has none broken.)
``Cellwright.validate`` raises the first error; the assistant collects them all to send
back to the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from cells.mapping import has_template
from cells.models import DELAY_APP, OperationCell, ScenarioDocument, TriggerCell
from cells.run import validation_error
from cells.secrets import placeholders, secret_fields
from connectors.delay.actions import parse_until
from connectors.sdk import CellwrightError, InvalidInputError


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
                    # a stored secret ({"$secret": id}) stands for text: no vault read here
                    op.input.model_validate(placeholders(cell.inputs, secret_fields(op.input)))
                except ValidationError as exc:
                    raise validation_error(cell.id, exc, what="trigger inputs") from None
            else:
                op = app.action(cell.operation)
                if cell.app == DELAY_APP:  # parks the run: its static inputs are checked now
                    yield from _delay_errors(cell, op.input)
        except CellwrightError as exc:
            yield exc


def _delay_errors(cell: OperationCell, model: type[BaseModel]) -> Iterator[CellwrightError]:
    """A delay cell's static inputs as the run would refuse them: a wrong type or unit,
    an unknown field, a ``until`` that is no date or time."""
    label = f"Cell '{cell.name or cell.id}'"
    for problem in type_errors(cell, model, label):
        yield InvalidInputError(
            problem["message"],
            errors=[{"field": problem["field"], "message": problem["message"]}],
            cell_id=cell.id,
        )
    until = cell.inputs.get("until")
    if cell.operation == "delay_until" and until is not None and not has_template(until):
        zone = cell.inputs.get("timezone", "UTC")
        try:
            parse_until(until, zone if isinstance(zone, str) and not has_template(zone) else "UTC")
        except InvalidInputError as exc:
            yield InvalidInputError(f"{label}: {exc.message}", errors=exc.details.get("errors"))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def incomplete(doc: ScenarioDocument, apps: Any) -> list[dict[str, str]]:
    """What a scenario still lacks before it can run on its trigger: a connection for a
    cell whose app needs one, a value (or a ``{{ }}`` mapping) for each required input.
    ``[{cell_id, field, message}]``, in cell order; empty when nothing is missing.

    A draft may be saved with gaps (a step just added has none of its inputs yet);
    publishing checks them, as Zapier does before a Zap is turned on. A static value
    of the wrong type (``max_length: "abc"`` for a number) is listed too
    (:func:`type_errors`): the run would refuse it."""
    problems: list[dict[str, str]] = []
    for cell, _ in doc.walk():
        if not isinstance(cell, OperationCell) or cell.app not in apps:
            continue
        app = apps.get(cell.app)
        label = f"Cell '{cell.name or cell.id}'"
        if app.needs_connection and not cell.connection:
            problems.append(
                {
                    "cell_id": cell.id,
                    "field": "connection",
                    "message": f"{label} needs a {app.name} connection."
                    + (f" {app.connection_help}" if app.connection_help else ""),
                }
            )
        try:
            op = (
                app.trigger(cell.operation)
                if isinstance(cell, TriggerCell)
                else app.action(cell.operation)
            )
        except CellwrightError:
            continue  # operation_errors reports it
        for name, field in op.input.model_fields.items():
            if field.is_required() and _blank(cell.inputs.get(name)):
                problems.append(
                    {
                        "cell_id": cell.id,
                        "field": name,
                        "message": (
                            f"{label}: fill in '{name}' ({field.description or 'required'})."
                        ),
                    }
                )
        if not isinstance(cell, TriggerCell):  # a trigger's inputs are checked on save
            problems.extend(type_errors(cell, op.input, label))
    return problems


def type_errors(cell: OperationCell, model: type[BaseModel], label: str) -> list[dict[str, str]]:
    """The problems of ``cell``'s static inputs (no ``{{ }}`` anywhere in the value)
    against the operation's input model, validated as the run validates them (lax:
    ``"5"`` is a fine number). A mapped value's type is known only when the run renders
    it, so it is left out, and so are errors about missing fields (``incomplete`` lists
    the required ones) and about the whole model (they may depend on a mapped field)."""
    static = {k: v for k, v in cell.inputs.items() if not has_template(v)}
    static = placeholders(static, secret_fields(model))  # a stored secret stands for text
    try:
        model.model_validate(static)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            if not err["loc"] or err["type"] == "missing":
                continue
            where = ".".join(str(p) for p in err["loc"])
            message = (
                f"{label}: '{where}' is not one of its inputs."
                if err["type"] == "extra_forbidden"
                else f"{label}: '{where}' has a wrong value: {err['msg']}."
            )
            problems.append({"cell_id": cell.id, "field": where, "message": message})
        return problems
    return []
