"""Drafting a scenario from plain language: ask, check, repair once.

``draft`` sends the request with the app catalog to the model, reads the scenario
document out of its answer and checks it the way an import would (document shape,
apps and operations, trigger inputs, mapping syntax). When that finds problems, they
go back to the model once; what comes back is returned as it is, with its problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.catalog import catalog
from assistant.model import complete
from cells import document as documents
from cells._mapping_filters import FILTERS
from cells.checks import operation_errors
from cells.conditions import Operator
from cells.models import OperationCell, ScenarioDocument
from connectors.sdk import CellwrightError, InvalidInputError

MAX_PROMPT_CHARS = 4000

SYSTEM = """You draft automation scenarios for Cellwright, an integration platform.
Answer with ONE scenario document in a ```yaml block, then at most three short lines of
notes for the user (what they must still fill in). No other text.

The document format:
schema: cellwright/scenario@1
name: <short name>
description: <one sentence>
cells:                      # the trigger first, then the steps in order
  - id: hook                # unique, letters/digits/_/-, starts with a letter
    kind: trigger           # trigger | action | transformer | condition
    app: webhook            # an app key from the catalog
    operation: catch_hook   # a trigger key of that app
    inputs: {}
  - id: greet
    kind: transformer       # formatter and webhook.respond steps are transformers
    app: formatter
    operation: text
    inputs: {value: "Hello {{ trigger.body.name }}", transform: trim}
  - id: only_big            # a filter: stops the run quietly when its rules fail
    kind: condition
    rules: {all: [{left: "{{ trigger.body.total }}", op: gt, right: 50}]}
  - id: notify
    kind: action
    app: slack
    operation: send_message
    inputs: {channel: "#general", text: "{{ steps.greet.result }}"}

Rules:
- Use only apps and operations from the catalog below; give every required input.
- Values may use {{ }} expressions (Jinja): `trigger.<field>` is the trigger's output,
  `steps.<id>.<field>` the output of an earlier cell. Jinja filters (default, upper,
  lower, …) and {filters} work.
- Condition ops: {operators}.
- Leave out `connection:` on every cell: the user picks connections in the notebook.
- Put values you cannot know (board ids, channel names) in as clear placeholders.

Catalog (app key, then each operation: kind, key, name, description, required inputs,
trigger outputs):
""".replace("{operators}", ", ".join(op.value for op in Operator)).replace(
    "{filters}", ", ".join(FILTERS)
)

REPAIR = """That document has these problems:
{problems}

Answer with the corrected, complete document in one ```yaml block (and at most three
short lines of notes)."""

_FENCE = re.compile(r"```[ \t]*(?:ya?ml|json)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


@dataclass
class Draft:
    """What the assistant made: the document when it is valid, the YAML either way."""

    document: ScenarioDocument | None
    yaml_text: str
    problems: list[str] = field(default_factory=list)
    notes: str = ""


def split_answer(answer: str) -> tuple[str, str]:
    """(document text, notes): the first fenced block, or the whole answer without one."""
    match = _FENCE.search(answer)
    if match is None:
        return answer.strip(), ""
    notes = (answer[: match.start()] + answer[match.end() :]).strip()
    return match.group(1).strip(), notes


def _messages(error: CellwrightError) -> list[str]:
    if (
        isinstance(error, InvalidInputError)
        and error.errors
        and isinstance(error, documents.DocumentError)
    ):
        return [f"{e['field']}: {e['message']}" for e in error.errors]
    return [error.message]


def check(text: str, apps: Any) -> tuple[ScenarioDocument | None, list[str]]:
    """The document in ``text`` and every problem an import would find (none: valid).

    Connections are removed: a draft never names one (the user picks them)."""
    if not text.strip():
        return None, ["The answer holds no scenario document."]
    try:
        doc = documents.loads(text, source="draft")
    except CellwrightError as exc:  # DocumentError, or a MappingError from a reference check
        return None, _messages(exc)
    problems = [m for error in operation_errors(doc, apps) for m in _messages(error)]
    if problems:
        return None, problems
    for cell, _ in doc.walk():
        if isinstance(cell, OperationCell):
            cell.connection = None
    return doc, []


async def draft(prompt: str, *, registry: Any, settings: Any) -> Draft:
    """Draft a scenario for ``prompt`` with the configured model.

    Raises ``AssistantUnavailableError`` when the assistant is not set up and
    ``AssistantError`` when the model cannot be reached; an answer that is still not
    a valid scenario after one repair round comes back as ``Draft(document=None, ...)``.
    """
    prompt = prompt.strip()
    if not prompt:
        raise InvalidInputError("Describe the scenario you want first.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInputError(
            f"The description is too long: at most {MAX_PROMPT_CHARS} characters."
        )
    messages = [
        {"role": "system", "content": SYSTEM + catalog(registry, focus=prompt)},
        {"role": "user", "content": prompt},
    ]
    answer = await complete(messages, settings)
    text, notes = split_answer(answer)
    doc, problems = check(text, registry)
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": REPAIR.format(problems=listed)},
        ]
        answer = await complete(messages, settings)
        text, notes = split_answer(answer)
        doc, problems = check(text, registry)
    if doc is not None:
        return Draft(doc, documents.dump(doc), [], notes)
    return Draft(None, text, problems, notes)
