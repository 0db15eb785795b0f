"""Input model of the code cell."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_CODE = 100_000
"""Longest code a cell accepts, in characters."""


class RunJavaScriptInput(BaseModel):
    """The code and the object it receives."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="JavaScript: the body of a function that receives `input` (the object "
        "below) and returns an object, which becomes this cell's output, e.g. "
        "`return {total: input.price * input.quantity};`. Plain ECMAScript only: no "
        "require/import, network, files or timers; console.log lines are kept in `_console`.",
        examples=["return {greeting: 'Hello ' + input.name};"],
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="The object the code receives as `input`, usually mapped from earlier "
        'cells, e.g. {"name": "{{ trigger.body.name }}"}. Passed as JSON.',
        examples=[{"name": "Ada"}],
    )
