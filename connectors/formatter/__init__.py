"""Formatter: reshape data between cells — fields, text, numbers, dates, JSON, lookups."""

from __future__ import annotations

from connectors.formatter import actions
from connectors.formatter.schemas import (
    DataInput,
    DatesInput,
    DatesOutput,
    LookupInput,
    LookupOutput,
    NumbersInput,
    ResultOutput,
    SetFieldsInput,
    SetFieldsOutput,
    TextInput,
)
from connectors.sdk import Action, App, load_sample

set_fields = Action(
    key="set_fields",
    name="Set fields",
    description="Outputs the fields you define, with values mapped from earlier cells.",
    input=SetFieldsInput,
    output=SetFieldsOutput,
    sample=load_sample(__file__, "set_fields"),
    perform=actions.set_fields,
    transformer=True,
    idempotent=True,
)

text = Action(
    key="text",
    name="Text",
    description="Changes case, trims, replaces, splits, extracts with a regular expression, "
    "truncates, fills a template, slugifies or measures a text.",
    input=TextInput,
    output=ResultOutput,
    sample=load_sample(__file__, "text"),
    perform=actions.text,
    transformer=True,
    idempotent=True,
)

numbers = Action(
    key="numbers",
    name="Numbers",
    description="Reads numbers from text ('1.234,50'), formats them with separators and a "
    "currency, or adds, subtracts, multiplies, divides and rounds.",
    input=NumbersInput,
    output=ResultOutput,
    sample=load_sample(__file__, "numbers"),
    perform=actions.numbers,
    transformer=True,
    idempotent=True,
)

dates = Action(
    key="dates",
    name="Dates",
    description="Parses, formats, shifts dates (calendar-safe months) and converts "
    "them between time zones.",
    input=DatesInput,
    output=DatesOutput,
    sample=load_sample(__file__, "dates"),
    perform=actions.dates,
    transformer=True,
    idempotent=True,
)

data = Action(
    key="data",
    name="Data",
    description="Picks and renames keys, flattens, joins, takes the first or last item, "
    "counts, and converts to and from JSON text.",
    input=DataInput,
    output=ResultOutput,
    sample=load_sample(__file__, "data"),
    perform=actions.data,
    transformer=True,
    idempotent=True,
)

lookup = Action(
    key="lookup",
    name="Lookup table",
    description="Maps a value to another with a table (e.g. country code → name), with a default.",
    input=LookupInput,
    output=LookupOutput,
    sample=load_sample(__file__, "lookup"),
    perform=actions.lookup,
    transformer=True,
    idempotent=True,
)

app = App(
    key="formatter",
    name="Formatter",
    description="Transform text, numbers, dates and JSON between cells; no connection needed.",
    category="Built-in",
    icon="formatter",
    actions=(set_fields, text, numbers, dates, data, lookup),
    builtin=True,
)
