"""Users and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError
from ..models import ApiKeyRow, UserRow
from ..records import ApiKey, User
from ._base import RepoBase, new_id, rowcount, to_record, utcnow

API_KEY_PREFIX = "cw_"
#: last_used_at is refreshed at most this often, so API calls do not each cost a write
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def _hash_key(plaintext: str) -> str:
    # sha256 (not a slow password hash) is right for API keys: they carry 256 random
    # bits, so there is nothing to brute-force, and lookup by hash stays one index probe.
    return hashlib.sha256(plaintext.encode()).hexdigest()


class UsersRepo(RepoBase):
    def create_user(
        self,
        email: str,
        name: str = "",
        password_hash: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """Create a user. E-mails are stored lower-cased; a duplicate raises ConflictError."""
        row = UserRow(
            id=new_id(),
            email=_normalise_email(email),
            name=name,
            password_hash=password_hash,
            is_admin=is_admin,
            created_at=utcnow(),
        )
        try:
            with self._write() as s:
                s.add(row)
        except IntegrityError:
            raise ConflictError("a user with this e-mail already exists") from None
        return to_record(User, row)

    def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        with self._read() as s:
            row = s.get(UserRow, user_id)
            return to_record(User, row) if row else None

    def get_user_by_email(self, email: str) -> User | None:
        """The user with this e-mail (case-insensitive), or None."""
        with self._read() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == _normalise_email(email)))
            return to_record(User, row) if row else None

    def list_users(self) -> list[User]:
        """Every user, oldest first."""
        with self._read() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.created_at, UserRow.id))
            return [to_record(User, r) for r in rows]

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        is_admin: bool | None = None,
    ) -> User | None:
        """Change the given fields of a user; None if not found, ConflictError if the new
        e-mail is taken."""
        try:
            with self._write() as s:
                row = s.get(UserRow, user_id)
                if row is None:
                    return None
                if email is not None:
                    row.email = _normalise_email(email)
                if name is not None:
                    row.name = name
                if password_hash is not None:
                    row.password_hash = password_hash
                if is_admin is not None:
                    row.is_admin = is_admin
        except IntegrityError:
            raise ConflictError("a user with this e-mail already exists") from None
        return to_record(User, row)

    def create_api_key(self, user_id: str, name: str = "default") -> tuple[str, ApiKey]:
        """A new key for the user: ``(plaintext, record)``. The plaintext is shown once."""
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=new_id(),
            user_id=user_id,
            name=name,
            prefix=plaintext[:8],
            key_hash=_hash_key(plaintext),
            created_at=utcnow(),
            last_used_at=None,
            revoked_at=None,
        )
        with self._write() as s:
            s.add(row)
        return plaintext, to_record(ApiKey, row)

    def user_for_api_key(self, plaintext: str) -> User | None:
        """The owner of a valid (not revoked) key, or None; refreshes the key's last_used_at."""
        now = utcnow()
        query = (
            select(ApiKeyRow, UserRow)
            .join(UserRow, UserRow.id == ApiKeyRow.user_id)
            .where(ApiKeyRow.key_hash == _hash_key(plaintext), ApiKeyRow.revoked_at.is_(None))
        )
        with self._read() as s:
            found = s.execute(query).first()
        if found is None:
            return None
        key, user = found
        if key.last_used_at is None or now - key.last_used_at >= API_KEY_TOUCH_INTERVAL:
            with self._write() as s:
                s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key.id).values(last_used_at=now))
        return to_record(User, user)

    def list_api_keys(self, user_id: str) -> list[ApiKey]:
        """The user's keys (revoked ones included), oldest first."""
        with self._read() as s:
            rows = s.scalars(
                select(ApiKeyRow)
                .where(ApiKeyRow.user_id == user_id)
                .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
            )
            return [to_record(ApiKey, r) for r in rows]

    def revoke_api_key(self, user_id: str, key_id: str) -> bool:
        """Revoke one of the user's keys; False if not found (or already revoked)."""
        with self._write() as s:
            result = s.execute(
                update(ApiKeyRow)
                .where(
                    ApiKeyRow.id == key_id,
                    ApiKeyRow.user_id == user_id,
                    ApiKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            return rowcount(result) == 1
