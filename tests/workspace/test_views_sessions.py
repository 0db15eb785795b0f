"""Sign-in sessions: cookies, routes, the first admin, sign-outs and throttling shared
by every process on the store."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from workspace import sessions as s
from workspace.auth import hash_password


def test_cookie_round_trip_tamper_revoke(tmp_path: Any, svc: Any) -> None:
    user = svc.store.create_user("ada@example.com", password_hash=hash_password("pw-123456789"))
    sessions = s.Sessions(tmp_path, svc.store)
    cookie = sessions.issue(user)
    found = sessions.user(svc.store, cookie)
    assert found is not None and found[0].id == user.id
    assert sessions.user(svc.store, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert sessions.user(svc.store, "garbage") is None
    # another process on the same data dir accepts it (same secret file)
    assert s.Sessions(tmp_path, svc.store).user(svc.store, cookie) is not None
    sessions.revoke(found[1])
    assert sessions.user(svc.store, cookie) is None
    assert s.Sessions(tmp_path, svc.store).user(svc.store, cookie) is None  # revocations persist
    # a password change ends the user's sessions
    other = sessions.issue(user)
    s.set_password(svc.store, user.id, "another-password")
    assert sessions.user(svc.store, other) is None
    expired = s.Sessions(tmp_path, svc.store, max_age=-1)
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
    r = await web.post(
        "/login", data={"email": "ada@example.com", "password": "wrong", "next": "/"}
    )
    assert r.status_code == 401 and "do not match" in r.text and s.COOKIE not in r.cookies
    r = await web.post(
        "/login",
        data={
            "email": "ada@example.com",
            "password": "right-password",
            "next": "https://evil.example",
        },
        headers={"origin": "http://testserver"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (
        "httponly" in r.headers["set-cookie"].lower()
        and "samesite=lax" in r.headers["set-cookie"].lower()
    )
    assert (await web.get("/")).json() == {"page": "workspace"}
    r = await web.post("/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    cookie = web.cookies.get(s.COOKIE)
    sess = s.Sessions(svc.settings.data_dir, svc.store).parse(cookie)[0]
    r = await web.post("/logout", data={"csrf": sess.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    web.cookies.clear()
    r = await web.get("/", cookies={s.COOKIE: cookie})  # the old cookie no longer works
    assert r.status_code == 303


async def test_the_sign_in_page_says_where_this_installs_password_is(
    web: httpx.AsyncClient, svc: Any
) -> None:
    """Demo mode writes no admin-password.txt: the page must not send people looking for it."""
    from workspace.demo import DEMO_EMAIL

    assert "Ask your Cellwright administrator" in (await web.get("/login")).text
    svc.store.create_user(DEMO_EMAIL, password_hash=hash_password("demo"), is_admin=True)
    text = (await web.get("/login")).text
    assert DEMO_EMAIL in text and "admin-password.txt" not in text
    # a normal first start: the file exists, and the page points to it
    (svc.settings.data_dir / s.ADMIN_PASSWORD_FILENAME).write_text("admin@localhost\nx\n")
    assert "admin-password.txt" in (await web.get("/login")).text


async def test_cross_site_login_and_throttling(web: httpx.AsyncClient, svc: Any) -> None:
    svc.store.create_user("bob@example.com", password_hash=hash_password("right-password"))
    r = await web.post(
        "/login",
        data={"email": "bob@example.com", "password": "right-password"},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    for _ in range(s.MAX_FAILURES):
        await web.post("/login", data={"email": "bob@example.com", "password": "nope"})
    # paused before the password is checked: the right one gets no cookie either
    r = await web.post("/login", data={"email": "bob@example.com", "password": "right-password"})
    assert (
        r.status_code == 429
        and "Too many failed attempts for this account" in r.text
        and s.COOKIE not in r.cookies
    )


# -- state shared by every process on the store -------------------------------------------


def _client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A browser at ``address`` (the server sees it as the request's client)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="http://testserver",
    )


@pytest.fixture
async def twin(svc: Any) -> AsyncIterator[Any]:
    """A second service on the same data directory and database: another server process
    as far as sessions go (its own Store object and its own Sessions)."""
    from engine.service import Cellwright

    other = Cellwright(svc.settings, apps=svc.apps)
    try:
        yield other
    finally:
        other.close()


def _web(service: Any) -> FastAPI:
    app = FastAPI()
    s.add_routes(app, service)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"page": "workspace"}

    return app


async def test_signing_out_on_one_process_ends_the_session_on_the_other(
    svc: Any, twin: Any
) -> None:
    svc.store.create_user("ada@example.com", password_hash=hash_password("right-password"))
    first, second = _web(svc), _web(twin)
    async with _client(first) as a, _client(second) as b:
        r = await a.post("/login", data={"email": "ada@example.com", "password": "right-password"})
        cookie = r.cookies[s.COOKIE]
        b.cookies.set(s.COOKIE, cookie)
        assert (await b.get("/")).json() == {"page": "workspace"}  # the same cookie works on both
        csrf = s.Sessions(svc.settings.data_dir, svc.store).parse(cookie)[0].csrf
        assert (await a.post("/logout", data={"csrf": csrf})).status_code == 303
        r = await b.get("/")  # the other process refuses it at once, without a restart
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_failed_sign_ins_count_across_processes(svc: Any, twin: Any) -> None:
    svc.store.create_user("bob@example.com", password_hash=hash_password("right-password"))
    async with _client(_web(svc), "203.0.113.7") as a, _client(_web(twin), "203.0.113.7") as b:
        for attempt in range(s.MAX_FAILURES):
            client = a if attempt % 2 else b  # alternate: each process sees half of them
            assert (
                await client.post("/login", data={"email": "bob@example.com", "password": "nope"})
            ).status_code == 401
        for client in (a, b):
            assert (
                await client.post(
                    "/login", data={"email": "bob@example.com", "password": "right-password"}
                )
            ).status_code == 429


async def test_a_stranger_cannot_lock_the_real_user_out(svc: Any) -> None:
    svc.store.create_user("carol@example.com", password_hash=hash_password("right-password"))
    app = _web(svc)
    async with _client(app, "198.51.100.66") as stranger, _client(app, "203.0.113.10") as carol:
        for _ in range(s.MAX_FAILURES + 3):
            await stranger.post("/login", data={"email": "carol@example.com", "password": "guess"})
        r = await stranger.post("/login", data={"email": "carol@example.com", "password": "guess"})
        assert r.status_code == 429 and "for this account" in r.text
        r = await carol.post(
            "/login", data={"email": "carol@example.com", "password": "right-password"}
        )
        assert r.status_code == 303 and s.COOKIE in r.cookies


async def test_one_address_trying_many_accounts_is_paused(svc: Any) -> None:
    svc.store.create_user("dave@example.com", password_hash=hash_password("right-password"))
    app = _web(svc)
    async with _client(app, "198.51.100.9") as sprayer, _client(app, "203.0.113.11") as dave:
        statuses = [
            (
                await sprayer.post(
                    "/login", data={"email": f"user{n}@example.com", "password": "Summer2024!"}
                )
            ).status_code
            for n in range(s.MAX_ADDRESS_FAILURES + 2)
        ]
        assert statuses[: s.MAX_ADDRESS_FAILURES] == [401] * s.MAX_ADDRESS_FAILURES
        assert statuses[s.MAX_ADDRESS_FAILURES :] == [429, 429]
        r = await sprayer.post(
            "/login", data={"email": "dave@example.com", "password": "right-password"}
        )
        assert r.status_code == 429 and "from your network address" in r.text
        # other addresses are not affected
        assert (
            await dave.post(
                "/login", data={"email": "dave@example.com", "password": "right-password"}
            )
        ).status_code == 303


def test_the_pause_ends_when_the_window_has_passed(tmp_path: Any, svc: Any) -> None:
    now = [1_900_000_000.0]
    sessions = s.Sessions(tmp_path, svc.store, clock=lambda: now[0])
    for _ in range(s.MAX_FAILURES):
        sessions.failed("192.0.2.1", "Eve@Example.com ")
    assert (
        sessions.throttled("192.0.2.1", "eve@example.com") is not None
    )  # e-mails compare case-insensitively
    assert sessions.throttled("192.0.2.2", "eve@example.com") is None
    now[0] += s.FAILURE_WINDOW - 1
    assert sessions.throttled("192.0.2.1", "eve@example.com") is not None
    now[0] += 2
    assert sessions.throttled("192.0.2.1", "eve@example.com") is None
    # a success clears the pair's count, not the address' count
    for _ in range(s.MAX_FAILURES - 1):
        sessions.failed("192.0.2.1", "eve@example.com")
    sessions.succeeded("192.0.2.1", "eve@example.com")
    assert svc.store.login_failures(
        sessions._keys("192.0.2.1", "eve@example.com"), s._at(now[0] - 10)
    ) == {
        sessions._keys("192.0.2.1", "eve@example.com")[0]: 0,
        sessions._keys("192.0.2.1", "eve@example.com")[1]: s.MAX_FAILURES - 1,
    }


def test_sign_outs_of_the_old_revocation_file_are_kept(tmp_path: Any, svc: Any) -> None:
    user = svc.store.create_user("fay@example.com", password_hash=hash_password("pw-123456789"))
    old = s.Sessions(tmp_path, svc.store)
    cookie = old.issue(user)
    nonce = cookie.split(".")[2]
    (tmp_path / s.LEGACY_REVOKED_FILENAME).write_text(json.dumps({nonce: int(time.time()) + 3600}))
    assert s.Sessions(tmp_path, svc.store).user(svc.store, cookie) is None
    assert not (tmp_path / s.LEGACY_REVOKED_FILENAME).exists()
