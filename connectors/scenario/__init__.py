"""Scenarios: call one scenario from another and get its output back (sub-scenarios).

- The trigger "When called by another scenario" (``called``) makes a scenario
  callable and declares the inputs it expects (name, type, required).
- The action "Run scenario" (``run_scenario``) runs one of the owner's published
  callable scenarios with inputs, by default waiting for what it returns.
- The action "Return output" (``return_output``) says what a called scenario returns;
  without one, its last cell's output is returned.

The engine does the calling (``ctx.scenarios``, ``engine.subscenarios``): the called
run is its own execution, linked to its caller both ways in the history.
"""

from __future__ import annotations

from connectors.scenario import actions
from connectors.scenario.schemas import (
    CalledInput,
    ReturnInput,
    RunScenarioInput,
    RunScenarioOutput,
)
from connectors.sdk import Action, AnyOutput, App, ManualTrigger, NoAuth, OptionSource, load_sample

called = ManualTrigger(
    key="called",
    name="When called by another scenario",
    description="Starts the scenario when a Run scenario cell of another of your scenarios calls "
    "it, with the inputs it declares (read them as {{ trigger.<name> }}). You can also run it "
    "by hand with test data.",
    input=CalledInput,
    output=AnyOutput,
    sample=load_sample(__file__, "called"),
)

run_scenario = Action(
    key="run_scenario",
    name="Run scenario",
    description='Runs one of your published scenarios whose trigger is "When called by another '
    'scenario", with inputs; by default waits for it and outputs what it returns (its run '
    "failing fails this cell, with its error). Without waiting, outputs its execution id.",
    input=RunScenarioInput,
    output=RunScenarioOutput,
    sample=load_sample(__file__, "run_scenario"),
    perform=actions.run_scenario,
)

return_output = Action(
    key="return_output",
    name="Return output",
    description="Sets what this scenario returns to the scenario that called it (the caller's "
    "Run scenario output). Without it, a called scenario returns its last cell's output.",
    input=ReturnInput,
    output=AnyOutput,
    sample=load_sample(__file__, "return_output"),
    perform=actions.return_output,
    idempotent=True,
)

app = App(
    key="scenario",
    name="Scenarios",
    description="Call one of your scenarios from another (sub-scenarios): pass inputs, get its "
    "output back.",
    category="Built-in",
    icon="manual",
    auth=NoAuth(),
    triggers=(called,),
    actions=(run_scenario, return_output),
    options=(
        OptionSource(
            key="callable_scenarios", name="callable scenarios", fetch=actions.scenario_options
        ),
    ),
    builtin=True,
    uses_scenarios=True,
)
