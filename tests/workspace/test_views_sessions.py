"""Sign-in sessions: cookies, routes, the first admin."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from workspace import sessions as s
from workspace.auth import hash_password


def test_cookie_round_trip_tamper_revoke(tmp_path: Any, svc: Any) -> None:
    user = svc.store.create_user("ada@example.com", password_hash=hash_password("pw-123456789"))
    sessions = s.Sessions(tmp_path)
    cookie = sessions.issue(user)
    found = sessions.user(svc.store, cookie)
    assert found is not None and found[0].id == user.id
    assert sessions.user(svc.store, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert sessions.user(svc.store, "garbage") is None
    # another process on the same data dir accepts it (same secret file)
    assert s.Sessions(tmp_path).user(svc.store, cookie) is not None
    sessions.revoke(found[1])
    assert sessions.user(svc.store, cookie) is None
    assert s.Sessions(tmp_path).user(svc.store, cookie) is None  # revocations persist
    # a password change ends the user's sessions
    other = sessions.issue(user)
    s.set_password(svc.store, user.id, "another-password")
    assert sessions.user(svc.store, other) is None
    expired = s.Sessions(tmp_path, max_age=-1)
    assert expired.user(svc.store, expired.issue(svc.store.get_user(user.id))) is None


def test_ensure_admin_once(svc: Any) -> None:
    line = s.ensure_admin(svc)
    assert line and "admin@localhost" in line
    email, password = (svc.settings.data_dir / s.ADMIN_PASSWORD_FILENAME).read_text().split()
    from workspace.auth import verify_password

    assert verify_password(svc.store.get_user_by_email(email).password_hash, password)
    assert s.ensure_admin(svc) is None


def test_safe_next() -> None:
    assert s.safe_next("/?page=scenario") == "/?page=scenario"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", None, ""):
        assert s.safe_next(bad) == "/"


@pytest.fixture
async def web(svc: Any) -> Any:
    app = FastAPI()
    s.add_routes(app, svc)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"page": "workspace"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_login_logout_flow(web: httpx.AsyncClient, svc: Any) -> None:
    svc.store.create_user("ada@example.com", password_hash=hash_password("right-password"))
    r = await web.get("/?page=executions")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = await web.get("/login")
    assert r.status_code == 200 and 'for="email"' in r.text and 'lang="en"' in r.text
    r = await web.post("/login", data={"email": "ada@example.com", "password": "wrong", "next": "/"})
    assert r.status_code == 401 and "do not match" in r.text and s.COOKIE not in r.cookies
    r = await web.post("/login", data={"email": "ada@example.com", "password": "right-password", "next": "https://evil.example"}, headers={"origin": "http://testserver"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=lax" in r.headers["set-cookie"].lower()
    assert (await web.get("/")).json() == {"page": "workspace"}
    r = await web.post("/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    cookie = web.cookies.get(s.COOKIE)
    sess = s.Sessions(svc.settings.data_dir).parse(cookie)[0]
    r = await web.post("/logout", data={"csrf": sess.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    web.cookies.clear()
    r = await web.get("/", cookies={s.COOKIE: cookie})  # the old cookie no longer works
    assert r.status_code == 303


async def test_cross_site_login_and_throttling(web: httpx.AsyncClient, svc: Any) -> None:
    svc.store.create_user("bob@example.com", password_hash=hash_password("right-password"))
    r = await web.post("/login", data={"email": "bob@example.com", "password": "right-password"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    for _ in range(s.MAX_FAILURES):
        await web.post("/login", data={"email": "bob@example.com", "password": "nope"})
    started = time.perf_counter()
    r = await web.post("/login", data={"email": "bob@example.com", "password": "right-password"})
    assert r.status_code == 429 and "Too many" in r.text and time.perf_counter() - started < 1
