"""The Scenarios actions: calls go through ``ctx.scenarios`` (``connectors.sdk.ScenarioCalls``),
bound by the engine to the scenario's owner and the calling run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.scenario.schemas import ReturnInput, RunScenarioInput, RunScenarioOutput
from connectors.sdk import ConfigurationError, OperationContext, Option, ScenarioCalls


def _calls(ctx: OperationContext) -> ScenarioCalls:
    if ctx.scenarios is None:  # only a context built without the engine (never by a run)
        raise ConfigurationError("Scenarios can only be called from a scenario run or cell run.")
    return ctx.scenarios


async def run_scenario(ctx: OperationContext, inputs: RunScenarioInput) -> RunScenarioOutput:
    """Run the scenario; with ``wait``, its output."""
    result = await _calls(ctx).call(inputs.scenario_id, inputs.inputs, wait=inputs.wait)
    return RunScenarioOutput(
        execution_id=result.execution_id, status=result.status, output=result.output
    )


async def return_output(ctx: OperationContext, inputs: ReturnInput) -> dict[str, Any]:
    """The fields to return: the runner keeps the last one a run produced."""
    return dict(inputs.output)


async def scenario_options(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The owner's callable scenarios, for the scenario dropdown."""
    return [Option(value=s.id, label=s.name) for s in await _calls(ctx).callable()]
