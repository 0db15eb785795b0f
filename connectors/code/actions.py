"""The code cell's action: hand the code and its input to the sandbox."""

from __future__ import annotations

import atexit
from functools import lru_cache
from typing import Any

from connectors.code.sandbox import CodeSandbox
from connectors.code.schemas import RunJavaScriptInput
from connectors.sdk import OperationContext

SANDBOX_EXTRA = "code_sandbox"
"""The key under which the engine puts its ``CodeSandbox`` (with the operator's limits)
in ``OperationContext.extras``."""

CONSOLE_KEY = "_console"
"""The output key for console lines (added only when the code logged something)."""


@lru_cache(maxsize=1)
def default_sandbox() -> CodeSandbox:
    """Default limits, for contexts the engine did not build (tests, the conformance suite)."""
    sandbox = CodeSandbox()
    atexit.register(sandbox.close)
    return sandbox


async def run_javascript(ctx: OperationContext, inputs: RunJavaScriptInput) -> dict[str, Any]:
    """Run the code in a fresh V8 isolate and output the object it returns."""
    sandbox = ctx.extras.get(SANDBOX_EXTRA) if ctx is not None else None
    if not isinstance(sandbox, CodeSandbox):
        sandbox = default_sandbox()
    result = await sandbox.run(inputs.code, inputs.input)
    output = dict(result.output)
    if result.logs and CONSOLE_KEY not in output:
        output[CONSOLE_KEY] = result.logs
    return output
