"""An offline, deterministic stand-in for a language model behind an OpenAI-compatible API.

``POST /v1/chat/completions`` answers in the shape of OpenAI's Chat Completions API
(https://platform.openai.com/docs/api-reference/chat/create: ``id``, ``object:
chat.completion``, ``choices[].message``, ``finish_reason``, ``usage``). It serves
sandbox connections (in process), the tests (on a real port, called by litellm as
``openai/<model>`` with ``api_base``) and anyone trying AI steps without an account.

What it answers depends only on the request, so a scenario run twice gets the same
answer:

- the AI steps' extract prompt (a JSON Schema in the system message): a JSON object
  with each property taken from a ``name: value`` line of the text, an e-mail address,
  a number or a date found in it, or null;
- the classify prompt (``- label: description`` lines): the label whose name and
  description share the most words with the text (ties: the first listed; none: the
  last label);
- the summarize prompt: the text's first sentences, within the word budget;
- anything else: an echo of the last user message.

Usage counts words as tokens. ``max_tokens`` cuts the answer (``finish_reason:
length``). Test hooks: ``POST /__sandbox__/script`` with ``{"answers": ["not json",
{"status": 429, "message": "slow down", "retry_after": 3}]}`` makes the next calls
answer those texts or errors in order; ``GET /__sandbox__/requests`` lists the
requests received (bodies, and whether an ``Authorization`` header came);
``POST /__sandbox__/reset`` forgets both.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

WORD = re.compile(r"[A-Za-z0-9À-ÿ]+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@dataclass
class SimulatedModel:
    """The simulator's state: scripted answers and the requests seen."""

    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def completions(self, request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            messages = [m for m in body["messages"] if isinstance(m, dict)]
            model = str(body["model"])
        except (ValueError, KeyError, TypeError):
            return _error(
                400, "The body must be JSON with model and messages.", "invalid_request_error"
            )
        self.requests.append({"body": body, "authorization": "authorization" in request.headers})
        if self.script:
            planned = self.script.pop(0)
            if isinstance(planned, dict):
                headers = {}
                if planned.get("retry_after") is not None:
                    headers["Retry-After"] = str(planned["retry_after"])
                return _error(
                    int(planned.get("status", 500)),
                    str(planned.get("message", "scripted failure")),
                    str(planned.get("type", "server_error")),
                    headers,
                )
            answer = str(planned)
        else:
            answer = respond(messages)
        finish = "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        words = answer.split(" ")
        if isinstance(limit, int) and limit > 0 and len(answer.split()) > limit:
            answer, finish = " ".join(words[:limit]), "length"
        prompt_tokens = sum(_tokens(str(m.get("content") or "")) for m in messages)
        completion_tokens = _tokens(answer)
        return JSONResponse(
            {
                "id": f"chatcmpl-sandbox-{next(self.ids)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def set_script(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        self.script = list(body.get("answers") or [])
        return JSONResponse({"scripted": len(self.script)})

    async def seen(self, request: Request) -> JSONResponse:
        return JSONResponse(self.requests)

    async def reset(self, request: Request) -> JSONResponse:
        self.script.clear()
        self.requests.clear()
        return JSONResponse({"ok": True})


def _error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
        headers=headers,
    )


def _tokens(text: str) -> int:
    return len(text.split())


def respond(messages: list[dict[str, Any]]) -> str:
    """The deterministic answer to a conversation (see the module's doc)."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    text = users[0] if users else ""
    if "JSON Schema:" in system:
        return _extract(system, text)
    if "labels and nothing else" in system:
        return _classify(system, text)
    budget = re.search(r"Summarize the user's text in at most (\d+) words", system)
    if budget:
        return _summarize(text, int(budget.group(1)))
    return f"(sandbox model) You said: {users[-1] if users else ''}"


def _extract(system: str, text: str) -> str:
    start = system.index("JSON Schema:") + len("JSON Schema:")
    try:
        schema, _ = json.JSONDecoder().raw_decode(system[start:].strip())
    except ValueError:
        return "{}"
    return json.dumps(_fill(schema, schema, text))


def _fill(schema: dict[str, Any], root: dict[str, Any], text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        spec = _resolve(spec, root)
        out[name] = _value(name, spec, root, text)
    return out


def _resolve(spec: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` and unwrap ``anyOf: [X, null]`` (pydantic's optional fields)."""
    if "$ref" in spec:
        target: Any = root
        for part in str(spec["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {})
        return _resolve(target, root)
    options = [o for o in spec.get("anyOf", []) if o.get("type") != "null"]
    if options:
        return _resolve(options[0], root)
    return spec


def _value(name: str, spec: dict[str, Any], root: dict[str, Any], text: str) -> Any:
    kind = spec.get("type")
    if kind == "object":
        return _fill(spec, root, text)
    labelled = _labelled(name, text)
    if "enum" in spec:
        found = [v for v in spec["enum"] if str(v).casefold() in text.casefold()]
        return found[0] if found else spec["enum"][0]
    if kind == "array":
        if labelled is not None:
            return [part.strip() for part in labelled.split(",") if part.strip()]
        return []
    if kind in ("integer", "number"):
        match = NUMBER.search(labelled if labelled is not None else text)
        if match is None:
            return None
        number = float(match.group())
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        if labelled is None:
            return None
        return labelled.strip().casefold() in ("yes", "true", "y", "1")
    if spec.get("format") == "date":
        match = DATE.search(labelled if labelled is not None else text)
        return match.group() if match else None
    if labelled is not None:
        return labelled.strip()
    if "email" in name.casefold():
        match = EMAIL.search(text)
        return match.group() if match else None
    return None


def _labelled(name: str, text: str) -> str | None:
    """The value after ``Name:`` up to the end of its line or sentence (``order_id``
    also matches ``Order id:``)."""
    words = r"[\s_-]*".join(re.escape(w) for w in name.replace("_", " ").split())
    match = re.search(rf"\b{words}\s*[:=]\s*([^\n]+)", text, re.IGNORECASE)
    if match is None:
        return None
    value = re.split(r"[.;](?:\s|$)", match.group(1), maxsplit=1)[0]  # up to the sentence's end
    return value.strip()


def _classify(system: str, text: str) -> str:
    labels: list[tuple[str, set[str]]] = []
    for line in system.splitlines():
        if line.startswith("- "):
            label, _, description = line[2:].partition(": ")
            labels.append((label.strip(), _stems(f"{label} {description}")))
    if not labels:
        return ""
    seen = _stems(text)
    scores = [len(stems & seen) for _, stems in labels]
    best = max(scores)
    if best == 0:
        return labels[-1][0]
    return labels[scores.index(best)][0]


def _stems(text: str) -> set[str]:
    """Words of four letters or more, by their first five letters ("charged" ~ "charges")."""
    return {w.casefold()[:5] for w in WORD.findall(text) if len(w) >= 4}


def _summarize(text: str, max_words: int) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    out: list[str] = []
    for sentence in sentences:
        if len(" ".join([*out, sentence]).split()) > max_words:
            break
        out.append(sentence)
    if not out:
        return " ".join(text.split()[:max_words])
    return " ".join(out)


def create_app() -> Starlette:
    model = SimulatedModel()
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", model.completions, methods=["POST"]),
            Route("/__sandbox__/script", model.set_script, methods=["POST"]),
            Route("/__sandbox__/requests", model.seen, methods=["GET"]),
            Route("/__sandbox__/reset", model.reset, methods=["POST"]),
        ]
    )
    app.state.model = model
    return app
