"""The credential vault: AES-256-GCM encryption of small JSON documents.

A token looks like ``v1.<key_id>.<base64url(nonce | ciphertext+tag)>``:

- a fresh random 96-bit nonce per encryption;
- associated data (AAD) binds the token to the row that holds it (e.g.
  ``connections/<id>``) and to its own header, so a ciphertext copied into another row
  fails to decrypt instead of handing one user's credentials to another;
- ``key_id`` names the key, so old tokens stay readable after :meth:`Vault.rotate`
  until :meth:`storage.Store.reencrypt_all` has moved them to the primary key.

Keys come from a key file (``Vault.from_key_file``; created with mode 0600 on first
use) or from a setting (``Vault(keys=[...])``, base64). The vault never logs secrets,
its ``repr()`` shows key ids only, and its errors name the key id and the row, never
the plaintext or the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import VaultDecryptError, VaultError, VaultKeyMissingError

__all__ = ["Vault", "VaultKey"]

log = logging.getLogger(__name__)

_VERSION = "v1"
_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # 96-bit nonce, the size GCM is designed for


@dataclass(frozen=True)
class VaultKey:
    """One key: its id, the raw key bytes and when it was made."""

    id: str
    key: bytes = field(repr=False)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def generate(cls) -> VaultKey:
        """A new random 256-bit key."""
        return cls.from_bytes(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def from_bytes(cls, key: bytes, created_at: datetime | None = None) -> VaultKey:
        """A key whose id is derived from the key (so the same key always has the same id)."""
        if len(key) != _KEY_BYTES:
            raise VaultError(f"a vault key must be {_KEY_BYTES} bytes, got {len(key)}")
        key_id = hashlib.sha256(b"cellwright-vault-key-id:" + key).hexdigest()[:12]
        return cls(key_id, key, created_at or datetime.now(UTC))

    @classmethod
    def from_b64(cls, key_b64: str, created_at: datetime | None = None) -> VaultKey:
        """A key from its base64 (standard or url-safe) text."""
        try:
            urlsafe = key_b64.strip().replace("+", "-").replace("/", "_")
            raw = base64.b64decode(_pad(urlsafe), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise VaultError("a vault key is not valid base64") from None
        return cls.from_bytes(raw, created_at)

    def to_json(self) -> dict[str, str]:
        """The key file entry ``{id, key_b64, created_at}``."""
        return {
            "id": self.id,
            "key_b64": base64.urlsafe_b64encode(self.key).decode("ascii"),
            "created_at": self.created_at.isoformat(),
        }


class Vault:
    """Encrypts and decrypts JSON-serialisable values bound to a row.

    ``keys`` are newest first: the first is the primary key, used to encrypt; all of
    them decrypt. Entries may be :class:`VaultKey` objects, base64 strings (e.g. from
    ``CELLWRIGHT_VAULT_KEYS``) or key-file dicts ``{id, key_b64, created_at}``.
    """

    def __init__(
        self,
        keys: Iterable[VaultKey | str | Mapping[str, str]],
        *,
        path: Path | None = None,
    ) -> None:
        loaded = [_coerce_key(k) for k in keys]
        if not loaded:
            raise VaultError("a vault needs at least one key")
        self._keys: list[VaultKey] = loaded
        self._ciphers = {k.id: AESGCM(k.key) for k in loaded}
        self._path = path
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- key files
    @classmethod
    def from_key_file(cls, path: Path | str) -> Vault:
        """The vault kept in ``path``; a new key is generated into it on first use.

        The file is created with mode 0600 (its directory 0700 if created too). An
        existing file readable by others is used, with a warning.
        """
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            first = VaultKey.generate()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: read theirs
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump([first.to_json()], f, indent=2)
                log.info("created vault key file %s (key %s)", path, first.id)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("vault key file %s is readable by others (mode %o): chmod 600", path, mode)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VaultError(f"cannot read vault key file {path}: {type(exc).__name__}") from None
        if not isinstance(entries, list):
            raise VaultError(f"vault key file {path} must hold a JSON list of keys")
        return cls(entries, path=path)

    def _save(self) -> None:
        """Write the keys back to the key file, atomically and with mode 0600."""
        if self._path is None:
            return
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".vault-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp creates it 0600
                json.dump([k.to_json() for k in self._keys], f, indent=2)
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------- keys
    @staticmethod
    def generate_key() -> str:
        """A new random key as base64, for a ``Vault(keys=[...])`` setting."""
        return VaultKey.generate().to_json()["key_b64"]

    @property
    def primary_key_id(self) -> str:
        """The id of the key new tokens are encrypted with."""
        return self._keys[0].id

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key held, newest (primary) first."""
        return [k.id for k in self._keys]

    def rotate(self) -> VaultKey:
        """Add a new primary key; old keys still decrypt.

        A file-backed vault saves the new key to its file. A vault built from a setting
        cannot: put the returned key (``key.to_json()["key_b64"]``) first in the setting
        before anything is encrypted with it, or those tokens are lost on restart.
        Then call :meth:`storage.Store.reencrypt_all` and, when it is done,
        :meth:`remove_key` for the old ones.
        """
        key = VaultKey.generate()
        with self._lock:
            self._keys.insert(0, key)
            self._ciphers[key.id] = AESGCM(key.key)
            self._save()
        log.info("vault rotated: new primary key %s", key.id)
        return key

    def remove_key(self, key_id: str) -> None:
        """Forget an old key (tokens still encrypted with it become unreadable)."""
        with self._lock:
            if key_id == self.primary_key_id:
                raise VaultError("the primary key cannot be removed; rotate first")
            if key_id not in self._ciphers:
                raise VaultKeyMissingError(f"no vault key {key_id!r}")
            self._keys = [k for k in self._keys if k.id != key_id]
            del self._ciphers[key_id]
            self._save()
        log.info("vault key %s removed", key_id)

    # ------------------------------------------------------------- encryption
    def encrypt(self, value: Any, *, aad: str) -> str:
        """Encrypt a JSON-serialisable value for the row named by ``aad`` (``table/id``)."""
        key_id = self.primary_key_id
        plaintext = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, plaintext, _aad(key_id, aad))
        return f"{_VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, *, aad: str) -> Any:
        """Decrypt a token made by :meth:`encrypt` for the same ``aad``.

        Raises :class:`VaultKeyMissingError` if its key is not held and
        :class:`VaultDecryptError` if it is malformed, tampered with or from another row.
        """
        version, key_id, body = _split(token, aad)
        if version != _VERSION:
            raise VaultDecryptError(f"unsupported vault token version {version!r} for {aad}")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise VaultKeyMissingError(f"vault key {key_id!r} needed for {aad} is not loaded")
        try:
            blob = base64.b64decode(body, altchars=b"-_", validate=True)
            plaintext = cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(key_id, aad))
        except (InvalidTag, binascii.Error, ValueError):
            raise VaultDecryptError(
                f"vault token for {aad} failed authentication (tampered, or from another row)"
            ) from None
        return json.loads(plaintext)

    def key_id_of(self, token: str) -> str:
        """The id of the key a token was encrypted with (no decryption)."""
        return _split(token, "token")[1]

    def needs_reencrypt(self, token: str) -> bool:
        """Whether a token was encrypted with a key other than the primary one."""
        return self.key_id_of(token) != self.primary_key_id

    def __repr__(self) -> str:
        where = f", path={str(self._path)!r}" if self._path else ""
        return f"Vault(key_ids={self.key_ids!r}{where})"


def _coerce_key(entry: VaultKey | str | Mapping[str, str]) -> VaultKey:
    if isinstance(entry, VaultKey):
        return entry
    if isinstance(entry, str):
        return VaultKey.from_b64(entry)
    try:
        key = VaultKey.from_b64(
            entry["key_b64"],
            datetime.fromisoformat(entry["created_at"]) if entry.get("created_at") else None,
        )
    except (KeyError, TypeError, ValueError):
        raise VaultError(
            "a vault key entry needs 'key_b64' (and optionally 'id', 'created_at')"
        ) from None
    if entry.get("id") not in (None, key.id):
        raise VaultError(f"vault key entry {entry['id']!r} does not match its key")
    return key


def _aad(key_id: str, aad: str) -> bytes:
    return f"{_VERSION}|{key_id}|{aad}".encode()


def _split(token: str, aad: str) -> tuple[str, str, str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise VaultDecryptError(f"malformed vault token for {aad}")
    return parts[0], parts[1], parts[2]


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)
