"""A started Cellwright for a test, stopped and closed afterwards (shared by the
``svc`` fixture and the tests that start services of their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from connectors.registry import Registry
from engine.service import Cellwright
from engine.settings import Settings


@asynccontextmanager
async def running_service(settings: Settings, registry: Registry) -> AsyncIterator[Cellwright]:
    app = Cellwright(settings, apps=registry)
    await app.start(scheduler=False)
    try:
        yield app
    finally:
        await app.stop()
        app.close()
