"""Data store: remember values between runs in your own named tables of keyed records."""

from __future__ import annotations

from connectors.data_store import actions
from connectors.data_store.schemas import (
    DeleteOutput,
    FindInput,
    FindOutput,
    GetInput,
    GetOutput,
    IncrementInput,
    KeyInput,
    RecordOutput,
    SetInput,
)
from connectors.sdk import Action, App, NoAuth, OptionSource, load_sample

get_record = Action(
    key="get_record",
    name="Get record",
    description="Reads the value stored under a key in one of your data stores, or a default when "
    "there is none (the output's found says which).",
    input=GetInput,
    output=GetOutput,
    sample=load_sample(__file__, "get_record"),
    perform=actions.get_record,
    idempotent=True,
)

set_record = Action(
    key="set_record",
    name="Set record",
    description="Stores a value (text, number, list or object) under a key in one of your data "
    "stores, replacing what was there; creates the store on its first write.",
    input=SetInput,
    output=RecordOutput,
    sample=load_sample(__file__, "set_record"),
    perform=actions.set_record,
    idempotent=True,
)

increment = Action(
    key="increment",
    name="Increment",
    description="Adds a number to the number stored under a key (a missing key starts at 0) and "
    "returns the new total; concurrent runs never lose a count.",
    input=IncrementInput,
    output=RecordOutput,
    sample=load_sample(__file__, "increment"),
    perform=actions.increment,
)

delete_record = Action(
    key="delete_record",
    name="Delete record",
    description="Deletes the record under a key from one of your data stores (nothing happens "
    "when there is none; the output's deleted says which).",
    input=KeyInput,
    output=DeleteOutput,
    sample=load_sample(__file__, "delete_record"),
    perform=actions.delete_record,
    idempotent=True,
)

find_records = Action(
    key="find_records",
    name="Find records",
    description="Lists the records of one of your data stores whose key starts with a prefix "
    "and/or whose value has a field equal to a value, by key.",
    input=FindInput,
    output=FindOutput,
    sample=load_sample(__file__, "find_records"),
    perform=actions.find_records,
    idempotent=True,
)

app = App(
    key="data_store",
    name="Data store",
    description="Remember values between runs: named tables of keyed records (last seen ids, "
    "counters, lookups) that you can view and edit in the workspace.",
    category="Built-in",
    icon="data_store",
    auth=NoAuth(),
    actions=(get_record, set_record, increment, delete_record, find_records),
    options=(OptionSource(key="stores", name="data stores", fetch=actions.store_options),),
    builtin=True,
    uses_data_stores=True,
)
