"""Dynamic options: the choices an ID field offers, fetched through the connection.

A field that takes an ID (a Slack channel, a monday.com board, a Stripe price) names an
*option source* in its JSON Schema; the app declares its sources in an explicit list::

    class SendMessageInput(BaseModel):
        channel: str = Field(description="Channel ID.", json_schema_extra=dynamic("channels"))

    App(..., options=(OptionSource(key="channels", name="Slack channels", fetch=channels),))

``fetch(ctx, values)`` calls the vendor through the connection's HTTP client (the same
endpoints the actions use, so the sandbox answers too) and returns ``Option(value,
label)`` items; ``values`` are the other fields' current values, for sources that
depend on one (``needs=("board_id",)``: a board's groups). The workspace shows the
options as a dropdown beside the field's text input: free text and ``{{ }}`` references
stay allowed. Sources are read through ``field_sources`` and called through
``fetch_options``, which checks what they return.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.sdk.errors import ConfigurationError, InvalidInputError, InvalidOutputError

if TYPE_CHECKING:
    from connectors.sdk.app import App
    from connectors.sdk.context import OperationContext
    from connectors.sdk.operations import Operation

OPTIONS_KEY = "x-options"
"""The JSON Schema keyword naming a field's option source."""

MAX_OPTIONS = 1000
"""Sources stop after this many options (a dropdown longer than that helps nobody)."""


@dataclass(frozen=True)
class Option:
    """One choice: the ``value`` the field receives and the ``label`` people read."""

    value: str | int
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label}


Fetch = Callable[["OperationContext", Mapping[str, Any]], Awaitable[list[Option]]]


@dataclass(frozen=True, kw_only=True)
class OptionSource:
    """Where a kind of ID comes from (channels, boards, prices…)."""

    key: str
    name: str
    """What the options are, in the plural, for messages: "Slack channels"."""
    fetch: Fetch
    needs: tuple[str, ...] = ()
    """Fields whose value the source reads from ``values`` (a board's groups need ``board_id``)."""
    example: Mapping[str, Any] = field(default_factory=dict)
    """Values of ``needs`` that work against the app's sandbox; the conformance suite uses them."""


def dynamic(source: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field whose options come from ``source``."""
    return {OPTIONS_KEY: source}


def field_sources(schema: Mapping[str, Any]) -> dict[str, str]:
    """Field path → source key for every field of an input JSON Schema that names one.

    Top-level fields are their name (``channel``); fields of nested objects and of list
    items are dotted (``line_items.price``).
    """
    return dict(_walk(schema, schema, ""))


def _walk(
    root: Mapping[str, Any], schema: Mapping[str, Any], prefix: str, depth: int = 0
) -> Iterator[tuple[str, str]]:
    for name, spec in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        if isinstance(spec.get(OPTIONS_KEY), str):
            yield path, spec[OPTIONS_KEY]
        if depth < 3:
            for inner in _objects(root, spec):
                yield from _walk(root, inner, f"{path}.", depth + 1)


def _objects(root: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The object schemas a property holds: itself, its list items, its ``anyOf`` arms."""
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        spec = (root.get("$defs") or {}).get(ref.rsplit("/", 1)[-1], {})
    if spec.get("properties"):
        yield spec
    for key in ("items", "additionalProperties"):
        if isinstance(spec.get(key), Mapping):
            yield from _objects(root, spec[key])
    for arm in spec.get("anyOf") or []:
        yield from _objects(root, arm)


def source_for(app: App, op: Operation, field_path: str) -> OptionSource:
    """The option source of one field; a ConfigurationError names the fields that have one."""
    sources = field_sources(op.input_schema())
    key = sources.get(field_path)
    if key is None:
        listed = ", ".join(sorted(sources)) or "none"
        raise ConfigurationError(
            f"{app.name} · {op.name}: the field '{field_path}' offers no list of values "
            f"to choose from. Fields that do: {listed}."
        )
    return app.option_source(key)


async def fetch_options(
    source: OptionSource, ctx: OperationContext, values: Mapping[str, Any]
) -> list[Option]:
    """Call ``source`` with ``values`` and check what it returns.

    A value the source needs but that is empty, or still a ``{{ }}`` reference that only
    a run can fill, is asked for first (InvalidInputError naming the field).
    """
    for need in source.needs:
        given = values.get(need)
        if given in (None, "", []) or (isinstance(given, str) and "{{" in given):
            raise InvalidInputError(
                f"Fill in {need} first: the {source.name} to choose from depend on it.",
                errors=[{"field": need, "message": "needed to list the choices"}],
            )
    found = await source.fetch(ctx, values)
    if not isinstance(found, list) or not all(isinstance(o, Option) for o in found):
        raise InvalidOutputError(
            f"The {source.name} source returned something other than a list of options."
        )
    return found[:MAX_OPTIONS]


__all__ = [
    "MAX_OPTIONS",
    "OPTIONS_KEY",
    "Fetch",
    "Option",
    "OptionSource",
    "dynamic",
    "fetch_options",
    "field_sources",
    "source_for",
]
