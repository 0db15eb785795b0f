"""Operations: the triggers and actions an app offers.

An operation is a pydantic input model, a pydantic output model, a sample and one
async function (STYLE.md item 2). Field descriptions live on the models: the
workspace builds its forms from their JSON Schema, the runner validates with them and
the assistant reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from connectors.sdk.context import OperationContext
    from connectors.sdk.webhooks import IncomingRequest, WebhookReply

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

Perform = Callable[["OperationContext", Any], Awaitable[BaseModel | Mapping[str, Any]]]


class NoInput(BaseModel):
    """For operations that take no input."""

    model_config = ConfigDict(extra="forbid")


class AnyOutput(BaseModel):
    """For operations whose output is whatever the sender sent (webhooks, manual runs)."""

    model_config = ConfigDict(extra="allow")


def load_sample(module_file: str, key: str) -> dict[str, Any]:
    """Read ``samples/<key>.json`` next to ``module_file`` (an app's ``__file__``)."""
    path = Path(module_file).resolve().parent / "samples" / f"{key}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True, kw_only=True)
class Operation:
    """What every trigger and action has: identity, models, a sample."""

    key: str
    name: str
    description: str
    input: type[BaseModel] = NoInput
    output: type[BaseModel] = AnyOutput
    sample: Mapping[str, Any] = field(default_factory=dict)
    """Example output (required; shown in the mapping picker before a first run)."""
    example: Mapping[str, Any] | None = None
    """Example input that works against the app's sandbox; the conformance suite runs it."""

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def input_schema(self) -> dict[str, Any]:
        return self.input.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output.model_json_schema()

    def describe(self) -> dict[str, Any]:
        """The JSON form used by the catalog, the REST API and the assistant."""
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "input_schema": self.input_schema(),
            "output_schema": self.output_schema(),
            "sample": dict(self.sample),
        }


@dataclass(frozen=True, kw_only=True)
class Action(Operation):
    """Does something: calls an API, computes a value.

    ``transformer=True`` marks pure data manipulation (formatter, lookup table): the
    runner treats it the same, the workspace files it under "transformers", and it
    needs no connection.
    """

    perform: Perform
    transformer: bool = False
    idempotent: bool = False
    """True when running twice has no extra effect (reads, PUTs). Informational."""

    @property
    def kind(self) -> str:
        return "transformer" if self.transformer else "action"


class ActionFactory:
    """Builds an app's actions with their samples: ``samples/<key>.json`` next to the
    module it was made for (``action = ActionFactory(__file__)``), so an action is
    written once, without repeating its key to find its sample."""

    def __init__(self, module_file: str) -> None:
        self.module_file = module_file

    def __call__(
        self,
        key: str,
        name: str,
        description: str,
        input: type[BaseModel],
        output: type[BaseModel],
        perform: Perform,
        example: Mapping[str, Any],
        idempotent: bool = False,
    ) -> Action:
        return Action(
            key=key,
            name=name,
            description=description,
            input=input,
            output=output,
            sample=load_sample(self.module_file, key),
            example=example,
            perform=perform,
            idempotent=idempotent,
        )


@dataclass(frozen=True, kw_only=True)
class Trigger(Operation):
    """Base of the trigger kinds."""

    @property
    def kind(self) -> str:
        return "trigger"

    @property
    def trigger_type(self) -> str:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "trigger_type": self.trigger_type}


Fetch = Callable[["OperationContext", Any, Any], Awaitable[list[Mapping[str, Any]]]]


class Polled(list[Mapping[str, Any]]):
    """What a ``fetch`` may return instead of a plain list: the items, plus the cursor
    the next poll receives as ``since``.

    For vendors whose change feeds hand out an opaque token (Google Calendar's
    ``nextSyncToken``) or whose changes show only against a snapshot (a spreadsheet's
    row hashes): the largest ``cursor_field`` value cannot express those. The cursor
    must be JSON (it is stored with the trigger's state); ``None`` keeps the old one.
    """

    def __init__(self, items: Iterable[Mapping[str, Any]] = (), cursor: Any = None) -> None:
        super().__init__(items)
        self.cursor = cursor


@dataclass(frozen=True, kw_only=True)
class PollingTrigger(Trigger):
    """Fires for new items found by polling.

    The app only says how to fetch and how to tell items apart; the engine keeps the
    cursor and the seen ids (STYLE.md item 7). ``fetch(ctx, inputs, since)`` returns
    items, newest first or oldest first; ``since`` is the stored cursor (the largest
    ``cursor_field`` value seen so far) or ``None`` on the first poll.
    """

    fetch: Fetch
    dedupe_key: str | Callable[[Mapping[str, Any]], str] = "id"
    cursor_field: str | None = None
    interval_seconds: int = 300

    @property
    def trigger_type(self) -> str:
        return "polling"

    def item_key(self, item: Mapping[str, Any]) -> str:
        if callable(self.dedupe_key):
            return str(self.dedupe_key(item))
        return str(item[self.dedupe_key])


Subscribe = Callable[["OperationContext", Any, str], Awaitable[Mapping[str, Any]]]
Unsubscribe = Callable[["OperationContext", Any, Mapping[str, Any]], Awaitable[None]]
Verify = Callable[["IncomingRequest", Any, Mapping[str, Any], Mapping[str, Any]], None]
Parse = Callable[["IncomingRequest", Any, Mapping[str, Any]], Awaitable["WebhookReply"]]


@dataclass(frozen=True, kw_only=True)
class InstantTrigger(Trigger):
    """Fires when the vendor calls our webhook URL.

    - ``subscribe(ctx, inputs, webhook_url)`` registers the URL with the vendor when
      the scenario is enabled and returns state to keep (ids, signing secrets: stored
      encrypted). ``None`` for hooks the user pastes by hand.
    - ``unsubscribe(ctx, inputs, state)`` removes it when the scenario is disabled.
    - ``verify(request, inputs, state, credentials)`` raises ``WebhookVerificationError``
      for a request that is not authentic (``credentials``: the connection's, e.g. a
      signing secret; empty without a connection). It runs before anything is stored.
    - ``parse(request, inputs, state)`` turns the request into events, or into an
      immediate reply (challenge handshakes) that runs nothing.
    - ``fetch(ctx, inputs, since)``, for vendors whose notifications only say *that*
      something changed (Google's watch channels carry no body): when ``parse`` accepts
      a notification (returns events), the engine calls ``fetch`` with the connection's
      context and the cursor it keeps for the trigger, and runs one execution per item
      fetched instead of the notification's events. It returns ``Polled(items,
      cursor=…)``, as a polling ``fetch`` does. Arming calls it once with ``since=None``
      before ``subscribe``: a baseline whose items never run.
    - ``renew_before``, for subscriptions that expire (the state's ``expires_at``, ISO
      8601): the scheduler subscribes again this long before they expire, keeps the new
      state, then unsubscribes the old one.
    """

    parse: Parse
    verify: Verify | None = None
    subscribe: Subscribe | None = None
    unsubscribe: Unsubscribe | None = None
    methods: tuple[str, ...] = ("POST",)
    dedupe_key: str | Callable[[Mapping[str, Any]], str] | None = None
    """An event field (or a function of the event) that identifies a delivery (e.g.
    ``event_id``): a vendor's retried delivery of the same event starts no second run."""
    fetch: Fetch | None = None
    renew_before: timedelta | None = None

    @property
    def trigger_type(self) -> str:
        return "instant"

    def item_key(self, event: Mapping[str, Any]) -> str | None:
        """The event's dedupe key (``None``: the event carries none)."""
        if callable(self.dedupe_key):
            return str(self.dedupe_key(event))
        if self.dedupe_key and event.get(self.dedupe_key) is not None:
            return str(event[self.dedupe_key])
        return None


@dataclass(frozen=True, kw_only=True)
class ScheduleTrigger(Trigger):
    """Fires on a schedule; the input model carries the schedule (see the schedule app)."""

    next_fire: Callable[[Any, Any], Any]
    """``next_fire(inputs, after: datetime) -> datetime``: the next fire time after ``after``."""

    @property
    def trigger_type(self) -> str:
        return "schedule"


@dataclass(frozen=True, kw_only=True)
class ManualTrigger(Trigger):
    """Fires only when a user or a script runs the scenario with data."""

    @property
    def trigger_type(self) -> str:
        return "manual"


TriggerType = Literal["polling", "instant", "schedule", "manual"]
