"""Input and output models of the Scenarios app, and the check of a call's inputs
against the inputs a called scenario declares.

A called scenario's trigger ("When called by another scenario") lists the inputs it
expects: a name, a type and whether it is required. A "Run scenario" cell's inputs
are checked against that list when the calling scenario is published (static values)
and when it runs (every value, rendered): an unknown name, a missing required input or
a value of the wrong type fails the call before the called scenario runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    create_model,
    model_validator,
)

from connectors.sdk import InvalidInputError, dynamic

InputType = Literal["text", "number", "integer", "boolean", "object", "list", "any"]

_TYPES: dict[str, Any] = {
    "text": str,
    "number": StrictInt | StrictFloat | float,  # "5" from a mapping reads as 5
    "integer": StrictInt | int,
    "boolean": StrictBool | bool,
    "object": dict[str, Any],
    "list": list[Any],
    "any": Any,
}


class InputSpec(BaseModel):
    """One input a called scenario expects."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="The input's name: the called scenario reads it as {{ trigger.<name> }}.",
        examples=["email"],
    )
    type: InputType = Field(
        "any",
        description="text, number, integer, boolean, object, list, or any (no check).",
    )
    required: bool = Field(False, description="A call without it is refused.")
    description: str | None = Field(
        None, max_length=500, description="What the caller should give (shown to callers)."
    )


class CalledInput(BaseModel):
    """The trigger's inputs: what callers must pass."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[InputSpec] = Field(
        default_factory=list,
        max_length=100,
        description="The inputs this scenario expects from its callers (name, type, required). "
        "Calls are checked against them; the run reads them as {{ trigger.<name> }}.",
    )

    @model_validator(mode="after")
    def _unique(self) -> CalledInput:
        names = [spec.name for spec in self.inputs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"inputs: the name(s) {', '.join(twice)} appear twice; rename one.")
        return self


class RunScenarioInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: str = Field(
        min_length=1,
        max_length=64,
        description="The scenario to run: one of your published scenarios whose trigger is "
        '"When called by another scenario" (a fixed id, not a mapping).',
        json_schema_extra=dynamic("callable_scenarios"),
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="The values of the called scenario's inputs, by name (mappings allowed), "
        "checked against the inputs its trigger declares.",
        examples=[{"email": "{{ trigger.body.email }}"}],
    )
    wait: bool = Field(
        True,
        description="Wait for the called scenario to finish and output what it returns "
        "(default); false: start it and go on at once, with its execution id.",
    )


class RunScenarioOutput(BaseModel):
    execution_id: str = Field(description="The called scenario's execution (its history).")
    status: str = Field(description="completed (waited for) or queued (not waited for).")
    output: Any = Field(
        None,
        description="What the called scenario returned: its Return output cell's fields, else "
        "its last cell's output (null when not waited for).",
    )


class ReturnInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: dict[str, Any] = Field(
        default_factory=dict,
        description="The fields the calling scenario receives as the Run scenario cell's output "
        "(mappings allowed).",
        examples=[{"contact_id": "{{ steps.create.id }}"}],
    )


def declared(inputs: Any) -> list[InputSpec]:
    """The inputs a ``called`` trigger cell's inputs declare (its ``inputs`` field)."""
    return CalledInput.model_validate(dict(inputs or {})).inputs


def check_inputs(
    specs: list[InputSpec], values: Mapping[str, Any], *, scenario: str, partial: bool = False
) -> dict[str, Any]:
    """``values`` checked against ``specs`` and converted (``"5"`` for a number is 5).

    ``partial``: only the values given are checked, and a missing required input is
    not an error (a publish check of static values: mapped ones are known at run time).
    Raises ``InvalidInputError`` naming each bad input and what to do.
    """
    known = {spec.name: spec for spec in specs}
    problems: list[str] = []
    for name in values:
        if name not in known:
            expected = ", ".join(known) or "none"
            problems.append(f"'{name}' is not one of its inputs (it expects: {expected})")
    if not partial:
        for spec in specs:
            if spec.required and values.get(spec.name) is None:
                problems.append(f"'{spec.name}' is required ({spec.description or spec.type})")
    fields: dict[str, Any] = {
        name: (_TYPES[known[name].type], ...) for name in values if name in known
    }
    model = create_model("CallInputs", __config__=ConfigDict(extra="ignore"), **fields)
    try:
        checked = model.model_validate(
            {k: v for k, v in values.items() if k in known and v is not None}
        ).model_dump()
    except ValidationError as exc:
        checked = {}
        for err in exc.errors(include_url=False, include_input=False):
            if err["type"] == "missing":
                continue
            name = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"'{name}' must be {_article(known[name].type)}")
    if problems:
        raise InvalidInputError(
            f"The inputs of the call to scenario {scenario} do not fit the inputs it declares: "
            + "; ".join(dict.fromkeys(problems))
            + ". Fix the Run scenario cell's inputs (or the called scenario's trigger).",
            problems=list(dict.fromkeys(problems)),
        )
    return {k: checked.get(k, v) for k, v in values.items()}


def _article(kind: str) -> str:
    return {
        "text": "text",
        "number": "a number",
        "integer": "a whole number",
        "boolean": "true or false",
        "object": "an object",
        "list": "a list",
    }.get(kind, kind)
