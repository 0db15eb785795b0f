"""Incoming webhooks: request parsing, signatures, and the webhook app's checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr

from connectors.sdk import (
    ApiKeyAuth,
    App,
    ConfigurationError,
    ConnectionWebhook,
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    hmac_hex,
)
from connectors.webhook import CatchHookInput, CatchHookOutput, app, catch_hook


def incoming(body: bytes, content_type: str | None = None, **headers: str) -> IncomingRequest:
    all_headers = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    if content_type is not None:
        all_headers["content-type"] = content_type
    return IncomingRequest(
        method="POST", headers=all_headers, query={"source": "test"}, body=body, path="/hooks/t1"
    )


# -- IncomingRequest ----------------------------------------------------------------


def test_json_body() -> None:
    request = incoming(b'{"id": 1, "tags": ["a"]}', "application/json; charset=utf-8")
    assert request.content_type == "application/json"
    assert request.json() == {"id": 1, "tags": ["a"]}
    assert request.parsed_body() == {"id": 1, "tags": ["a"]}


def test_vendor_json_content_types_and_untyped_json() -> None:
    assert incoming(b'{"a": 1}', "application/vnd.api+json").parsed_body() == {"a": 1}
    assert incoming(b"[1, 2]").parsed_body() == [1, 2]  # no content type, looks like JSON


def test_form_body() -> None:
    request = incoming(
        b"name=Ada+Lovelace&empty=&city=Z%C3%BCrich", "application/x-www-form-urlencoded"
    )
    assert request.parsed_body() == {"name": "Ada Lovelace", "empty": "", "city": "Zürich"}


def test_text_body() -> None:
    assert incoming(b"plain words", "text/plain").parsed_body() == "plain words"
    assert incoming("café".encode() + b"\xff").parsed_body() == "café\ufffd"


def test_empty_body() -> None:
    request = incoming(b"", "application/json")
    assert request.json() is None
    assert request.parsed_body() is None
    assert incoming(b"").content_type == ""


def test_bad_json_is_a_clear_input_error() -> None:
    with pytest.raises(InvalidInputError) as info:
        incoming(b'{"id": 1,', "application/json").parsed_body()
    assert info.value.message.startswith("The request body is not valid JSON: ")
    assert "line 1 column" in info.value.message


def test_a_body_is_read_by_its_declared_content_type() -> None:
    """A text body is text even when it starts with a brace; a body without a type is
    JSON only if it reads as JSON."""
    assert (
        incoming(b"{not json, just words}", "text/plain").parsed_body() == "{not json, just words}"
    )
    assert incoming(b'{"a": 1}', "text/plain").parsed_body() == '{"a": 1}'
    assert incoming(b'{"a": 1}', "application/x-ndjson").parsed_body() == '{"a": 1}'
    assert incoming(b"{not json").parsed_body() == "{not json"
    assert (
        incoming(b'{"a": NaN}').parsed_body() == '{"a": NaN}'
    )  # not standard JSON: the sender's text
    assert incoming(b' {"a": 1}').parsed_body() == {"a": 1}
    with pytest.raises(InvalidInputError):
        incoming(b"{not json", "application/json").parsed_body()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"n": Infinity}', "Infinity is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b'{"n": 1e400}', "the number 1e400 is beyond what a 64-bit float holds"),
        (b'{"n": -2.5E+999}', "the number -2.5E+999 is beyond"),
    ],
)
def test_non_standard_numbers_are_refused_by_name(body: bytes, named: str) -> None:
    """Python would read them (and the store would keep null); the sender learns instead."""
    with pytest.raises(InvalidInputError) as info:
        incoming(body, "application/json").parsed_body()
    assert (
        info.value.message.startswith("The request body is not valid JSON: ")
        and named in info.value.message
    )
    assert incoming(
        b'{"n": 1e308, "m": 12345678901234567890123, "s": 1e-400}', "application/json"
    ).json() == {
        "n": 1e308,
        "m": 12345678901234567890123,
        "s": 0.0,
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud800"}',
        b'{"a": "x\\udfff"}',
        b'{"\\ud800": 1}',
        b'["\\ude00\\ud83d"]',
        b'"\\ud800"',
    ],
)
def test_half_a_surrogate_pair_is_refused(body: bytes) -> None:
    """A lone surrogate cannot be encoded as UTF-8:
    stored, it would break every answer showing it."""
    with pytest.raises(InvalidInputError, match=r"half of a UTF-16 surrogate pair"):
        incoming(body, "application/json").json()


def test_whole_characters_pass_in_any_spelling() -> None:
    assert incoming(b'{"e": "\\ud83d\\ude00", "c": "caf\\u00e9"}', "application/json").json() == {
        "e": "\U0001f600",
        "c": "caf\u00e9",
    }
    assert incoming('{"e": "\U0001f600"}'.encode(), "application/json").json() == {
        "e": "\U0001f600"
    }
    with pytest.raises(
        InvalidInputError, match="not UTF-8 text"
    ):  # a surrogate smuggled in as bytes (CESU-8)
        incoming(b'{"a": "\xed\xa0\x80"}', "application/json").json()


@pytest.mark.parametrize("depth", [101, 1_000, 100_000])
def test_deep_nesting_is_refused_with_a_message(depth: int) -> None:
    with pytest.raises(InvalidInputError, match="nested more than 100 levels deep"):
        incoming(b"[" * depth + b"]" * depth, "application/json").json()
    with pytest.raises(InvalidInputError, match="nested more than 100 levels deep"):
        incoming(b'{"a":' * depth + b"1" + b"}" * depth, "application/json").json()


def test_a_hundred_levels_are_fine() -> None:
    assert incoming(b"[" * 100 + b"]" * 100, "application/json").json() is not None
    wide = b"[" + b",".join(b"[1]" for _ in range(500)) + b"]"  # many brackets, two levels
    assert len(incoming(wide, "application/json").json()) == 500


def test_headers_are_looked_up_without_case() -> None:
    request = incoming(b"", x_signature="abc")
    assert request.header("X-Signature") == "abc"
    assert request.header("X-Missing") is None
    assert request.header("X-Missing", "default") == "default"


# -- signatures ---------------------------------------------------------------------


def test_hmac_hex_matches_the_standard_library() -> None:
    expected = hmac.new(b"key", b"body", hashlib.sha256).hexdigest()
    assert hmac_hex("key", b"body") == expected
    assert hmac_hex(b"key", b"body") == expected
    assert hmac_hex("key", b"body", "sha1") == hmac.new(b"key", b"body", hashlib.sha1).hexdigest()


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "ab")


# -- the webhook app ----------------------------------------------------------------

BODY = b'{"order": 42}'
SIGNATURE = hmac_hex("whsec", BODY)


def test_verification_none_accepts_anything() -> None:
    assert catch_hook.verify is not None
    catch_hook.verify(incoming(BODY), CatchHookInput(), {}, {})


def test_shared_secret() -> None:
    inputs = CatchHookInput(
        verification="shared_secret", secret=SecretStr("s3cret"), header="X-Token"
    )
    catch_hook.verify(incoming(BODY, x_token="s3cret"), inputs, {}, {})
    with pytest.raises(WebhookVerificationError, match="The X-Token header does not match"):
        catch_hook.verify(incoming(BODY, x_token="guess"), inputs, {}, {})
    with pytest.raises(WebhookVerificationError, match="Missing X-Token header"):
        catch_hook.verify(incoming(BODY), inputs, {}, {})


@pytest.mark.parametrize("given", [SIGNATURE, f"sha256={SIGNATURE}"])
def test_hmac_sha256_accepts_a_good_signature(given: str) -> None:
    inputs = CatchHookInput(verification="hmac_sha256", secret=SecretStr("whsec"))
    catch_hook.verify(incoming(BODY, x_cellwright_signature=given), inputs, {}, {})


def test_hmac_sha256_refuses_a_tampered_body_or_a_wrong_secret() -> None:
    inputs = CatchHookInput(verification="hmac_sha256", secret=SecretStr("whsec"))
    with pytest.raises(WebhookVerificationError) as info:
        catch_hook.verify(
            incoming(b'{"order": 43}', x_cellwright_signature=SIGNATURE), inputs, {}, {}
        )
    assert info.value.code == "webhook_unverified"
    wrong = CatchHookInput(verification="hmac_sha256", secret=SecretStr("other"))
    with pytest.raises(WebhookVerificationError):
        catch_hook.verify(incoming(BODY, x_cellwright_signature=SIGNATURE), wrong, {}, {})


def test_a_check_without_a_configured_secret_refuses() -> None:
    inputs = CatchHookInput(verification="hmac_sha256")
    with pytest.raises(WebhookVerificationError, match="Missing"):
        catch_hook.verify(incoming(BODY, x_cellwright_signature=SIGNATURE), inputs, {}, {})


async def test_parse_makes_one_event_without_the_signature_header() -> None:
    request = incoming(
        BODY, "application/json", x_cellwright_signature=SIGNATURE, user_agent="Vendor/1"
    )
    reply = await catch_hook.parse(request, CatchHookInput(), {})
    assert isinstance(reply, WebhookReply) and reply.response is None
    assert reply.events == [
        {
            "method": "POST",
            "headers": {"content-type": "application/json", "user-agent": "Vendor/1"},
            "query": {"source": "test"},
            "body": {"order": 42},
        }
    ]
    CatchHookOutput.model_validate(reply.events[0])


def test_webhook_app_shape() -> None:
    assert app.trigger("catch_hook") is catch_hook
    assert catch_hook.trigger_type == "instant"
    assert catch_hook.describe()["trigger_type"] == "instant"
    assert catch_hook.methods == ("GET", "POST", "PUT", "PATCH", "DELETE")
    CatchHookOutput.model_validate(catch_hook.sample)
    assert CatchHookInput().methods == ["POST"]
    assert WebhookReply().events == []


# -- connection webhooks: one URL for every event of a connection ----------------------


def _instant(key: str, **extra: object) -> InstantTrigger:
    async def parse(request: IncomingRequest, inputs: object, state: object) -> WebhookReply:
        return WebhookReply(events=[request.json()])

    return InstantTrigger(
        key=key,
        name=key,
        description="An event of the test vendor.",
        sample={"n": 1},
        parse=parse,
        **extra,
    )  # type: ignore[arg-type]


def _verify(request: IncomingRequest, credentials: object) -> None:
    if request.header("x-key") != "k":
        raise WebhookVerificationError("Bad x-key.")


def test_an_app_declares_one_url_per_connection() -> None:
    hook = ConnectionWebhook(verify=_verify)
    assert (hook.challenge, hook.methods, hook.label) == (None, ("POST",), "Webhook URL")
    assert hook.instructions  # something to show beside the URL
    vendor = App(
        key="vendor",
        name="Vendor",
        description="d",
        category="c",
        auth=ApiKeyAuth(),
        triggers=(_instant("one"), _instant("two")),
        connection_webhook=hook,
    )
    assert [op.key for op in vendor.instant_triggers] == ["one", "two"]
    assert vendor.describe(full=False)["connection_webhook"] is True
    assert (
        app.describe(full=False)["connection_webhook"] is False
    )  # the Webhook app: one URL per scenario
    with pytest.raises(WebhookVerificationError):
        hook.verify(incoming(b"{}"), {})


def test_a_connection_webhook_needs_a_connection_and_no_per_scenario_subscriptions() -> None:
    hook = ConnectionWebhook(verify=_verify)
    with pytest.raises(ConfigurationError, match="has a connection webhook but no connection"):
        App(
            key="open",
            name="Open",
            description="d",
            category="c",
            triggers=(_instant("one"),),
            connection_webhook=hook,
        )

    async def subscribe(ctx: object, inputs: object, url: str) -> dict[str, str]:
        return {}

    with pytest.raises(ConfigurationError, match="cannot subscribe per scenario"):
        App(
            key="mixed",
            name="Mixed",
            description="d",
            category="c",
            auth=ApiKeyAuth(),
            triggers=(_instant("one", subscribe=subscribe),),
            connection_webhook=hook,
        )
