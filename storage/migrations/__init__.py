"""Alembic migrations of the store, and the helpers to run them without an ini file.

The schema is created only through these migrations (:meth:`storage.Store.migrate`).
New revisions are written from a checkout with ``storage/alembic.ini`` (see env.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from alembic.config import Config

from ..models import UTCDateTime

MIGRATIONS_DIR = Path(__file__).parent

#: advisory lock key taken while migrating PostgreSQL; any constant shared by all processes
PG_MIGRATION_LOCK = 0x63_77_6D_69_67  # "cwmig"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration that needs no alembic.ini (works from an installed package)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate hook: render UTCDateTime as the plain type it stores, so revisions
    stay self-contained (they must not import the models, which move on)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
