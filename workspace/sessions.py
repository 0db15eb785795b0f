"""Sign-in sessions for the workspace: signed cookies, ``/login``, ``/logout``.

A session is a cookie ``cw_session`` = ``<user id>.<issued at>.<nonce>.<password tag>.<signature>``
signed with HMAC-SHA256 under a secret kept in the data directory (``session.key``,
created on first use, mode 0600), so every web process sharing the data directory
accepts the same cookies and a restart keeps people signed in.

- Signing out revokes the cookie's nonce (kept in the store's ``revoked_sessions``
  until it would have expired anyway, so every process sharing the store refuses it)
  and clears the cookie.
- The password tag is a digest of the user's password hash: changing the password
  ends every session of that user.
- Sessions last ``SESSION_DAYS`` days. Cookies are ``HttpOnly`` and ``SameSite=Lax``;
  ``Secure`` when the public URL is https.
- ``/login`` and ``/logout`` refuse cross-origin POSTs (``Origin`` header), and the
  sign-out form carries a token derived from the session (CSRF).
- Failed sign-ins are counted in the store (shared by every process) per source
  address and per (source address, e-mail) pair, over the last ``FAILURE_WINDOW``
  seconds: ``MAX_FAILURES`` for one pair pause that e-mail *from that address*;
  ``MAX_ADDRESS_FAILURES`` from one address, whatever the e-mails, pause the address.
  There is deliberately no lock per e-mail alone: it would let anyone lock a known
  account out; a stranger elsewhere cannot touch the real user's pair. The price is
  that an attacker with many addresses gets ``MAX_FAILURES`` guesses per address and
  window against argon2 hashes; put a rate limiter in front for that (docs/workspace.md).
  The counted keys are digests: the table holds no addresses or e-mails.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workspace.auth import hash_password, verify_password
from workspace.views.signin import login_page

if TYPE_CHECKING:
    from engine.ports import SignInStore
    from storage import User

COOKIE = "cw_session"
SESSION_DAYS = 7
SECRET_FILENAME = "session.key"  # noqa: S105 - a file name
#: where revocations were kept before the store held them (imported once, then removed)
LEGACY_REVOKED_FILENAME = "sessions-revoked.json"
ADMIN_PASSWORD_FILENAME = "admin-password.txt"  # noqa: S105 - a file name
ADMIN_EMAIL = "admin@localhost"
MAX_FAILURES = 5  # per (source address, e-mail) within FAILURE_WINDOW
MAX_ADDRESS_FAILURES = 20  # per source address, any e-mails, within FAILURE_WINDOW
FAILURE_WINDOW = 300.0
#: paths a browser may open without a session (everything else the workspace serves needs one)
PUBLIC_PREFIXES = (
    "/login",
    "/logout",
    "/api/",
    "/hooks/",
    "/sandbox/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",  # its own bearer token (settings.metrics_token)
    "/demo/",
    "/components/",
    "/favicon",
)


@dataclass(frozen=True)
class Session:
    user_id: str
    issued_at: int
    nonce: str

    @property
    def csrf(self) -> str:
        return hashlib.sha256(f"csrf:{self.nonce}".encode()).hexdigest()[:32]


def _tag(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:12]


class Sessions:
    """Issues and checks session cookies for one data directory and its accounts
    (``svc.accounts``: anything with the ``engine.ports.SignInStore`` calls).

    ``clock`` (seconds since the epoch) is for tests: expiry and the throttle's window
    use it, so they are checked without waiting.
    """

    def __init__(
        self,
        data_dir: Path,
        accounts: SignInStore,
        *,
        max_age: int = SESSION_DAYS * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.accounts = accounts
        self.max_age = max_age
        self._clock = clock
        self._secret = self._load_secret()
        self._import_legacy_revocations()

    # -- the secret, and revocations of older versions ------------------------------------

    def _load_secret(self) -> bytes:
        path = self.data_dir / SECRET_FILENAME
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())

    def _import_legacy_revocations(self) -> None:
        """Move sign-outs recorded in ``sessions-revoked.json`` into the store."""
        path = self.data_dir / LEGACY_REVOKED_FILENAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            data = {}
        now = self._clock()
        for nonce, until in data.items() if isinstance(data, dict) else ():
            if str(until).isdigit() and int(until) > now:
                self.accounts.revoke_session(str(nonce), _at(int(until)), _at(now))
        path.unlink(missing_ok=True)

    # -- cookies --------------------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, user: Any) -> str:
        """A cookie value for ``user`` (a ``storage.records.User``)."""
        payload = (
            f"{user.id}.{int(self._clock())}.{secrets.token_hex(8)}.{_tag(user.password_hash)}"
        )
        return f"{payload}.{self._sign(payload)}"

    def parse(self, value: str | None) -> tuple[Session, str] | None:
        """The session and its password tag if the cookie is authentic, fresh and not revoked."""
        if not value or value.count(".") != 4:
            return None
        payload, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        user_id, issued, nonce, tag = payload.split(".")
        if not issued.isdigit() or int(issued) + self.max_age < self._clock():
            return None
        if self.accounts.session_revoked(nonce):
            return None
        return Session(user_id, int(issued), nonce), tag

    def user(self, users: SignInStore, value: str | None) -> tuple[User, Session] | None:
        """The signed-in user for a cookie value, or None."""
        parsed = self.parse(value)
        if parsed is None:
            return None
        session, tag = parsed
        user = users.get_user(session.user_id)
        if (
            user is None
            or not user.password_hash
            or not hmac.compare_digest(tag, _tag(user.password_hash))
        ):
            return None
        return user, session

    def revoke(self, session: Session) -> None:
        """Sign ``session`` out, in every process sharing the store."""
        self.accounts.revoke_session(
            session.nonce, _at(session.issued_at + self.max_age), _at(self._clock())
        )

    # -- password attempts ----------------------------------------------------------------

    def _keys(self, address: str, email: str) -> tuple[str, str]:
        """The throttle's keys for a sign-in: (address and e-mail pair, address)."""
        email = email.strip().lower()
        pair = hashlib.sha256(f"pair\0{address}\0{email}".encode()).hexdigest()
        return pair, hashlib.sha256(f"address\0{address}".encode()).hexdigest()

    def throttled(self, address: str, email: str) -> str | None:
        """Why sign-in from ``address`` for ``email`` is paused now, or None."""
        pair, by_address = self._keys(address, email)
        counts = self.accounts.login_failures(
            [pair, by_address], _at(self._clock() - FAILURE_WINDOW)
        )
        if counts[by_address] >= MAX_ADDRESS_FAILURES:
            return (
                "Too many failed sign-ins from your network address. Wait five minutes, then "
                "try again."
            )
        if counts[pair] >= MAX_FAILURES:
            return "Too many failed attempts for this account. Wait five minutes, then try again."
        return None

    def failed(self, address: str, email: str) -> None:
        self.accounts.record_login_failure(self._keys(address, email), _at(self._clock()))

    def succeeded(self, address: str, email: str) -> None:
        # the address' count stays: signing in to one's own account must not reset a
        # budget that is spent guessing other people's passwords
        self.accounts.clear_login_failures(self._keys(address, email)[:1])

    async def authenticate(self, users: SignInStore, email: str, password: str) -> User | None:
        """The user if the password is right (argon2 runs in a thread: it is slow on purpose)."""
        user = await asyncio.to_thread(users.get_user_by_email, email)
        # verify against a dummy hash when the user is unknown, so timing does not tell
        stored = user.password_hash if user is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, stored, password)
        return user if (ok and user is not None and user.password_hash) else None


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


# -- users and passwords ---------------------------------------------------------------------


def set_password(users: SignInStore, user_id: str, password: str) -> None:
    """Store a new argon2 hash for the user (this ends their other sessions)."""
    users.update_user(user_id, password_hash=hash_password(password))


def ensure_admin(svc: Any) -> str | None:
    """Give the first admin a password if none has one; return a line to print, or None.

    The password is also written to ``<data dir>/admin-password.txt`` (mode 0600) so an
    operator who missed the console can still sign in; change it in Settings.
    """
    users = svc.accounts.list_users()
    admins = [u for u in users if u.is_admin]
    if any(u.password_hash for u in admins):
        return None
    password = secrets.token_urlsafe(12)
    if admins:
        admin = admins[0]
        set_password(svc.accounts, admin.id, password)
    else:
        admin = svc.accounts.create_user(
            ADMIN_EMAIL, name="Admin", password_hash=hash_password(password), is_admin=True
        )
    path = svc.settings.ensure_data_dir() / ADMIN_PASSWORD_FILENAME
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{admin.email}\n{password}\n")
    return (
        f"Admin account: sign in as {admin.email} with password {password}\n"
        f"(also saved in {path}; change it in Settings → Account)."
    )


# -- HTTP routes ------------------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect to another host after signing in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _same_origin(request: Any) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def add_routes(app: Any, svc: Any) -> Sessions:
    """``/login`` (GET form, POST), ``/logout`` (POST), and a guard that sends browsers
    without a session to ``/login``. Returns the ``Sessions`` (also ``app.state.sessions``)."""
    sessions = Sessions(svc.settings.ensure_data_dir(), svc.accounts)
    app.state.sessions = sessions
    secure = svc.settings.public_https()

    def sign_in_help() -> str:
        """Where this install's first password is: the admin file (a normal first start),
        the demo account (demo data creates no admin file), or the administrator."""
        from workspace.demo import DEMO_EMAIL, DEMO_PASSWORD
        from workspace.views.signin import ASK_ADMIN

        if (svc.settings.ensure_data_dir() / ADMIN_PASSWORD_FILENAME).exists():
            return (
                "First start? The administrator's password was printed by "
                "<code>cellwright serve</code> and saved in "
                f"<code>{ADMIN_PASSWORD_FILENAME}</code> in the data directory."
            )
        if svc.accounts.get_user_by_email(DEMO_EMAIL) is not None:
            return (
                f"Trying the demo? Sign in as <code>{DEMO_EMAIL}</code> with the password "
                f"<code>{DEMO_PASSWORD}</code> (unless it was changed in Settings)."
            )
        return ASK_ADMIN

    def page(**kw: Any) -> str:
        return login_page(help=sign_in_help(), **kw)

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        if sessions.user(svc.accounts, request.cookies.get(COOKIE)):
            return RedirectResponse(safe_next(next), status_code=303)
        notice = "You have been signed out." if request.query_params.get("bye") else None
        return HTMLResponse(page(next=safe_next(next), notice=notice))

    @app.post("/login", include_in_schema=False)
    async def login_submit(
        request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/")
    ) -> Response:
        target = safe_next(next)
        if not _same_origin(request):
            return HTMLResponse(
                page(
                    next=target,
                    error="This sign-in form was sent from another site; open the sign-in page "
                    "directly.",
                ),
                status_code=403,
            )
        if not email or not password:
            return HTMLResponse(
                page(
                    next=target, email=email, error="Enter your e-mail address and your password."
                ),
                status_code=400,
            )
        address = (
            request.client.host if request.client else "unknown"
        )  # uvicorn applies X-Forwarded-For from trusted proxies
        paused = await asyncio.to_thread(sessions.throttled, address, email)
        if paused:
            await asyncio.to_thread(svc.accounts.sign_in_failed, email, "throttled")
            return HTMLResponse(page(next=target, email=email, error=paused), status_code=429)
        user = await sessions.authenticate(svc.accounts, email, password)
        if user is None:
            await asyncio.to_thread(sessions.failed, address, email)
            await asyncio.to_thread(svc.accounts.sign_in_failed, email, "wrong_password")
            return HTMLResponse(
                page(
                    next=target,
                    email=email,
                    error="That e-mail and password do not match an account. Check both and try "
                    "again.",
                ),
                status_code=401,
            )
        await asyncio.to_thread(sessions.succeeded, address, email)
        await asyncio.to_thread(svc.accounts.signed_in, user.id)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.issue(user),
            max_age=sessions.max_age,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        found = sessions.user(svc.accounts, request.cookies.get(COOKIE))
        if found is not None:
            _, session = found
            if not _same_origin(request) or not hmac.compare_digest(csrf, session.csrf):
                return HTMLResponse(
                    page(
                        next="/",
                        error="Sign-out was refused: use the Sign out button of the workspace.",
                    ),
                    status_code=403,
                )
            await asyncio.to_thread(sessions.revoke, session)
            await asyncio.to_thread(svc.accounts.signed_out, found[0].id)
        response = RedirectResponse("/login?bye=1", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    app.add_middleware(SessionGate, accounts=svc.accounts, sessions=sessions)

    return sessions


STATIC_SUFFIXES = (".js", ".css", ".map", ".png", ".svg", ".ico", ".woff2", ".woff", ".ttf")


class SessionGate:
    """Sends page requests without a session to ``/login``.

    A plain ASGI middleware (not ``BaseHTTPMiddleware``, which costs every request —
    webhooks and API calls included — an extra task): only GETs of pages are checked.
    """

    def __init__(self, app: Any, accounts: SignInStore, sessions: Sessions) -> None:
        self.app = app
        self.accounts = accounts
        self.sessions = sessions

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if not path.startswith(PUBLIC_PREFIXES) and not path.endswith(STATIC_SUFFIXES):
                request = Request(scope)
                if self.sessions.user(self.accounts, request.cookies.get(COOKIE)) is None:
                    here = path + (f"?{request.url.query}" if request.url.query else "")
                    await RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)(
                        scope, receive, send
                    )
                    return
        await self.app(scope, receive, send)
