"""Manual: run a scenario by hand (workspace, CLI, API) with data you give."""

from __future__ import annotations

from connectors.sdk import AnyOutput, App, ManualTrigger, NoInput, load_sample

run_manually = ManualTrigger(
    key="run_manually",
    name="Run manually",
    description="Starts the scenario only when you run it, with the JSON data you give.",
    input=NoInput,
    output=AnyOutput,
    sample=load_sample(__file__, "run_manually"),
)

app = App(
    key="manual",
    name="Manual",
    description="Start scenarios by hand or from a script.",
    category="Built-in",
    icon="manual",
    triggers=(run_manually,),
    builtin=True,
)
