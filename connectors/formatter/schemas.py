"""Input and output models of the Formatter's transformers.

Each model carries the field descriptions the workspace renders as help and the
assistant reads; enums are ``Literal`` so the form shows a select. Checks that depend
on the chosen operation (``find`` is needed for ``replace``, ...) run in
``actions.py`` and name the field they are about.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

MAX_TEXT = 1_000_000
"""Longest text a transformer accepts (regular expressions run on it)."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultOutput(BaseModel):
    """The transformed value."""

    result: Any = Field(description="The result of the operation.")


# -- set fields ---------------------------------------------------------------------


class SetFieldsInput(_Input):
    """The fields to output."""

    fields: dict[str, Any] = Field(
        description="Field names and values as a JSON object, usually mapped from earlier "
        'cells, e.g. {"total": "{{ trigger.body.amount * 1.2 }}", "currency": "EUR"}. '
        "A value that is one {{ }} reference keeps its type. "
        "The output has exactly these fields.",
        examples=[{"total": 120, "name_upper": "ADA"}],
    )


class SetFieldsOutput(BaseModel):
    """Exactly the fields that were set."""

    model_config = ConfigDict(extra="allow")


# -- text ---------------------------------------------------------------------------

TextTransform = Literal[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "replace",
    "split",
    "regex_extract",
    "truncate",
    "template",
    "slugify",
    "length",
]


class TextInput(_Input):
    """A text and what to do with it."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    value: str = Field(description="The text to transform.", max_length=MAX_TEXT)
    transform: TextTransform = Field(
        description="upper / lower / title / capitalize: change case. trim: remove surrounding "
        "spaces. replace: replace every 'find' with 'replace_with'. split: cut at 'separator' "
        "into a list. regex_extract: the part matching 'pattern'. truncate: cut to "
        "'max_length'. template: fill {name} placeholders from 'values'. slugify: "
        "'Hello World!' → 'hello-world'. length: the number of characters."
    )
    find: str | None = Field(None, description="replace: the text to look for.")
    replace_with: str = Field(
        "", description="replace: the text to put instead (empty removes it)."
    )
    separator: str | None = Field(
        None,
        description="split: where to cut (empty: at any whitespace). slugify: "
        "the word separator (default '-').",
    )
    pattern: str | None = Field(
        None, description="regex_extract: a Python regular expression.", max_length=1000
    )
    group: int | str = Field(
        0, description="regex_extract: the group to return, by number or name (0: the whole match)."
    )
    max_length: int | None = Field(
        None, ge=0, description="truncate: the longest result, suffix included."
    )
    suffix: str = Field("...", description="truncate: added at the end when the text was cut.")
    template: str | None = Field(
        None,
        description="template: text with {name} placeholders, e.g. 'Hello {first}!'. "
        "{value} is the value field; other names come from 'values'.",
    )
    values: dict[str, Any] = Field(
        default_factory=dict, description="template: the values for the placeholders."
    )


# -- numbers ------------------------------------------------------------------------

MathOperation = Literal["add", "subtract", "multiply", "divide", "round", "ceil", "floor", "abs"]


class NumbersInput(_Input):
    """A number (or a text holding one) and what to do with it."""

    value: StrictInt | StrictFloat | str = Field(
        description="A number, or a text such as '1,234.50' or '1.234,50'."
    )
    operation: Literal["parse", "format", "math"] = Field(
        description="parse: read a number from text. format: write it as text with thousands "
        "separators, decimals and a currency. math: compute with 'operand'."
    )
    decimal_separator: Literal[".", ","] = Field(
        ".",
        description="parse: the decimal mark the text uses ('1,234.50' → '.', '1.234,50' → ','). "
        "format: the decimal mark to write.",
    )
    decimals: int | None = Field(
        None,
        ge=0,
        le=20,
        description="format: digits after the decimal mark (default 2). "
        "round: digits to keep (default 0).",
    )
    thousands_separator: Literal[",", ".", " ", "'", ""] = Field(
        ",", description="format: the thousands separator to write (empty for none)."
    )
    currency_prefix: str = Field(
        "", description="format: written before the number, e.g. '$'.", max_length=10
    )
    currency_suffix: str = Field(
        "", description="format: written after the number, e.g. ' €'.", max_length=10
    )
    math_operation: MathOperation | None = Field(
        None, description="math: what to compute. add, subtract, multiply and divide use 'operand'."
    )
    operand: StrictInt | StrictFloat | str | None = Field(
        None, description="math: the other number for add, subtract, multiply, divide."
    )


# -- dates --------------------------------------------------------------------------

DateUnit = Literal["seconds", "minutes", "hours", "days", "weeks", "months", "years"]


class DatesInput(_Input):
    """A date and time, and what to do with it."""

    value: str | StrictInt | StrictFloat = Field(
        description="An ISO 8601 date ('2026-03-29T09:00:00+02:00', '2026-03-29'), epoch "
        "seconds (epoch milliseconds are recognised too), or 'now'.",
        examples=["2026-03-29T09:00:00+02:00", 1774767600, "now"],
    )
    operation: Literal["parse", "format", "shift", "convert_timezone"] = Field(
        description="parse: normalise to ISO 8601. format: write with a strftime 'format'. "
        "shift: add 'amount' 'unit's. convert_timezone: express in 'to_timezone'."
    )
    format: str | None = Field(
        None,
        description="format: a strftime pattern, e.g. '%d/%m/%Y %H:%M' or '%A %d %B'.",
        max_length=200,
    )
    amount: int | float | None = Field(
        None, description="shift: how many units to add (negative to go back)."
    )
    unit: DateUnit = Field(
        "days",
        description="shift: seconds, minutes and hours move the instant; days and weeks keep the "
        "wall-clock time across daylight-saving changes; months and years keep the day, or use "
        "the month's last day (31 January + 1 month = 28 or 29 February).",
    )
    from_timezone: str = Field(
        "UTC", description="The IANA time zone of a value without an offset, e.g. 'Europe/Paris'."
    )
    to_timezone: str | None = Field(
        None,
        description="The IANA time zone of the result (required for convert_timezone; optional "
        "otherwise, the value's own zone is kept).",
    )


class DatesOutput(BaseModel):
    """The resulting date."""

    result: str = Field(description="ISO 8601, or the formatted text for 'format'.")
    timestamp: float = Field(description="The same instant as epoch seconds.")


# -- data ---------------------------------------------------------------------------


class DataInput(_Input):
    """A JSON value (object, list, text) and what to do with it."""

    value: Any = Field(description="The data: an object, a list, or text for parse_json.")
    operation: Literal[
        "pick", "rename", "flatten", "join", "first", "last", "length", "parse_json", "to_json"
    ] = Field(
        description="pick: keep only 'keys'. rename: rename keys with 'mapping'. "
        "flatten: nested object → dotted keys, list of lists → one list. "
        "join: list → text with 'separator'. first / last: an item of a list. "
        "length: the number of items or characters. parse_json: text → data. "
        "to_json: data → text. pick and rename also work on a list of objects."
    )
    keys: list[str] = Field(default_factory=list, description="pick: the keys to keep.")
    mapping: dict[str, str] = Field(default_factory=dict, description="rename: old key → new key.")
    separator: str | None = Field(
        None,
        description="join: between items (default ', '). flatten: between key parts (default '.').",
    )
    pretty: bool = Field(False, description="to_json: indent the JSON text.")


# -- lookup -------------------------------------------------------------------------


class LookupInput(_Input):
    """A key to look up in a table."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    value: str = Field(description="The key to look for.")
    table: dict[str, Any] = Field(
        description="Keys and the values they map to, e.g. {'FR': 'France', 'DE': 'Germany'}."
    )
    default: Any = Field(None, description="The result when the key is not in the table.")
    case_sensitive: bool = Field(True, description="False: 'fr' finds the key 'FR'.")


class LookupOutput(BaseModel):
    """The value found, or the default."""

    result: Any = Field(description="The table's value for the key, or the default.")
    found: bool = Field(description="Whether the key was in the table.")
