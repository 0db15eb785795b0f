"""A scenario may use only its owner's connections.

Checked when a document is saved (REST, CLI import, workspace, templates), when a
version is published, and by the runner before a run calls anything (a document stored
before this check existed, or written straight into the store). Another user's
connection and a connection that does not exist get the same answer — "not found" — so
a connection id never tells whether it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from cells.models import OperationCell, ScenarioDocument
from connectors.sdk import InvalidInputError

if TYPE_CHECKING:
    from connectors.registry import Registry
    from storage import Connection


class ConnectionLookup(Protocol):
    def get_connection(self, user_id: str, connection_id: str) -> Connection | None: ...


def connection_problems(
    store: ConnectionLookup, apps: Registry, user_id: str, doc: ScenarioDocument
) -> list[dict[str, str]]:
    """``[{cell_id, field, message}]`` for every cell whose connection is not one of the
    user's (or, for an app that needs one, is another app's); empty when all is well."""
    problems: list[dict[str, str]] = []
    owned: dict[str, Connection | None] = {}
    for cell, _ in doc.walk():
        if not isinstance(cell, OperationCell) or not cell.connection:
            continue
        if cell.connection not in owned:
            owned[cell.connection] = store.get_connection(user_id, cell.connection)
        connection = owned[cell.connection]
        label = f"Cell '{cell.name or cell.id}'"
        if connection is None:
            message = (
                f"{label} uses connection '{cell.connection}', "
                "which was not found among your connections. "
                "Pick one of your connections in the cell."
            )
        elif (
            cell.app in apps
            and apps.get(cell.app).needs_connection
            and connection.app_id != cell.app
        ):
            app = apps.get(cell.app)
            message = (
                f"{label} uses connection '{connection.name}', "
                f"which is not a {app.name} connection. Pick a {app.name} connection in the cell."
            )
        else:
            continue
        problems.append({"cell_id": cell.id, "field": "connection", "message": message})
    return problems


def check_connections(
    store: ConnectionLookup, apps: Registry, user_id: str, doc: ScenarioDocument
) -> None:
    """Raise ``InvalidInputError`` (422) naming each cell whose connection the user may not use."""
    problems = connection_problems(store, apps, user_id, doc)
    if problems:
        shown = " ".join(p["message"] for p in problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        raise InvalidInputError(shown, errors=problems)
