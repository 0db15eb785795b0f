"""The AI steps: generate, extract, classify, summarize.

Extract and classify check the model's answer (the schema's pydantic model, the list of
labels). A wrong first answer gets one repair round: the answer and what was wrong
with it go back to the model, which answers again; a second wrong answer fails the
cell with the validation messages. Every output carries the model and the tokens of
all its calls.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from connectors.ai import llm
from connectors.ai.schemas import (
    ClassifyInput,
    ClassifyOutput,
    ExtractInput,
    ExtractOutput,
    GenerateInput,
    GenerateOutput,
    SummarizeInput,
    SummarizeOutput,
)
from connectors.ai.structured import (
    check_answer,
    match_label,
    model_from_fields,
    model_from_json_schema,
)
from connectors.sdk import InvalidOutputError, OperationContext, TokenUsage

EXTRACT_SYSTEM = (
    "You extract data from the user's text. Reply with one JSON object and nothing else, "
    "no code fence. It must match this JSON Schema:\n{schema}\n"
    "Use null for a value the text does not give."
)
CLASSIFY_SYSTEM = (
    "You classify the user's text. Reply with exactly one of these labels and nothing else:\n"
    "{labels}"
)
SUMMARIZE_SYSTEM = "Summarize the user's text in at most {max_words} words, {style}.{focus}"
STYLES = {
    "paragraph": "as one paragraph",
    "bullets": "as a short list of bullet points",
    "one_line": "as one line, like a headline",
}
REPAIR = "Your answer was not valid:\n{problems}\nReply again, with {what} only."


def _with_model(ctx: OperationContext) -> dict[str, Any]:
    """``model`` and ``usage`` of every call so far (the output's, or the error's details)."""
    usage = ctx.usage or TokenUsage(model=llm.ModelSettings.from_credentials(ctx.credentials).model)
    data = usage.to_dict()
    return {"model": data.pop("model"), "usage": data}


async def generate_text(ctx: OperationContext, inputs: GenerateInput) -> GenerateOutput:
    messages = []
    if inputs.system:
        messages.append({"role": "system", "content": inputs.system})
    messages.append({"role": "user", "content": inputs.prompt})
    reply = await llm.complete(
        ctx, messages, temperature=inputs.temperature, max_tokens=inputs.max_tokens
    )
    return GenerateOutput(text=reply.text, finish_reason=reply.finish_reason, **_with_model(ctx))


def _schema_model(inputs: ExtractInput) -> type[BaseModel]:
    if inputs.fields is not None:
        return model_from_fields([f.model_dump() for f in inputs.fields])
    assert inputs.json_schema is not None  # the input model requires one of them
    return model_from_json_schema(inputs.json_schema)


async def extract(ctx: OperationContext, inputs: ExtractInput) -> ExtractOutput:
    model = _schema_model(inputs)
    schema = json.dumps(model.model_json_schema(), ensure_ascii=False)
    system = EXTRACT_SYSTEM.format(schema=schema)
    if inputs.instructions:
        system += "\n" + inputs.instructions
    messages = [{"role": "system", "content": system}, {"role": "user", "content": inputs.text}]
    reply = await llm.complete(ctx, messages, temperature=0)
    data, problems = check_answer(model, reply.text)
    attempts = 1
    if data is None:
        attempts = 2
        messages += [
            {"role": "assistant", "content": reply.text},
            {
                "role": "user",
                "content": REPAIR.format(
                    problems="\n".join(f"- {p}" for p in problems),
                    what="the corrected JSON object",
                ),
            },
        ]
        reply = await llm.complete(ctx, messages, temperature=0)
        data, problems = check_answer(model, reply.text)
    if data is None:
        raise InvalidOutputError(
            "The model's answer did not match the schema, also after one repair round: "
            + "; ".join(problems[:5])
            + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""),
            errors=problems,
            **_with_model(ctx),
        )
    return ExtractOutput(data=data, attempts=attempts, **_with_model(ctx))


async def classify(ctx: OperationContext, inputs: ClassifyInput) -> ClassifyOutput:
    descriptions = inputs.descriptions or {}
    listed = "\n".join(
        f"- {label}" + (f": {descriptions[label]}" if descriptions.get(label) else "")
        for label in inputs.labels
    )
    system = CLASSIFY_SYSTEM.format(labels=listed)
    if inputs.instructions:
        system += "\n" + inputs.instructions
    messages = [{"role": "system", "content": system}, {"role": "user", "content": inputs.text}]
    reply = await llm.complete(ctx, messages, temperature=0, max_tokens=50)
    label = match_label(reply.text, inputs.labels)
    attempts = 1
    if label is None:
        attempts = 2
        messages += [
            {"role": "assistant", "content": reply.text},
            {
                "role": "user",
                "content": REPAIR.format(
                    problems=f"- {_shown(reply.text)} is not one of the labels",
                    what="one of the labels: " + ", ".join(inputs.labels),
                ),
            },
        ]
        reply = await llm.complete(ctx, messages, temperature=0, max_tokens=50)
        label = match_label(reply.text, inputs.labels)
    if label is None:
        raise InvalidOutputError(
            f"The model answered {_shown(reply.text)}, which is not one of the labels "
            f"({', '.join(inputs.labels)}), also after one repair round.",
            answer=reply.text[:200],
            **_with_model(ctx),
        )
    return ClassifyOutput(label=label, attempts=attempts, **_with_model(ctx))


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


async def summarize(ctx: OperationContext, inputs: SummarizeInput) -> SummarizeOutput:
    focus = f" Keep what matters most: {inputs.focus}." if inputs.focus else ""
    system = SUMMARIZE_SYSTEM.format(
        max_words=inputs.max_words, style=STYLES[inputs.style], focus=focus
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": inputs.text}]
    # room for the words (about 4/3 tokens each) and some markup, not a hard cut
    reply = await llm.complete(ctx, messages, temperature=0, max_tokens=inputs.max_words * 2 + 50)
    return SummarizeOutput(summary=reply.text.strip(), **_with_model(ctx))
