"""A fake OpenAI-compatible chat-completions server that answers from a script."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import ThreadedServer

API_KEY = "sk-test-assistant-0123456789"


@dataclass
class FakeModel:
    """Answers ``answers`` in order (the last one again when they run out); records requests."""

    answers: list[str | int] = field(default_factory=list)
    """Answer texts; an int answers with that HTTP error status instead."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def completions(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        self.requests.append({"headers": dict(request.headers), "body": body})
        answer = (
            self.answers[min(len(self.requests), len(self.answers)) - 1] if self.answers else ""
        )
        if isinstance(answer, int):
            return JSONResponse(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                    }
                },
                status_code=answer,
            )
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1700000000,
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": answer},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    def text_of(self, index: int) -> str:
        """Every message of request ``index``, as one text."""
        return "\n".join(m["content"] for m in self.requests[index]["body"]["messages"])


@pytest.fixture(scope="module")
def _model_server() -> Iterator[FakeModel]:
    model = FakeModel()
    app = Starlette(routes=[Route("/v1/chat/completions", model.completions, methods=["POST"])])
    with ThreadedServer(app) as server:
        model.url = server.url
        yield model


@pytest.fixture
def fake_model(_model_server: FakeModel) -> FakeModel:
    _model_server.answers = []
    _model_server.requests = []
    return _model_server


@pytest.fixture
def assistant_settings(make_settings: Callable[..., Any], fake_model: FakeModel) -> Any:
    return make_settings(
        assistant_model="openai/fake-drafter",
        assistant_api_base=f"{fake_model.url}/v1",
        assistant_api_key=API_KEY,
        assistant_timeout_seconds=10,
    )
