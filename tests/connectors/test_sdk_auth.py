"""Auth kinds (not OAuth 2.0): how credentials reach a real server, and their forms."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field, SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.sdk import (
    ApiKeyAuth,
    ApiKeyFields,
    App,
    AuthKind,
    BasicAuth,
    BasicFields,
    CustomAuth,
    NetworkPolicy,
    NoAuth,
    OperationContext,
    build_http,
    hmac_hex,
    secret_value,
)


def echo(request: Request) -> Response:
    answer = {
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "query": request.args.to_dict(),
    }
    return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    httpserver = HTTPServer(host="127.0.0.1", port=0)
    httpserver.start()
    httpserver.expect_request("/echo").respond_with_handler(echo)
    yield httpserver
    httpserver.clear()
    httpserver.stop()


async def sent(
    server: HTTPServer, auth: httpx.Auth | None, path: str = "/echo?page=2"
) -> dict[str, Any]:
    """What the server received when called with ``auth``."""
    http = build_http(
        app_key="acme",
        base_url=server.url_for("/"),
        auth=auth,
        policy=NetworkPolicy.build(allow_private=True),
    )
    try:
        answer: dict[str, Any] = await http.get(path)
    finally:
        await http.aclose()
    return answer


def _basic(header: str) -> str:
    assert header.startswith("Basic ")
    return base64.b64decode(header[6:]).decode()


async def test_api_key_in_the_authorization_header_by_default(server: HTTPServer) -> None:
    auth = ApiKeyAuth()
    answer = await sent(server, auth.httpx_auth({"api_key": SecretStr("key_123")}))
    assert answer["headers"]["authorization"] == "Bearer key_123"
    assert answer["query"] == {"page": "2"}


async def test_api_key_in_a_custom_header_without_prefix(server: HTTPServer) -> None:
    auth = ApiKeyAuth(name="X-Api-Key", prefix="", key_field="token")
    answer = await sent(server, auth.httpx_auth({"token": "tok_9"}))
    assert answer["headers"]["x-api-key"] == "tok_9"
    assert "authorization" not in answer["headers"]


async def test_api_key_in_the_query_keeps_other_parameters(server: HTTPServer) -> None:
    auth = ApiKeyAuth(location="query", name="api_key")
    answer = await sent(server, auth.httpx_auth({"api_key": SecretStr("q_1")}))
    assert answer["query"] == {"page": "2", "api_key": "q_1"}
    assert "authorization" not in answer["headers"]


async def test_api_key_as_basic_username_or_password(server: HTTPServer) -> None:
    as_user = ApiKeyAuth(location="basic_username")  # Stripe style: key as user, empty password
    answer = await sent(server, as_user.httpx_auth({"api_key": SecretStr("sk_1")}))
    assert _basic(answer["headers"]["authorization"]) == "sk_1:"
    as_password = ApiKeyAuth(location="basic_password", name="api")  # Mailgun style
    answer = await sent(server, as_password.httpx_auth({"api_key": SecretStr("key-2")}))
    assert _basic(answer["headers"]["authorization"]) == "api:key-2"


async def test_missing_api_key_sends_an_empty_key(server: HTTPServer) -> None:
    answer = await sent(server, ApiKeyAuth().httpx_auth({}))
    assert answer["headers"]["authorization"] == "Bearer "


async def test_basic_auth(server: HTTPServer) -> None:
    auth = BasicAuth()
    answer = await sent(
        server, auth.httpx_auth({"username": "ada@example.com", "password": SecretStr("p@ss:word")})
    )
    assert _basic(answer["headers"]["authorization"]) == "ada@example.com:p@ss:word"
    custom = BasicAuth(username_field="login", password_field="secret")
    answer = await sent(server, custom.httpx_auth({"login": "bob", "secret": "s"}))
    assert _basic(answer["headers"]["authorization"]) == "bob:s"


class SignedFields(BaseModel):
    key_id: str = Field(description="Key id.")
    signing_secret: SecretStr = Field(description="Signing secret.")


def _sign(credentials: Mapping[str, Any], request: httpx.Request) -> None:
    signature = hmac_hex(secret_value(credentials["signing_secret"]), request.url.raw_path)
    request.headers["X-Key-Id"] = credentials["key_id"]
    request.headers["X-Signature"] = signature


async def test_custom_auth_applies_the_app_function(server: HTTPServer) -> None:
    auth = CustomAuth(fields=SignedFields, apply=_sign)
    credentials = {"key_id": "k1", "signing_secret": SecretStr("shh")}
    answer = await sent(server, auth.httpx_auth(credentials))
    assert answer["headers"]["x-key-id"] == "k1"
    assert answer["headers"]["x-signature"] == hmac_hex("shh", b"/echo?page=2")


async def test_no_auth_adds_nothing(server: HTTPServer) -> None:
    assert NoAuth().httpx_auth({"api_key": "x"}) is None
    assert AuthKind().httpx_auth({}) is None
    answer = await sent(server, None)
    assert "authorization" not in answer["headers"]


def test_secret_value() -> None:
    assert secret_value(SecretStr("s3")) == "s3"
    assert secret_value("plain") == "plain"
    assert secret_value(None) == ""
    assert secret_value(42) == "42"


def test_describe_gives_the_type_and_the_form_schema() -> None:
    described = ApiKeyAuth().describe()
    assert described["type"] == "api_key"
    field = described["fields_schema"]["properties"]["api_key"]
    assert field["format"] == "password" and field["writeOnly"] is True
    assert field["description"]
    assert BasicAuth().describe()["fields_schema"]["required"] == ["username", "password"]
    assert CustomAuth(fields=SignedFields, apply=_sign).describe()["type"] == "custom"
    assert NoAuth().describe() == {
        "type": "none",
        "fields_schema": NoAuth().fields.model_json_schema(),
    }
    assert NoAuth().fields.model_json_schema()["properties"] == {}


def test_forms_refuse_unknown_fields_and_hide_secrets() -> None:
    fields = BasicFields(username="ada", password=SecretStr("pw"))
    assert "pw" not in repr(fields) and "pw" not in fields.model_dump_json()
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        ApiKeyFields(api_key=SecretStr("k"), other="x")  # type: ignore[call-arg]


async def test_the_test_call_labels_the_connection(server: HTTPServer) -> None:
    async def who(ctx: OperationContext) -> Mapping[str, Any]:
        answer = await ctx.http.get("/echo")
        return {"label": answer["headers"]["authorization"].removeprefix("Bearer ")}

    auth = ApiKeyAuth(test=who, label_template="{label}")
    app = App(key="acme", name="Acme", description="d", category="c", auth=auth)
    http = build_http(
        app_key="acme",
        base_url=server.url_for("/"),
        auth=auth.httpx_auth({"api_key": "team-7"}),
        policy=NetworkPolicy.build(allow_private=True),
    )
    assert app.needs_connection
    assert app.auth.test is not None
    assert await app.auth.test(OperationContext(http=http)) == {"label": "team-7"}
    await http.aclose()
    assert not App(key="free", name="F", description="d", category="c").needs_connection
