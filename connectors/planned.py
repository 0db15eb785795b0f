"""Apps that are planned but not built yet: their names and the operations they will offer.

The template gallery shows templates that need one of these as "coming soon" (named,
not broken), and the template tests check that such templates only name operations
listed here. The operations follow the vendors' facts in ``shared/specs/VENDORS.md``;
an app's package replaces its entry here when it is built (a test fails if both exist).

None today: all eight vendor apps of the requirements are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.registry import Registry


@dataclass(frozen=True)
class PlannedApp:
    key: str
    name: str
    category: str
    triggers: tuple[str, ...]
    actions: tuple[str, ...]

    def has_operation(self, key: str) -> bool:
        return key in self.triggers or key in self.actions


PLANNED: dict[str, PlannedApp] = {app.key: app for app in ()}


def app_name(key: str, registry: Registry) -> str:
    """An app's display name: installed (``registry``), planned, else its key."""
    if key in registry:
        return registry.get(key).name
    planned = PLANNED.get(key)
    return planned.name if planned is not None else key


__all__ = ["PLANNED", "PlannedApp", "app_name"]
