"""Which places of a cell's inputs hold secrets, and how records are masked: secret
fields, credential headers in any case and at any depth, and known secret values inside
other text (outputs that echo a request, error messages that quote it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr

from cells.run import connection_secrets
from cells.secrets import (
    MASK,
    is_credential_key,
    masked,
    placeholders,
    ref,
    refs_in,
    scrub,
    scrub_error,
    secret_fields,
    secret_slots,
    secret_values,
    slot_value,
    with_slot,
)
from connectors.sdk import ApiKeyAuth, App, NoAuth, UpstreamError

FIELDS = frozenset({"bearer_token"})


def test_credential_keys_in_any_case() -> None:
    for name in ("Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie", "X-API-Key"):
        assert is_credential_key(name)
    for name in ("Content-Type", "author", "x-api-keys", 3, None):
        assert not is_credential_key(name)


def test_slots_are_secret_fields_and_credential_headers_of_mapping_fields() -> None:
    inputs = {
        "bearer_token": None,
        "headers": {"Authorization": "Bearer a", "Accept": "json", "x-api-key": "k"},
        "body": {"cookie": "c", "nested": {"Authorization": "deep"}},
        "url": "https://x.example",
    }
    assert list(secret_slots(inputs, FIELDS)) == [
        ("bearer_token",),
        ("headers", "Authorization"),
        ("headers", "x-api-key"),
        ("body", "cookie"),
    ]
    assert slot_value(inputs, ("headers", "x-api-key")) == "k"
    assert slot_value(inputs, ("url", "x")) is None
    assert slot_value(inputs, ("missing",)) is None
    changed = with_slot(inputs, ("headers", "Authorization"), ref("s1"))
    assert changed["headers"]["Authorization"] == {"$secret": "s1"}
    assert inputs["headers"]["Authorization"] == "Bearer a"  # the original is untouched
    assert with_slot(inputs, ("bearer_token",), "t")["bearer_token"] == "t"


def test_references_in_headers_are_found_and_stand_in_for_checks() -> None:
    inputs = {"bearer_token": ref("a"), "headers": {"Cookie": ref("b"), "Accept": "x"}}
    assert list(refs_in(inputs, FIELDS)) == [(("bearer_token",), "a"), (("headers", "Cookie"), "b")]
    assert placeholders(inputs, FIELDS) == {
        "bearer_token": MASK,
        "headers": {"Cookie": MASK, "Accept": "x"},
    }
    assert inputs["headers"]["Cookie"] == ref("b")


def test_secret_values_with_and_without_the_scheme() -> None:
    inputs = {
        "bearer_token": SecretStr("tok-123456"),
        "headers": {"Authorization": "Bearer abcdef123", "X-Api-Key": "key-999999", "A": "x"},
    }
    assert secret_values(inputs, FIELDS) == {
        "tok-123456",
        "Bearer abcdef123",
        "abcdef123",
        "key-999999",
    }
    assert secret_values({"headers": {"Authorization": "plain"}}, frozenset()) == {"plain"}
    assert secret_values("not a mapping", FIELDS) == set()


def test_masked_records_hide_fields_and_headers() -> None:
    inputs = {"bearer_token": "t", "headers": {"authorization": "Bearer x", "Accept": "a"}}
    assert masked(inputs, FIELDS) == {
        "bearer_token": MASK,
        "headers": {"authorization": MASK, "Accept": "a"},
    }
    assert masked({"bearer_token": None, "headers": {"Cookie": ""}}, FIELDS) == {
        "bearer_token": None,
        "headers": {"Cookie": ""},
    }
    assert masked("text", FIELDS) == "text"


def test_scrub_masks_keys_at_any_depth_and_known_values_in_text() -> None:
    value: Any = {
        "body": {"headers": {"Authorization": "Bearer s3cr3t-value"}, "list": [{"cookie": "c"}]},
        "note": "you sent Bearer s3cr3t-value, and again: s3cr3t-value",
        "short": "abc",
        "n": 1,
        "tuple": ("s3cr3t-value",),
    }
    assert scrub(value, ["Bearer s3cr3t-value", "s3cr3t-value", "abc"]) == {
        "body": {"headers": {"Authorization": MASK}, "list": [{"cookie": MASK}]},
        "note": f"you sent {MASK}, and again: {MASK}",
        "short": "abc",  # too short to search for inside text
        "n": 1,
        "tuple": [MASK],
    }
    clean = {"a": [1, {"b": "c"}], "d": None}
    assert scrub(clean, ["zzzzzzzz"]) is clean  # nothing to change: the same object


def test_scrub_error_masks_message_details_and_body() -> None:
    error = UpstreamError("refused key K-1234567", status=401, body={"key": "K-1234567"})
    scrub_error(error, ["K-1234567"])
    assert error.message == f"refused key {MASK}" and error.args == (error.message,)
    assert error.body == {"key": MASK} and error.details["body"] == {"key": MASK}
    untouched = UpstreamError("nothing", status=500, body="x")
    scrub_error(untouched, ["K-1234567"])
    assert (untouched.message, untouched.body) == ("nothing", "x")


def test_connection_secrets_are_the_declared_and_token_like_credentials() -> None:
    app = App(key="k", name="K", description="d", category="c", auth=ApiKeyAuth())
    credentials = {
        "api_key": SecretStr("short"),  # declared: whatever its length
        "access_token": "tok-abcdefghijkl",
        "oauth": {"refresh_token": "ref-xyz-1234567", "expires_in": 3600},
        "token_type": "Bearer-Bearer-Bearer",  # named like a token, but a type
        "token_url": "https://auth.example/token",
        "short_token": "abc",  # too short to be guessed a secret
        "subdomain": "acme",
        "client_secret": "",
        "port": 8080,
    }
    assert connection_secrets(app, credentials) == {
        "short",
        "tok-abcdefghijkl",
        "ref-xyz-1234567",
    }
    open_app = App(key="o", name="O", description="d", category="c", auth=NoAuth())
    assert connection_secrets(open_app, {"password": "pw-1234567890"}) == {"pw-1234567890"}


class WithSecret(BaseModel):
    token: SecretStr | None = None
    other: str = ""


def test_secret_fields_of_a_model() -> None:
    assert secret_fields(WithSecret) == frozenset({"token"})


def test_a_cell_result_is_scrubbed_input_output_and_error() -> None:
    from types import MappingProxyType

    from cells.run import CellResult, _scrubbed

    frozen = MappingProxyType({"a": "plain"})
    assert scrub(frozen) == {"a": "plain"} and isinstance(scrub(frozen), dict)
    result = CellResult(cell_id="c", status="failed")
    result.input = {"headers": {"Cookie": "k=v"}, "url": "https://x.example/?t=tok-1234567"}
    result.output = None
    result.exception = UpstreamError("said tok-1234567", status=400, body="tok-1234567")
    result.error = result.exception.to_dict()
    _scrubbed(result, {"tok-1234567"})
    assert result.input == {"headers": {"Cookie": MASK}, "url": f"https://x.example/?t={MASK}"}
    assert "tok-1234567" not in str(result.error) and result.error["message"] == f"said {MASK}"
    plain = CellResult(cell_id="c", status="failed", error={"message": "x tok-1234567"})
    assert _scrubbed(plain, {"tok-1234567"}).error == {"message": f"x {MASK}"}
