"""The app catalog: a mirror of the code registry (synced on start) plus user-defined apps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..models import APP_SOURCES, AUTH_TYPES, AppRow
from ..records import AppRecord
from ._base import RepoBase, check_choice, to_record, utcnow

_APP_COLUMNS = frozenset(c.key for c in AppRow.__table__.columns)
_APP_DEFAULTS: dict[str, Any] = {
    "description": "",
    "icon_url": None,
    "category": None,
    "auth_type": "none",
    "auth_config": {},
    "triggers": [],
    "actions": [],
    "source": "code",
}


class AppsRepo(RepoBase):
    def sync_apps(self, apps: list[dict[str, Any]]) -> None:
        """Insert or update apps by id. Keys are the ``apps`` columns; ``id`` and ``name``
        are required. Apps missing from the list are left alone."""
        now = utcnow()
        prepared = []
        for app in apps:
            unknown = set(app) - _APP_COLUMNS
            if unknown:
                raise ValueError(f"unknown app fields {sorted(unknown)} for app {app.get('id')!r}")
            if not app.get("id") or not app.get("name"):
                raise ValueError(f"an app needs an id and a name, got {app.get('id')!r}")
            values = {**_APP_DEFAULTS, "updated_at": now, **app}
            check_choice(values["auth_type"], AUTH_TYPES, "auth_type")
            check_choice(values["source"], APP_SOURCES, "app source")
            prepared.append(values)
        with self._write() as s:
            existing = {
                row.id: row
                for row in s.scalars(
                    select(AppRow).where(AppRow.id.in_([a["id"] for a in prepared]))
                )
            }
            for values in prepared:
                row = existing.get(values["id"])
                if row is None:
                    existing[values["id"]] = row = AppRow(**values)
                    s.add(row)
                else:
                    for key, value in values.items():
                        setattr(row, key, value)

    def list_apps(self) -> list[AppRecord]:
        """Every app of the catalog, by name."""
        with self._read() as s:
            rows = s.scalars(select(AppRow).order_by(AppRow.name, AppRow.id))
            return [to_record(AppRecord, r) for r in rows]

    def get_app(self, app_id: str) -> AppRecord | None:
        """One app of the catalog, or None."""
        with self._read() as s:
            row = s.get(AppRow, app_id)
            return to_record(AppRecord, row) if row else None
