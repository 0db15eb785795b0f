"""The credential vault, alone and inside the store (secrets never reach the disk)."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storage import (
    Store,
    User,
    Vault,
    VaultDecryptError,
    VaultError,
    VaultKey,
    VaultKeyMissingError,
)
from storage import vault as vault_module

SECRET = {"api_key": "sk_live_PLAINTEXT_CANARY_4242", "nested": {"password": "hunter2-CANARY"}}
CANARIES = ("sk_live_PLAINTEXT_CANARY_4242", "hunter2-CANARY")


def raw(store: Store, sql: str, **params: Any) -> list[Any]:
    with store._engine.connect() as conn:
        return list(conn.execute(text(sql), params))


# ------------------------------------------------------------------ the vault alone


def test_round_trip_and_token_format(vault: Vault) -> None:
    token = vault.encrypt(SECRET, aad="connections/c1")
    assert re.fullmatch(rf"v1\.{vault.primary_key_id}\.[A-Za-z0-9_=-]+", token)
    assert vault.decrypt(token, aad="connections/c1") == SECRET
    assert not any(c in token for c in CANARIES)
    blob = base64.urlsafe_b64decode(token.split(".")[2])
    assert len(blob) == 12 + len(json.dumps(SECRET, separators=(",", ":"))) + 16  # nonce|ct|tag
    # a fresh nonce each time: the same value never encrypts to the same token
    assert vault.encrypt(SECRET, aad="connections/c1") != token
    assert vault.key_id_of(token) == vault.primary_key_id and not vault.needs_reencrypt(token)


def test_associated_data_binds_a_token_to_its_row(vault: Vault) -> None:
    token = vault.encrypt(SECRET, aad="connections/c1")
    with pytest.raises(VaultDecryptError, match="connections/c2") as err:
        vault.decrypt(token, aad="connections/c2")
    assert not any(c in str(err.value) for c in CANARIES)


def test_tampering_is_detected(vault: Vault) -> None:
    token = vault.encrypt(SECRET, aad="a")
    version, key_id, body = token.split(".")
    blob = bytearray(base64.urlsafe_b64decode(body))
    for index in (0, 12, len(blob) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        forged = f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(tampered)).decode()}"
        with pytest.raises(VaultDecryptError, match="failed authentication"):
            vault.decrypt(forged, aad="a")
    with pytest.raises(VaultDecryptError):
        vault.decrypt(f"{version}.{key_id}.{body[:10]}", aad="a")  # truncated
    with pytest.raises(VaultDecryptError, match="malformed"):
        vault.decrypt("not-a-token", aad="a")
    with pytest.raises(VaultDecryptError, match="malformed"):
        vault.decrypt(None, aad="a")  # type: ignore[arg-type]
    with pytest.raises(VaultDecryptError, match="version 'v9'"):
        vault.decrypt(f"v9.{key_id}.{body}", aad="a")


def test_unknown_key_is_a_clear_error_without_secrets(vault: Vault) -> None:
    other = Vault([Vault.generate_key()])
    token = other.encrypt(SECRET, aad="connections/c1")
    with pytest.raises(VaultKeyMissingError, match=other.primary_key_id) as err:
        vault.decrypt(token, aad="connections/c1")
    message = str(err.value)
    assert not any(c in message for c in CANARIES)
    assert "connections/c1" in message


def test_repr_and_errors_never_show_key_material(tmp_path: Path) -> None:
    key_b64 = Vault.generate_key()
    vault = Vault([key_b64], path=tmp_path / "k")
    key = VaultKey.from_b64(key_b64)
    assert key_b64 not in repr(vault) and vault.primary_key_id in repr(vault)
    assert key_b64 not in repr(key) and str(key.key) not in repr(key)
    with pytest.raises(VaultKeyMissingError) as err:
        vault.decrypt(f"v1.ffffffffffff.{'A' * 40}", aad="a")
    assert key_b64 not in str(err.value)


def test_keys_from_a_setting(vault: Vault) -> None:
    key_b64 = Vault.generate_key()
    standard_b64 = key_b64.replace("-", "+").replace("_", "/").rstrip("=")  # either alphabet
    one, two = Vault(keys=[key_b64]), Vault(keys=[standard_b64])
    assert one.primary_key_id == two.primary_key_id  # the id derives from the key
    assert two.decrypt(one.encrypt({"a": 1}, aad="x"), aad="x") == {"a": 1}
    as_entry = VaultKey.from_b64(key_b64).to_json()
    assert Vault([as_entry]).primary_key_id == one.primary_key_id
    assert Vault([VaultKey.from_b64(key_b64)]).key_ids == one.key_ids


@pytest.mark.parametrize(
    "keys, message",
    [
        ([], "at least one key"),
        (["%%%"], "not valid base64"),
        ([base64.b64encode(b"short").decode()], "must be 32 bytes"),
        ([{"id": "x"}], "needs 'key_b64'"),
        ([{"key_b64": Vault.generate_key(), "created_at": "yesterday"}], "needs 'key_b64'"),
        ([{"id": "wrong", "key_b64": Vault.generate_key()}], "does not match its key"),
    ],
)
def test_bad_keys_are_refused(keys: list[Any], message: str) -> None:
    with pytest.raises(VaultError, match=message):
        Vault(keys)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "vault.key"
    vault = Vault.from_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entries = json.loads(path.read_text())
    assert [e["id"] for e in entries] == vault.key_ids
    assert set(entries[0]) == {"id", "key_b64", "created_at"}

    token = vault.encrypt(SECRET, aad="x")
    again = Vault.from_key_file(str(path))
    assert again.key_ids == vault.key_ids and again.decrypt(token, aad="x") == SECRET


def test_key_file_readable_by_others_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vault.key"
    Vault.from_key_file(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.vault"):
        Vault.from_key_file(path)
    assert "readable by others" in caplog.text


@pytest.mark.parametrize("content, message", [("{not json", "cannot read"), ("{}", "JSON list")])
def test_broken_key_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "vault.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(VaultError, match=message):
        Vault.from_key_file(path)


def test_key_file_race_reads_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes start at once: the one that loses the O_EXCL race uses the other's key."""
    path = tmp_path / "vault.key"
    real_open = os.open
    winner: list[Vault] = []

    def racing_open(file: Any, flags: int, mode: int = 0o777) -> int:
        if not winner:
            monkeypatch.setattr(vault_module.os, "open", real_open)
            winner.append(Vault.from_key_file(path))  # the other process, just before us
        return real_open(file, flags, mode)

    monkeypatch.setattr(vault_module.os, "open", racing_open)
    loser = Vault.from_key_file(path)
    assert loser.key_ids == winner[0].key_ids


def test_rotation_keeps_old_tokens_readable(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    vault = Vault.from_key_file(path)
    old_id = vault.primary_key_id
    old_token = vault.encrypt(SECRET, aad="x")

    new_key = vault.rotate()
    assert vault.primary_key_id == new_key.id != old_id and vault.key_ids == [new_key.id, old_id]
    assert vault.decrypt(old_token, aad="x") == SECRET and vault.needs_reencrypt(old_token)
    assert vault.key_id_of(vault.encrypt(SECRET, aad="x")) == new_key.id
    # persisted, newest first, still private
    assert Vault.from_key_file(path).key_ids == [new_key.id, old_id]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    with pytest.raises(VaultError, match="primary key cannot be removed"):
        vault.remove_key(new_key.id)
    with pytest.raises(VaultKeyMissingError):
        vault.remove_key("nope")
    vault.remove_key(old_id)
    assert Vault.from_key_file(path).key_ids == [new_key.id]
    with pytest.raises(VaultKeyMissingError):
        vault.decrypt(old_token, aad="x")


def test_rotation_of_a_setting_vault_returns_the_key_to_persist() -> None:
    vault = Vault([Vault.generate_key()])
    key = vault.rotate()
    restarted = Vault([key.to_json()["key_b64"]])  # what the operator puts in the setting
    assert restarted.decrypt(vault.encrypt({"a": 1}, aad="x"), aad="x") == {"a": 1}


def test_failed_key_file_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vault.key"
    vault = Vault.from_key_file(path)
    before = path.read_text()

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(vault_module.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        vault.rotate()
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.key"]  # no temp file left


def test_vault_never_logs_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        vault = Vault.from_key_file(tmp_path / "vault.key")
        token = vault.encrypt(SECRET, aad="x")
        vault.rotate()
        vault.decrypt(token, aad="x")
    key_material = [e["key_b64"] for e in json.loads((tmp_path / "vault.key").read_text())]
    assert caplog.text  # it does log (key ids), so the check below means something
    for secret in (*CANARIES, *key_material):
        assert secret not in caplog.text


# ------------------------------------------------------------------ inside the store


def test_swapped_ciphertexts_do_not_decrypt(store: Store, alice: User, bob: User) -> None:
    mine = store.create_connection(alice.id, "slack", "Alice's", {"token": "alice-token"})
    theirs = store.create_connection(bob.id, "slack", "Bob's", {"token": "bob-token"})
    with store._engine.begin() as conn:  # an attacker with write access to the table
        conn.execute(
            text(
                "UPDATE connections SET credentials = "
                "(SELECT credentials FROM connections WHERE id = :src) WHERE id = :dst"
            ),
            {"src": mine.id, "dst": theirs.id},
        )
    with pytest.raises(VaultDecryptError, match=f"connections/{theirs.id}"):
        store.connection_credentials(theirs.id)
    assert store.connection_credentials(mine.id) == {"token": "alice-token"}


def test_scenario_secrets_are_the_owners_and_bound_to_their_row(
    store: Store, alice: User, bob: User
) -> None:
    """Secrets typed into cell inputs: only their owner reads them, and a ciphertext
    copied onto another row does not decrypt."""
    mine = store.create_secret(alice.id, "alice-bearer-CANARY")
    theirs = store.create_secret(bob.id, "bob-bearer-CANARY")
    assert store.secret_values(alice.id, {mine, theirs, "nosuch"}) == {mine: "alice-bearer-CANARY"}
    assert store.owned_secrets(bob.id, [mine, theirs]) == {theirs}
    assert [
        row[0].startswith("v1.") for row in raw(store, "SELECT value FROM scenario_secrets")
    ] == [True, True]
    store.vault.rotate()
    assert store.reencrypt_all() == 2
    assert store.secret_values(bob.id, [theirs]) == {theirs: "bob-bearer-CANARY"}
    with store._engine.begin() as conn:  # an attacker with write access to the table
        conn.execute(
            text(
                "UPDATE scenario_secrets SET value = "
                "(SELECT value FROM scenario_secrets WHERE id = :src) WHERE id = :dst"
            ),
            {"src": mine, "dst": theirs},
        )
    with pytest.raises(VaultDecryptError, match=f"scenario_secrets/{theirs}"):
        store.secret_values(bob.id, [theirs])


def test_rotation_and_reencrypt_all(store: Store, alice: User, scenario: Any) -> None:
    vault = store.vault
    old_id = vault.primary_key_id
    connections = [store.create_connection(alice.id, "a", f"c{i}", {"n": i}) for i in range(3)]
    store.create_webhook_subscription(
        scenario_id=scenario.id, cell_id="t", token="tok", app_id="a", state={"secret": "s"}
    )
    store.create_webhook_subscription(
        scenario_id=scenario.id, cell_id="u", token="tok2", app_id="a"
    )
    assert store.reencrypt_all() == 0  # all under the primary key already

    vault.rotate()
    assert store.connection_credentials(connections[0].id) == {"n": 0}  # old key still reads
    store.update_connection(alice.id, connections[1].id, credentials={"n": 11})  # new key
    assert store.reencrypt_all() == 3  # 2 connections + 1 subscription state (1 has none)
    assert store.reencrypt_all() == 0

    vault.remove_key(old_id)
    assert [store.connection_credentials(c.id) for c in connections] == [
        {"n": 0},
        {"n": 11},
        {"n": 2},
    ]
    assert store.webhook_subscription_by_token("tok").state == {"secret": "s"}  # type: ignore[union-attr]
    tokens = [row[0] for row in raw(store, "SELECT credentials FROM connections")]
    assert {t.split(".")[1] for t in tokens} == {vault.primary_key_id}


def test_removing_a_key_before_reencrypting_is_caught(store: Store, alice: User) -> None:
    conn = store.create_connection(alice.id, "a", "c", {"n": 1})
    old_id = store.vault.primary_key_id
    store.vault.rotate()
    store.vault.remove_key(old_id)
    with pytest.raises(VaultKeyMissingError):
        store.connection_credentials(conn.id)
    with pytest.raises(VaultKeyMissingError):
        store.reencrypt_all()


def _store_secrets(store: Store, user: User, scenario: Any) -> str:
    """Writes every kind of secret the store holds; returns a non-secret marker that is
    written next to them (so the raw-bytes checks are shown able to find plaintext)."""
    marker = "VISIBLE_CONNECTION_NAME_7731"
    conn = store.create_connection(user.id, "stripe", marker, {"api_key": "old"})
    store.update_connection(user.id, conn.id, credentials=SECRET)
    store.create_webhook_subscription(
        scenario_id=scenario.id,
        cell_id="t",
        token="tok",
        app_id="stripe",
        state={"signing_secret": CANARIES[1]},
    )
    sub = store.create_webhook_subscription(
        scenario_id=scenario.id, cell_id="u", token="tok2", app_id="x"
    )
    store.update_webhook_subscription(sub.id, state={"signing_secret": CANARIES[0]})
    store.create_secret(user.id, CANARIES[1])  # a bearer token typed into a cell
    return marker


def test_no_secret_in_the_sqlite_files(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    user = store.create_user("raw@example.com")
    scenario = store.save_scenario(user.id, {"name": "raw"})
    marker = _store_secrets(store, user, scenario)

    files = sorted(tmp_path.glob("cellwright.db*"))  # the database, its WAL and shm
    assert any(f.name.endswith("-wal") for f in files)
    data = b"".join(f.read_bytes() for f in files)
    assert marker.encode() in data  # plaintext would be found
    for canary in CANARIES:
        assert canary.encode() not in data
    store.close()  # checkpoint the WAL into the main file, and look again
    data = b"".join(f.read_bytes() for f in sorted(tmp_path.glob("cellwright.db*")))
    assert marker.encode() in data
    assert not any(canary.encode() in data for canary in CANARIES)


@pytest.mark.postgres
def test_no_secret_in_postgresql(pg_url: str, vault: Vault) -> None:
    with Store(pg_url, vault) as store:
        user = store.create_user(f"raw-{os.getpid()}@example.com")
        scenario = store.save_scenario(user.id, {"name": "raw"})
        marker = _store_secrets(store, user, scenario)
        try:
            rows = raw(store, "SELECT credentials::text FROM connections") + raw(
                store, "SELECT state::text FROM webhook_subscriptions"
            )
            values = "".join(r[0] or "" for r in rows)
            assert values.count("v1.") == 3
            assert not any(canary in values for canary in CANARIES)
            # the heap files themselves, as the server wrote them (needs superuser)
            superuser = raw(store, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if superuser[0][0]:
                with store._engine.connect() as conn:
                    conn.exec_driver_sql("CHECKPOINT")
                    pages = b"".join(
                        conn.execute(
                            text("SELECT pg_read_binary_file(pg_relation_filepath(:t))"), {"t": t}
                        ).scalar_one()
                        for t in ("connections", "webhook_subscriptions")
                    )
                assert marker.encode() in pages
                assert not any(canary.encode() in pages for canary in CANARIES)
        finally:
            with store._engine.begin() as conn:
                conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})
