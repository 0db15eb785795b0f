"""Declarative REST operations: simple calls as data (STYLE.md, n8n/dlt style).

``rest("POST", "/v1/customers", body="form")`` returns a ``perform`` function that
sends the input model's fields and validates the JSON answer with the output model.
Anything more involved is an ordinary async function — nothing in between.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from connectors.sdk.context import OperationContext

BodyStyle = Literal["json", "form", "query", "none"]


def _dump(inputs: BaseModel) -> dict[str, Any]:
    return inputs.model_dump(mode="json", exclude_none=True, by_alias=True)


def rest(
    method: str,
    path: str,
    *,
    body: BodyStyle = "json",
    result: Callable[[Any], Any] | None = None,
    idempotency_header: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Callable[[OperationContext, BaseModel], Any]:
    """A ``perform`` for one REST call.

    ``{field}`` placeholders in ``path`` are filled from the inputs and removed from
    the body. ``result`` picks the part of the answer the output model describes
    (e.g. ``lambda r: r["data"]``). ``idempotency_header`` sends the context's
    idempotency key in that header (e.g. ``Idempotency-Key``).
    """
    path_fields = [name for _, name, _, _ in string.Formatter().parse(path) if name]

    async def perform(ctx: OperationContext, inputs: BaseModel) -> Any:
        data = _dump(inputs)
        url = path.format(**{name: data.pop(name) for name in path_fields})
        send_headers = dict(headers or {})
        if idempotency_header and ctx.idempotency_key:
            send_headers[idempotency_header] = ctx.idempotency_key
        kwargs: dict[str, Any] = {"headers": send_headers}
        if body == "json" and data:
            kwargs["json"] = data
        elif body == "form":
            kwargs["data"] = data
        elif body == "query":
            kwargs["params"] = data
        answer = await ctx.http.json(method, url, **kwargs)
        return result(answer) if result else answer

    perform.__doc__ = f"{method} {path}"
    return perform
