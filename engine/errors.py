"""The engine's own errors, beside the SDK's hierarchy (``connectors.sdk.errors``).

They live here rather than in ``engine.service`` so that the small services
(``engine.scenarios``, ``engine.connections``…) raise them without importing the
``Cellwright`` that builds them; ``engine.service`` re-exports both.
"""

from __future__ import annotations

from connectors.sdk import CellwrightError

__all__ = ["Conflict", "NotFound"]


class NotFound(CellwrightError):
    """The object does not exist, or is another user's (the answer is the same)."""

    code = "not_found"
    http_status = 404


class Conflict(CellwrightError):
    """The object is in a state that forbids the change (an enabled scenario uses it…)."""

    code = "conflict"
    http_status = 409
