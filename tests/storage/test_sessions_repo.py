"""Sign-in state in the store (both databases): revoked sessions and failed sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_revoked_sessions_are_refused_until_they_expire_then_forgotten(store: Store) -> None:
    assert not store.session_revoked("n1")
    store.revoke_session("n1", T0 + timedelta(days=7), T0)
    store.revoke_session("n1", T0 + timedelta(days=7), T0)  # twice (two tabs signing out): fine
    assert store.session_revoked("n1")
    # a later sign-out sweeps revocations whose cookies have expired anyway
    store.revoke_session("n2", T0 + timedelta(days=15), T0 + timedelta(days=8))
    assert not store.session_revoked("n1") and store.session_revoked("n2")


def test_failed_sign_ins_are_counted_per_key_within_the_window(store: Store) -> None:
    for minute in range(3):
        store.record_login_failure(["pair", "address"], T0 + timedelta(minutes=minute))
    store.record_login_failure(["address"], T0 + timedelta(minutes=3))
    assert store.login_failures(["pair", "address", "other"], T0) == {
        "pair": 3,
        "address": 4,
        "other": 0,
    }
    assert store.login_failures(["pair", "address"], T0 + timedelta(minutes=2)) == {
        "pair": 1,
        "address": 2,
    }
    store.clear_login_failures(["pair"])
    assert store.login_failures(["pair", "address"], T0) == {"pair": 0, "address": 4}
    # rows older than a day go when new ones are written
    store.record_login_failure(["late"], T0 + timedelta(days=2))
    assert store.login_failures(["address", "late"], T0 - timedelta(days=1)) == {
        "address": 0,
        "late": 1,
    }
