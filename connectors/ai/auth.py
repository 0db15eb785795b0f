"""An AI model connection: which model (litellm's name for it), its key, its server.

The key is not put on requests by the connection's HTTP client: litellm sends it the
way each provider expects (a bearer token, ``x-api-key``…). The test call is a real,
tiny completion, so a connection that saves is one that answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.sdk import CustomAuth, OperationContext

SANDBOX_CREDENTIALS = {
    "model": "openai/cellwright-sandbox",
    # the simulator answers in process for a sandbox connection (connectors/ai/sandbox.py)
    "api_base": "http://sandbox.invalid/v1",
}


class ModelFields(BaseModel):
    """The AI model connection's form."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(
        min_length=1,
        max_length=200,
        description="The model, as litellm names it: provider/model, e.g. openai/gpt-4o-mini, "
        "anthropic/claude-3-5-haiku-latest, ollama/llama3, or openai/<name> for any "
        "OpenAI-compatible server (with api_base).",
    )
    api_key: SecretStr | None = Field(
        None, description="The provider's API key. Not needed for local models."
    )
    api_base: str | None = Field(
        None,
        max_length=500,
        description="The server's URL, for a local or self-hosted model "
        "(e.g. http://localhost:11434 for Ollama, http://localhost:8000/v1 for vLLM). Empty: "
        "the provider's own API.",
    )

    @field_validator("model")
    @classmethod
    def _model_trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("a model name has no spaces, e.g. openai/gpt-4o-mini")
        return value

    @field_validator("api_base")
    @classmethod
    def _base_is_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            raise ValueError("not a URL (e.g. http://localhost:11434)") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL, e.g. http://localhost:11434")
        return value


def _no_header(credentials: Mapping[str, Any], request: httpx.Request) -> None:
    """litellm (the OpenAI SDK for OpenAI-compatible servers) sends the key itself."""


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """A one-word completion: proves the model, the key and the server together."""
    from connectors.ai import llm

    await llm.complete(ctx, [{"role": "user", "content": "Reply with the word OK."}], max_tokens=5)
    model = llm.ModelSettings.from_credentials(ctx.credentials).model
    return {"label": model, "model": model}


MODEL_AUTH = CustomAuth(
    fields=ModelFields, apply=_no_header, test=test_connection, label_template="{label}"
)
