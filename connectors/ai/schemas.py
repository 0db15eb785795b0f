"""Inputs and outputs of the AI steps."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.ai.structured import (
    FieldType,
    SchemaError,
    model_from_fields,
    model_from_json_schema,
)

MAX_TEXT = 200_000


class Usage(BaseModel):
    """Tokens a step's model calls used (a repair round included)."""

    prompt_tokens: int = Field(description="Tokens sent to the model.")
    completion_tokens: int = Field(description="Tokens the model answered with.")
    total_tokens: int = Field(description="Both together.")


class _Output(BaseModel):
    model: str = Field(description="The model that answered (the connection's, in litellm form).")
    usage: Usage = Field(description="Tokens used: prompt_tokens, completion_tokens, total_tokens.")


class GenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=MAX_TEXT, description="What to ask the model.")
    system: str | None = Field(
        None,
        max_length=MAX_TEXT,
        description="Instructions that frame every answer (the system message), "
        "e.g. a role or a tone.",
    )
    temperature: float | None = Field(
        None,
        ge=0,
        le=2,
        description="0 for the most predictable answer, higher for more varied ones (empty: "
        "the model's default).",
    )
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="The longest answer, in tokens (empty: the model's limit).",
    )


class GenerateOutput(_Output):
    text: str = Field(description="The model's answer.")
    finish_reason: str | None = Field(
        None, description="Why the answer ended: stop (complete) or length (cut at max_tokens)."
    )


class FieldSpec(BaseModel):
    """One field to extract."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The field's name in the output (letters, digits and _).")
    type: FieldType = Field(
        "string",
        description="string, integer, number, boolean, date (YYYY-MM-DD) or string_list.",
    )
    description: str = Field("", description="What the field holds; the model reads it.")
    required: bool = Field(
        True, description="The answer must have it; when false a missing value is null."
    )


class ExtractInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The text to extract from.")
    fields: list[FieldSpec] | None = Field(
        None,
        description="The fields to extract (name, type, description, required). "
        "Give these or json_schema.",
    )
    json_schema: dict[str, Any] | None = Field(
        None,
        description='A JSON Schema of the answer instead of fields: {"type": "object", '
        '"properties": {...}, "required": [...]}.',
    )
    instructions: str | None = Field(
        None, max_length=MAX_TEXT, description="Anything else the model should know (optional)."
    )

    @field_validator("fields")
    @classmethod
    def _fields_build(cls, value: list[FieldSpec] | None) -> list[FieldSpec] | None:
        if value is not None:
            try:
                model_from_fields([f.model_dump() for f in value])
            except SchemaError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("json_schema")
    @classmethod
    def _schema_builds(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                model_from_json_schema(value)
            except SchemaError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_schema(self) -> ExtractInput:
        if (self.fields is None) == (self.json_schema is None):
            raise ValueError("give either fields or json_schema (exactly one of them)")
        return self


class ExtractOutput(_Output):
    data: dict[str, Any] = Field(description="The extracted fields, validated against the schema.")
    attempts: int = Field(description="1, or 2 when the first answer needed the repair round.")


class ClassifyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The text to classify.")
    labels: list[str] = Field(
        min_length=2, max_length=100, description="The labels to choose from (at least two)."
    )
    descriptions: dict[str, str] | None = Field(
        None, description="What each label means, by label (optional; helps the model)."
    )
    instructions: str | None = Field(
        None, max_length=MAX_TEXT, description="Anything else the model should know (optional)."
    )

    @field_validator("labels")
    @classmethod
    def _labels_distinct(cls, value: list[str]) -> list[str]:
        labels = [label.strip() for label in value]
        if any(not label for label in labels):
            raise ValueError("labels cannot be empty")
        folded = [label.casefold() for label in labels]
        doubled = sorted({label for label in labels if folded.count(label.casefold()) > 1})
        if doubled:
            raise ValueError(f"labels must differ (ignoring case): {', '.join(doubled)}")
        return labels

    @model_validator(mode="after")
    def _described_labels_exist(self) -> ClassifyInput:
        unknown = sorted(set(self.descriptions or {}) - set(self.labels))
        if unknown:
            raise ValueError(
                f"descriptions name labels that are not in labels: {', '.join(unknown)}"
            )
        return self


class ClassifyOutput(_Output):
    label: str = Field(description="One of the labels.")
    attempts: int = Field(description="1, or 2 when the first answer needed the repair round.")


class SummarizeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The text to summarize.")
    max_words: int = Field(80, ge=5, le=2000, description="About how many words, at most.")
    style: Literal["paragraph", "bullets", "one_line"] = Field(
        "paragraph", description="paragraph, bullets (a short list) or one_line (a headline)."
    )
    focus: str | None = Field(
        None,
        max_length=2000,
        description="What the summary should keep, e.g. 'decisions and deadlines' (optional).",
    )


class SummarizeOutput(_Output):
    summary: str = Field(description="The summary.")
