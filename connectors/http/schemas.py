"""Input and output models of the HTTP request action."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.sdk.jsontext import InvalidJsonText, parse_json_text

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class RequestInput(BaseModel):
    """The request to send."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        "GET", description="The HTTP method."
    )
    url: str = Field(
        description="The full http:// or https:// URL, e.g. https://api.example.com/v1/orders.",
        examples=["https://api.example.com/v1/orders"],
        max_length=8000,
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers, name → value."
    )
    query: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Query-string parameters, added to any already in the URL.",
    )
    body_type: Literal["none", "json", "form", "raw"] = Field(
        "none",
        description="none: no body. json: 'body' (an object or list; JSON text is parsed) "
        "sent as JSON. form: 'body' (an object) sent as form fields. raw: 'body' (a text) "
        "sent as is with 'content_type'.",
    )
    body: Any = Field(None, description="The request body; its shape depends on body_type.")
    content_type: str = Field("text/plain", description="raw: the Content-Type header of the body.")
    timeout_seconds: float = Field(30, gt=0, le=300, description="Give up after this many seconds.")
    follow_redirects: bool = Field(
        True, description="Follow 3xx redirects (each target is checked like the URL)."
    )
    response_type: Literal["auto", "json", "text"] = Field(
        "auto",
        description="How to read the response body. auto: JSON when the response says "
        "it is JSON, else text.",
    )
    fail_on_status: bool = Field(
        True,
        description="True: a 4xx or 5xx answer fails the cell (rate limits and server errors are "
        "retried). False: the answer is returned as the output, whatever its status.",
    )
    bearer_token: SecretStr | None = Field(
        None,
        description="Optional token sent as 'Authorization: Bearer <token>'. "
        "It is never shown in outputs or errors.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                "use a full http:// or https:// URL, e.g. https://api.example.com/path"
            )
        if url.userinfo:
            raise ValueError("put credentials in bearer_token or in headers, not in the URL")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(
                    f"'{name}' is not a valid header name (letters, digits and - only)"
                )
            if "\r" in item or "\n" in item:
                raise ValueError(f"the value of header '{name}' must be on one line")
        return value

    @model_validator(mode="after")
    def _body(self) -> RequestInput:
        if self.body_type == "form" and not isinstance(self.body, dict):
            raise ValueError("body must be an object of form fields when body_type is 'form'")
        if self.body_type == "raw" and isinstance(self.body, dict | list):
            self.body = json.dumps(self.body, ensure_ascii=False)  # typed as JSON into a raw body
        elif self.body_type == "raw" and not isinstance(self.body, str):
            raise ValueError(
                "body must be a text when body_type is 'raw' (use 'json' for objects and lists)"
            )
        if (
            self.body_type == "json"
            and isinstance(self.body, str)
            and self.body.lstrip()[:1] in ("{", "[")
        ):
            # JSON written as text (e.g. in a YAML file): send the object, never a JSON string
            # holding it; broken text is an error that says where, not a silent string
            try:
                self.body = parse_json_text(self.body)
            except InvalidJsonText as exc:
                raise ValueError(f"body is JSON text that does not parse. {exc}") from None
        return self


class RequestOutput(BaseModel):
    """The answer."""

    status: int = Field(description="The HTTP status code, e.g. 200.")
    headers: dict[str, str] = Field(description="Response headers, lower-case names.")
    body: Any = Field(description="The response body: parsed JSON, or text.")
    elapsed_ms: float = Field(description="How long the request took, in milliseconds.")
