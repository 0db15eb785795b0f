"""The store's exceptions, in one place.

Every error the store raises on purpose derives from :class:`StoreError`, so callers
(the engine, the REST API) can catch one type. Messages never contain credentials,
plaintext secrets or key material.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error raised by ``storage``."""


class NotFoundError(StoreError, LookupError):
    """The object does not exist, or belongs to another user (indistinguishable on purpose)."""


class ConflictError(StoreError, ValueError):
    """A uniqueness rule was broken (duplicate e-mail, cell id, webhook token...)."""


class VaultError(StoreError):
    """Base class of the credential vault's errors."""


class VaultKeyMissingError(VaultError):
    """The token was encrypted with a key the vault does not hold (removed or never loaded)."""


class VaultDecryptError(VaultError):
    """The token is malformed, was tampered with, or belongs to another row (AAD mismatch)."""


class LimitReachedError(StoreError):
    """A count the caller capped was reached: ``what`` ("stores" or "records") is at ``limit``."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"the limit of {limit} {what} is reached")
        self.what = what
        self.limit = limit
