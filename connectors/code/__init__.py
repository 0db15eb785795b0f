"""Code: run a few lines of JavaScript between cells, in a sandbox."""

from __future__ import annotations

from connectors.code import actions
from connectors.code.schemas import RunJavaScriptInput
from connectors.sdk import Action, App, load_sample

run_javascript = Action(
    key="run_javascript",
    name="Run JavaScript",
    description="Runs your JavaScript on the mapped input object and outputs the object it "
    "returns; no network, files or environment, with time and memory limits.",
    input=RunJavaScriptInput,
    sample=load_sample(__file__, "run_javascript"),
    example={
        "code": "return {total: input.price * input.quantity};",
        "input": {"price": 2.5, "quantity": 4},
    },
    perform=actions.run_javascript,
    transformer=True,
    idempotent=True,
)

app = App(
    key="code",
    name="Code",
    description="Run JavaScript to reshape data when mappings and the built-in transformers are "
    "not enough; no connection needed.",
    category="Built-in",
    icon="code",
    actions=(run_javascript,),
    builtin=True,
)
