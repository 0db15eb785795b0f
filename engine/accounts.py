"""``Accounts``: users, API keys, sign-in bookkeeping, alert rules and the audit log.

Every change it makes is audited (``user.*``, ``api_key.*``, ``alert_rule.*``,
``auth.*``); the trail is read through :meth:`Accounts.audit_trail`, which keeps a user
to their own entries.

Password hashing is the workspace's (``workspace.auth``, argon2): this service stores
hashes, never passwords. Its sign-in methods carry the store's names, so it is the
``engine.ports.SignInStore`` that ``workspace.sessions`` uses. Everything a user owns
is looked up with their id: another user's API key or alert rule is not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from email.utils import getaddresses
from typing import TYPE_CHECKING, TypedDict, Unpack

from connectors.sdk import InvalidInputError

if TYPE_CHECKING:
    from engine.ports import AccountStore
    from engine.scenarios import Scenarios
    from storage import AlertRule, ApiKey, AuditEntry, ChainVerdict, User

__all__ = ["EMAIL_APP", "LOCAL_ADMIN_EMAIL", "MAX_EMAIL_RECIPIENTS", "Accounts", "AuditFilters"]


class AuditFilters(TypedDict, total=False):
    """How the audit trail can be narrowed (all optional, combined with AND)."""

    #: who did it
    actor_id: str | None
    #: ``scenario.publish``, or a group without a dot: ``scenario`` (every ``scenario.*``)
    action: str | None
    object_type: str | None
    object_id: str | None
    #: at or after
    since: datetime | None
    #: before
    until: datetime | None


EMAIL_APP = "smtp"
"""The app whose connections send alert e-mails."""
MAX_EMAIL_RECIPIENTS = 20

LOCAL_ADMIN_EMAIL = "admin@localhost"
"""The admin created when the CLI opens an empty store."""


class Accounts:
    """Users and what belongs to them but scenarios, connections and executions.
    ``scenarios`` checks that an alert rule names one of the user's scenarios."""

    def __init__(self, store: AccountStore, scenarios: Scenarios) -> None:
        self._store = store
        self._scenarios = scenarios

    # -- users --------------------------------------------------------------------------

    def local_user(self) -> User:
        """The user the CLI acts as: the first admin, created when the store is empty."""
        for user in self._store.list_users():
            if user.is_admin:
                return user
        return self.create_user(LOCAL_ADMIN_EMAIL, name="Admin", is_admin=True)

    def list_users(self) -> list[User]:
        return self._store.list_users()

    def get_user(self, user_id: str) -> User | None:
        return self._store.get_user(user_id)

    def get_user_by_email(self, email: str) -> User | None:
        return self._store.get_user_by_email(email)

    def create_user(
        self,
        email: str,
        *,
        name: str = "",
        password_hash: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """A new user; ``password_hash`` from
        ``workspace.auth.hash_password`` (None: cannot sign in)."""
        user = self._store.create_user(
            email, name=name, password_hash=password_hash, is_admin=is_admin
        )
        self._store.audit(user.id, "user.create", "user", user.id, {"is_admin": is_admin})
        return user

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        is_admin: bool | None = None,
    ) -> User | None:
        """Change what is given (a new ``password_hash`` ends the user's sessions).
        Audited as ``user.password_change`` and ``user.update`` (which fields, never the
        password hash)."""
        updated = self._store.update_user(
            user_id, email=email, name=name, password_hash=password_hash, is_admin=is_admin
        )
        if updated is None:
            return None
        if password_hash is not None:
            self._store.audit(user_id, "user.password_change", "user", user_id)
        changed = {
            k: v
            for k, v in (("email", email), ("name", name), ("is_admin", is_admin))
            if v is not None
        }
        if changed:
            self._store.audit(user_id, "user.update", "user", user_id, changed)
        return updated

    # -- API keys -----------------------------------------------------------------------

    def create_api_key(self, user_id: str, name: str = "default") -> tuple[str, ApiKey]:
        """A new key: (plaintext, shown once and never stored; its record)."""
        plaintext, key = self._store.create_api_key(user_id, name)
        self._store.audit(user_id, "api_key.create", "api_key", key.id, {"name": name})
        return plaintext, key

    def list_api_keys(self, user_id: str) -> list[ApiKey]:
        return self._store.list_api_keys(user_id)

    def revoke_api_key(self, user_id: str, key_id: str) -> bool:
        """False when the key is not the user's or is already revoked."""
        revoked = self._store.revoke_api_key(user_id, key_id)
        if revoked:
            self._store.audit(user_id, "api_key.revoke", "api_key", key_id)
        return revoked

    def user_for_api_key(self, plaintext: str) -> User | None:
        """The owner of a valid, unrevoked key, or None."""
        return self._store.user_for_api_key(plaintext)

    # -- sign-ins (workspace.sessions) --------------------------------------------------

    def signed_in(self, user_id: str) -> None:
        """Audit a successful sign-in (``auth.sign_in``)."""
        self._store.audit(user_id, "auth.sign_in", "user", user_id)

    def sign_in_failed(self, email: str, reason: str) -> None:
        """Audit a refused sign-in (``auth.sign_in_failed``): a wrong password, or a pause
        after too many. The entry is the account's when the e-mail names one (with that
        address); an unknown address is not written down (it may be a mistyped
        password). The password never is."""
        user = self._store.get_user_by_email(email.strip()) if email.strip() else None
        details: dict[str, str] = {"reason": reason}
        if user is not None:
            details["email"] = user.email
        self._store.audit(
            user.id if user else None,
            "auth.sign_in_failed",
            "user",
            user.id if user else None,
            details,
            actor_id="",  # nobody known: whoever typed it
        )

    def signed_out(self, user_id: str) -> None:
        """Audit a sign-out (``auth.sign_out``)."""
        self._store.audit(user_id, "auth.sign_out", "user", user_id)

    def revoke_session(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        self._store.revoke_session(nonce, expires_at, now)

    def session_revoked(self, nonce: str) -> bool:
        return self._store.session_revoked(nonce)

    def record_login_failure(self, keys: Iterable[str], at: datetime) -> None:
        self._store.record_login_failure(keys, at)

    def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, int]:
        return self._store.login_failures(keys, since)

    def clear_login_failures(self, keys: Iterable[str]) -> None:
        self._store.clear_login_failures(keys)

    # -- alert rules and the audit log --------------------------------------------------

    def alert_rules(self, user_id: str) -> list[AlertRule]:
        return self._store.list_alert_rules(user_id)

    def add_alert_rule(
        self,
        user_id: str,
        *,
        scenario_id: str | None = None,
        notify_workspace: bool = True,
        webhook_url: str | None = None,
        email_connection_id: str | None = None,
        email_to: Iterable[str] | None = None,
    ) -> AlertRule:
        """A rule for failures of one of the user's scenarios (None: any of them);
        ``NotFound`` for another user's or a deleted scenario.

        An e-mail rule names one of the user's SMTP connections and the recipients
        (``InvalidInputError`` naming the field otherwise: another user's connection reads
        as not found, like one that does not exist)."""
        if scenario_id is not None:
            self._scenarios.get(user_id, scenario_id)
        recipients = self._email_channel(user_id, email_connection_id, email_to)
        rule = self._store.create_alert_rule(
            user_id,
            scenario_id=scenario_id,
            notify_workspace=notify_workspace,
            webhook_url=webhook_url,
            email_connection_id=email_connection_id if recipients else None,
            email_to=recipients or None,
        )
        self._store.audit(
            user_id,
            "alert_rule.create",
            "alert_rule",
            rule.id,
            {
                "scenario_id": scenario_id,
                "notify_workspace": notify_workspace,
                "webhook": bool(webhook_url),
                "email": len(recipients or ()),
            },
        )
        return rule

    def _email_channel(
        self, user_id: str, connection_id: str | None, email_to: Iterable[str] | None
    ) -> list[str]:
        """The checked recipients of an e-mail rule (empty: the rule sends no e-mail)."""
        from connectors.smtp.auth import check_address, display_address

        if isinstance(email_to, str):  # "a@x.com, b@y.com" as typed
            email_to = [email_to]
        recipients = [
            display_address(name, address)
            for name, address in getaddresses([a for a in (email_to or []) if a and a.strip()])
            if address
        ]
        if not connection_id and not recipients:
            return []
        if not connection_id:
            raise InvalidInputError(
                "Pick the SMTP connection that sends the alert e-mails.",
                errors=[{"field": "email_connection_id", "message": "required with email_to"}],
            )
        connection = self._store.get_connection(user_id, connection_id)
        if connection is None:
            raise InvalidInputError(
                f"The connection '{connection_id}' was not found among your connections. "
                "Pick one of your SMTP connections.",
                errors=[{"field": "email_connection_id", "message": "not found"}],
            )
        if connection.app_id != EMAIL_APP:
            raise InvalidInputError(
                f"The connection '{connection.name}' is not an SMTP (e-mail) connection.",
                errors=[{"field": "email_connection_id", "message": "not an SMTP connection"}],
            )
        if not recipients:
            raise InvalidInputError(
                "Give the addresses the alert e-mails go to.",
                errors=[{"field": "email_to", "message": "no recipient"}],
            )
        if len(recipients) > MAX_EMAIL_RECIPIENTS:
            raise InvalidInputError(
                f"An alert rule e-mails at most {MAX_EMAIL_RECIPIENTS} addresses.",
                errors=[{"field": "email_to", "message": "too many recipients"}],
            )
        for address in recipients:
            try:
                check_address(address)
            except ValueError as exc:
                raise InvalidInputError(
                    f"email_to: {exc}.", errors=[{"field": "email_to", "message": str(exc)}]
                ) from None
        return recipients

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool:
        """False when the rule is not the user's (nothing happens)."""
        deleted = self._store.delete_alert_rule(user_id, rule_id)
        if deleted:
            self._store.audit(user_id, "alert_rule.delete", "alert_rule", rule_id)
        return deleted

    def audit_entries(
        self, user_id: str | None, limit: int = 100, **filters: Unpack[AuditFilters]
    ) -> list[AuditEntry]:
        """The newest entries first (``user_id`` None: every user's, for administrators;
        the REST API and the workspace go through :meth:`audit_trail`)."""
        return self._store.audit_entries(user_id, limit=limit, **filters)

    def audit_trail(
        self, viewer: User, *, limit: int = 100, offset: int = 0, **filters: Unpack[AuditFilters]
    ) -> list[AuditEntry]:
        """The entries ``viewer`` may read, newest first: an administrator every user's,
        anyone else only their own (entries about their account and objects)."""
        return self._store.audit_entries(
            None if viewer.is_admin else viewer.id, limit=limit, offset=offset, **filters
        )

    def verify_audit_chain(self) -> ChainVerdict:
        """Whether the audit trail's hash chain is intact (``cellwright audit verify``)."""
        return self._store.verify_audit_chain()


if TYPE_CHECKING:
    from engine.ports import SignInStore

    def _signs_in(accounts: Accounts) -> SignInStore:
        return accounts  # mypy: ``workspace.sessions`` may take an Accounts where it took the store
