"""Code cells: JavaScript in a fresh V8 isolate per call, inside worker processes.

What a user relies on: the returned object is the cell's output, errors name the line
of their code, limits stop runaway code with a message naming the limit, and the code
reaches nothing outside its input — no modules, network, files, environment, and
nothing left behind by another run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cells import document as documents
from cells.models import TransformerCell
from cells.run import run_operation_cell
from connectors.code import app
from connectors.code.sandbox import CodeLimits, CodeResult, CodeSandbox
from connectors.registry import default_registry
from connectors.sdk import (
    App,
    CodeError,
    CodeMemoryError,
    CodeTimeoutError,
    OperationContext,
    build_http,
)
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

TEMPLATE = Path(__file__).parents[2] / "workspace" / "templates" / "clean_address.yaml"

ECMASCRIPT_GLOBALS = {
    # ECMAScript's own global objects (ECMA-262 §19) and the console we install
    *("AggregateError Array BigInt Boolean Date Error EvalError FinalizationRegistry").split(),
    *("Function Infinity Intl Iterator JSON Map Math NaN Number Object Promise Proxy").split(),
    *("RangeError ReferenceError Reflect RegExp Set String Symbol SyntaxError Temporal").split(),
    *("TypeError URIError WeakMap WeakRef WeakSet decodeURI decodeURIComponent").split(),
    *("encodeURI encodeURIComponent escape eval globalThis isFinite isNaN parseFloat").split(),
    *("parseInt undefined unescape SuppressedError DisposableStack AsyncDisposableStack").split(),
    "console",
    # the wrapper's own two functions
    "__cw_main",
    "__cw_run",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CodeSandbox]:
    """Short limits keep the limit tests quick; one worker, so consecutive runs share a
    process (what must not leak between runs then has every chance to)."""
    box = CodeSandbox(CodeLimits(timeout_seconds=0.5, memory_mb=32, workers=1, log_chars=40))
    yield box
    box.close()


@pytest.fixture(scope="module")
def roomy() -> Iterator[CodeSandbox]:
    """A long time limit, so the memory limit is what stops the code on a busy machine."""
    box = CodeSandbox(CodeLimits(timeout_seconds=10, memory_mb=32, workers=1))
    yield box
    box.close()


async def run(sandbox: CodeSandbox, code: str, data: dict[str, Any] | None = None) -> CodeResult:
    return await sandbox.run(code, data or {})


async def fails(sandbox: CodeSandbox, code: str, data: dict[str, Any] | None = None) -> CodeError:
    with pytest.raises(CodeError) as info:
        await sandbox.run(code, data or {})
    return info.value


# -- the happy path, through a real scenario run --------------------------------------


def address_scenario() -> dict[str, Any]:
    """The template's code cell behind a manual trigger, then a cell mapping its output."""
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    parse = next(c for c in template["cells"] if c["id"] == "parse")
    parse["inputs"]["input"] = {"address": "{{ trigger.address }}"}
    return {
        "name": "Clean addresses",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            parse,
            {
                "id": "label",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {
                    "fields": {
                        "line": (
                            "{{ steps.parse.street }}, "
                            "{{ steps.parse.city }} {{ steps.parse.postcode }}"
                        )
                    }
                },
            },
        ],
    }


async def test_a_code_cell_outputs_its_object_to_the_cells_after_it(
    svc: Cellwright, user: Any
) -> None:
    scenario = svc.import_scenario(user.id, documents.parse(address_scenario()))
    result = await svc.run_now(
        user.id, scenario.id, {"address": "  221B baker st., LONDON nw1 6xe "}, timeout=30
    )
    assert result["status"] == "completed", result["error"]
    cells = {c["cell_id"]: c for c in result["cells"]}
    assert cells["parse"]["output"] == {
        "street": "221B Baker Street",
        "city": "London",
        "postcode": "NW1 6XE",
    }
    assert cells["label"]["output"] == {"line": "221B Baker Street, London NW1 6XE"}


async def test_the_engines_settings_set_the_limits(make_settings: Any, registry: Any) -> None:
    settings: Settings = make_settings(code_timeout_seconds=0.25, code_workers=1)
    async with running_service(settings, registry) as svc:
        user = svc.store.create_user("ada@example.com", name="Ada")
        document = {
            "name": "Spins",
            "cells": [
                {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
                {
                    "id": "spin",
                    "kind": "transformer",
                    "app": "code",
                    "operation": "run_javascript",
                    "inputs": {"code": "while (true) {}"},
                },
            ],
        }
        scenario = svc.import_scenario(user.id, documents.parse(document))
        result = await svc.run_now(user.id, scenario.id, {}, timeout=30)
    assert result["status"] == "failed"
    spin = next(c for c in result["cells"] if c["cell_id"] == "spin")
    assert spin["error"]["code"] == "code_timeout"
    assert "longer than 0.25 s" in spin["error"]["message"]
    assert "code_timeout_seconds" in spin["error"]["message"]


async def make_context(cell: Any, app: App, *, idempotency_key: str) -> OperationContext:
    return OperationContext(http=build_http(app_key=app.key), idempotency_key=idempotency_key)


async def run_cell(inputs: dict[str, Any]) -> Any:
    cell = TransformerCell(
        id="js", kind="transformer", app="code", operation="run_javascript", inputs=inputs
    )
    return await run_operation_cell(
        cell,
        {"trigger": {"name": "ada"}},
        apps=default_registry(),
        make_context=make_context,
        idempotency_key="cw-test",
    )


async def test_the_cell_maps_its_input_and_keeps_console_lines() -> None:
    result = await run_cell(
        {
            "code": "console.log('got', input);\nreturn {upper: input.name.toUpperCase()};",
            "input": {"name": "{{ trigger.name }}"},
        }
    )
    assert result.ok, result.error
    assert result.output == {"upper": "ADA", "_console": ['got {"name":"ada"}']}


async def test_an_empty_code_field_is_an_input_error_naming_the_field() -> None:
    result = await run_cell({"code": "", "input": {}})
    assert not result.ok
    assert result.error["code"] == "invalid_input"
    assert "code" in result.error["message"]


def test_the_app_is_a_registered_builtin() -> None:
    assert default_registry().get("code") is app
    assert app.builtin and not app.needs_connection
    assert app.action("run_javascript").kind == "transformer"


# -- what the code can reach ------------------------------------------------------------


async def test_only_ecmascript_globals_exist(sandbox: CodeSandbox) -> None:
    result = await run(sandbox, "return {names: Object.getOwnPropertyNames(globalThis)};")
    assert set(result.output["names"]) <= ECMASCRIPT_GLOBALS


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("const fs = require('fs');\nreturn {};", "ReferenceError: require is not defined"),
        ("return {data: require('fs').readFileSync('/etc/passwd', 'utf8')};", "require"),
        ("return {env: process.env};", "ReferenceError: process is not defined"),
        ("return {key: process.env.CELLWRIGHT_VAULT_KEYS};", "process is not defined"),
        ("fetch('http://127.0.0.1/');\nreturn {};", "ReferenceError: fetch is not defined"),
        ("new XMLHttpRequest();\nreturn {};", "ReferenceError: XMLHttpRequest is not defined"),
        ("new WebSocket('ws://127.0.0.1/');\nreturn {};", "WebSocket is not defined"),
        ("return {f: Deno.readTextFileSync('/etc/passwd')};", "Deno is not defined"),
        ("return {f: Bun.file('/etc/passwd')};", "Bun is not defined"),
        ("return {b: new Uint8Array(8)};", "Uint8Array is not defined"),
        ("return {m: new WebAssembly.Memory({initial: 1})};", "WebAssembly is not defined"),
        ("setTimeout(() => 1, 10);\nreturn {};", "setTimeout is not defined"),
    ],
)
async def test_escapes_find_nothing_to_reach(sandbox: CodeSandbox, code: str, message: str) -> None:
    error = await fails(sandbox, code)
    assert message in error.message
    assert error.code == "code_error" and error.details["kind"] == "runtime"


async def test_a_static_import_is_a_syntax_error(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "\nimport fs from 'fs';\nreturn {};")
    assert error.details["kind"] == "syntax"
    assert error.message.startswith("Line 2: SyntaxError: Cannot use import statement")


async def test_a_dynamic_import_never_yields_a_module(sandbox: CodeSandbox) -> None:
    # the code cannot wait for a Promise, and the embedding has no module loader at all
    code = "let loaded = 'no';\nimport('fs').then(() => { loaded = 'yes'; });\nreturn {loaded};"
    assert (await run(sandbox, code)).output == {"loaded": "no"}
    error = await fails(sandbox, "return import('fs');")
    assert "Promise" in error.message


async def test_the_function_constructor_reaches_the_same_empty_world(
    sandbox: CodeSandbox,
) -> None:
    code = (
        "const g = [].constructor.constructor('return this')();\n"
        "return {p: typeof g.process, r: typeof g.require};"
    )
    assert (await run(sandbox, code)).output == {"p": "undefined", "r": "undefined"}


async def test_the_worker_has_an_empty_environment_and_no_secrets(
    sandbox: CodeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELLWRIGHT_VAULT_KEYS", "c2VjcmV0")
    await run(sandbox, "return {};")
    worker = sandbox._idle.get()
    try:
        assert worker is not None
        with open(f"/proc/{worker.process.pid}/environ", "rb") as file:  # noqa: ASYNC230 - procfs
            environ = file.read()
        cwd = os.readlink(f"/proc/{worker.process.pid}/cwd")
    finally:
        sandbox._idle.put(worker)
    assert environ == b""
    assert cwd == "/"


# -- nothing leaks between runs --------------------------------------------------------


async def test_prototype_pollution_does_not_reach_the_next_run(sandbox: CodeSandbox) -> None:
    await run(
        sandbox,
        "Object.prototype.isAdmin = true;\nArray.prototype.push = () => 0;\n"
        "JSON.stringify = () => '{}';\nreturn {};",
    )
    result = await run(sandbox, "const a = [];\na.push(1);\nreturn {admin: ({}).isAdmin, a};")
    assert result.output == {"a": [1]}


async def test_globals_are_not_shared_between_runs(sandbox: CodeSandbox) -> None:
    code = (
        "globalThis.count = (globalThis.count || 0) + 1;\nvar seen = typeof leftover;\n"
        "globalThis.leftover = 1;\nreturn {count, seen};"
    )
    first = await run(sandbox, code)
    second = await run(sandbox, code)
    assert first.output == second.output == {"count": 1, "seen": "undefined"}


async def test_console_cannot_be_used_to_read_another_runs_lines(sandbox: CodeSandbox) -> None:
    await run(sandbox, "console.log('secret of run one');\nreturn {};")
    result = await run(sandbox, "console.log('two');\nreturn {};")
    assert result.logs == ["two"]


# -- limits ---------------------------------------------------------------------------------


async def test_an_endless_loop_is_stopped_at_the_time_limit(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "let i = 0;\nwhile (true) { i++; }")
    assert isinstance(error, CodeTimeoutError)
    assert error.code == "code_timeout"
    assert "longer than 0.5 s" in error.message and "code_timeout_seconds" in error.message
    assert error.details == {"limit_seconds": 0.5}
    assert (await run(sandbox, "return {ok: true};")).output == {"ok": True}


async def test_an_endless_loop_in_a_sort_callback_is_stopped(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "[3, 1, 2].sort(() => { for (;;) {} });\nreturn {};")
    assert isinstance(error, CodeTimeoutError)


@pytest.mark.parametrize(
    "code",
    [
        "const a = [];\nfor (;;) a.push(new Array(1e6).fill(a.length));",
        "const a = [];\nfor (;;) a.push({n: a.length, s: 'x' + a.length});",
    ],
    ids=["big arrays", "many objects"],
)
async def test_a_huge_allocation_is_stopped_at_the_memory_limit(
    roomy: CodeSandbox, code: str
) -> None:
    error = await fails(roomy, code)
    assert isinstance(error, CodeMemoryError)
    assert error.code == "code_memory"
    assert "the limit is 32 MB" in error.message and "code_memory_mb" in error.message
    assert (await run(roomy, "return {ok: true};")).output == {"ok": True}


async def test_code_that_aborts_v8_ends_only_its_worker(roomy: CodeSandbox) -> None:
    # V8 aborts its process when an array would pass its size limit (crbug.com/1201626);
    # in-process, that would be the server
    error = await fails(roomy, "return {n: 'ab'.repeat(2 ** 27).split('').length};")
    assert isinstance(error, CodeMemoryError)
    assert (await run(roomy, "return {ok: true};")).output == {"ok": True}


async def test_console_output_is_bounded(sandbox: CodeSandbox) -> None:
    result = await run(
        sandbox, "for (let i = 0; i < 100; i++) console.log('line ' + i);\nreturn {};"
    )
    assert result.logs[:4] == ["line 0", "line 1", "line 2", "line 3"]
    assert sum(len(line) for line in result.logs[:-1]) <= 40
    assert (
        result.logs[-1].startswith("(") and "dropped: the limit is 40 characters" in result.logs[-1]
    )


# -- errors name the line ---------------------------------------------------------------


async def test_a_syntax_error_names_its_line(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "const a = 1;\nconst b = (;\nreturn {a};")
    assert error.message == "Line 2: SyntaxError: Unexpected token ';'"
    assert error.details["line"] == 2 and error.details["kind"] == "syntax"


async def test_a_runtime_error_names_its_line_and_column(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "const order = input.order;\n\nreturn {id: order.id};", {})
    assert error.message == "Line 3: TypeError: Cannot read properties of undefined (reading 'id')"
    assert (error.details["line"], error.details["column"]) == (3, 19)


async def test_an_error_on_the_first_line_has_the_users_column(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "return {id: input.order.id};")
    assert (error.details["line"], error.details["column"]) == (1, 25)


async def test_an_error_thrown_in_a_nested_function_names_where_it_was_thrown(
    sandbox: CodeSandbox,
) -> None:
    code = (
        "function check(value) {\n  if (!value) throw new Error('no email');\n}\n"
        "check(input.email);\nreturn {};"
    )
    error = await fails(sandbox, code)
    assert error.message == "Line 2: Error: no email"


async def test_an_error_thrown_while_reporting_an_error_still_names_its_line(
    sandbox: CodeSandbox,
) -> None:
    code = "const p = new Proxy({}, {get() { throw new Error('trap'); }});\n\nreturn p;"
    error = await fails(sandbox, code)
    assert error.message == "Line 1: Error: trap"
    error = await fails(sandbox, "Error.prepareStackTrace = () => { throw 1; };\nnull.x;")
    assert error.message.startswith("Line 1: ")


async def test_a_thrown_string_is_reported_without_a_line(sandbox: CodeSandbox) -> None:
    error = await fails(sandbox, "throw 'plain text';")
    assert error.message == "Error: plain text"
    assert error.details["line"] is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("return [1, 2];", "must return an object such as {name: 'Ada'}, but it returned an array"),
        ("const x = 1;", "but it returned nothing"),
        ("return null;", "but it returned null"),
        ("return 'text';", "but it returned a string"),
        ("return {big: 10n};", "cannot be written as JSON (Do not know how to serialize a BigInt)"),
        ("const o = {};\no.self = o;\nreturn o;", "cannot be written as JSON"),
        ("return (async () => ({a: 1}))();", "returned a Promise"),
    ],
)
async def test_a_result_that_is_not_a_json_object_is_a_clear_error(
    sandbox: CodeSandbox, code: str, expected: str
) -> None:
    error = await fails(sandbox, code)
    assert error.details["kind"] == "output"
    assert error.message.startswith("The code's result: ")
    assert expected in error.message


async def test_inputs_arrive_as_json_and_outputs_leave_as_json(sandbox: CodeSandbox) -> None:
    data = {
        "text": 'line\u2028sep "quoted" </script>',
        "n": 1.5,
        "list": [None, True],
        "nested": {"é": "ü"},
    }
    result = await run(sandbox, "return {copy: input, type: typeof input.nested};", data)
    assert result.output == {"copy": data, "type": "object"}


async def test_dates_arrive_as_iso_text_and_nan_is_refused(sandbox: CodeSandbox) -> None:
    at = datetime(2026, 3, 28, 9, 30, tzinfo=UTC)
    result = await run(
        sandbox, "return {at: input.at, year: new Date(input.at).getUTCFullYear()};", {"at": at}
    )
    assert result.output == {"at": "2026-03-28T09:30:00Z", "year": 2026}
    error = await fails(sandbox, "return {};", {"n": float("nan")})
    assert error.details["kind"] == "input" and "NaN or Infinity" in error.message


# -- concurrency ----------------------------------------------------------------------------


async def test_concurrent_calls_each_get_their_own_input() -> None:
    box = CodeSandbox(CodeLimits(workers=2))
    try:
        results = await asyncio.gather(
            *(box.run("return {double: input.n * 2};", {"n": n}) for n in range(12))
        )
    finally:
        box.close()
    assert [r.output["double"] for r in results] == [n * 2 for n in range(12)]


async def test_a_running_cell_does_not_block_the_event_loop() -> None:
    box = CodeSandbox(CodeLimits(timeout_seconds=5, workers=1))
    ticks = 0
    busy = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not busy.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    try:
        await box.run("return {};", {})  # the worker is started
        task = asyncio.create_task(ticker())
        code = "const end = Date.now() + 300;\nwhile (Date.now() < end) {}\nreturn {done: true};"
        ticks_before = ticks
        result = await box.run(code, {})
        ticked = ticks - ticks_before
        busy.set()
        await task
    finally:
        box.close()
    assert result.output == {"done": True}
    assert ticked > 1  # the loop kept turning while the code spun


async def test_a_closed_sandbox_starts_new_workers_on_the_next_call() -> None:
    box = CodeSandbox(CodeLimits(workers=1))
    await box.run("return {};", {})
    first = box._idle.get()
    box._idle.put(first)
    box.close()
    assert first is not None and not first.alive()
    assert (await box.run("return {again: true};", {})).output == {"again": True}
    box.close()


def test_the_code_field_is_a_text_area_in_the_workspace() -> None:
    from workspace.views.widgets import field_kind

    schema = app.action("run_javascript").input_schema()
    assert field_kind(schema["properties"]["code"]) == "text"
    assert field_kind(schema["properties"]["input"]) == "json"


async def test_a_worker_that_does_not_answer_by_the_deadline_is_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as if the code sat in a builtin that ignores V8's termination: the server's own
    # deadline (here before V8's) kills the process and reports the time limit
    from connectors.code import sandbox as sandbox_module

    box = CodeSandbox(CodeLimits(timeout_seconds=5, workers=1))
    try:
        await box.run("return {};", {})
        first = box._idle.get()
        box._idle.put(first)
        monkeypatch.setattr(sandbox_module, "GRACE_SECONDS", -4.8)
        error = await fails(box, "while (true) {}")
        assert isinstance(error, CodeTimeoutError) and "longer than 5 s" in error.message
        assert first is not None and not first.alive()
        monkeypatch.setattr(sandbox_module, "GRACE_SECONDS", 3.0)
        assert (await box.run("return {next: 1};", {})).output == {"next": 1}
    finally:
        box.close()


# -- the worker's own function, in this process (the tests above run it in workers) ----


def worker_call(code: str, **limits: Any) -> dict[str, Any]:
    from connectors.code import _worker

    call = {
        "code": code,
        "input": {"n": 2},
        "timeout": 0.5,
        "memory": 32 << 20,
        "log_chars": 100,
        "output_chars": 1000,
        **limits,
    }
    reply: dict[str, Any] = _worker.run(call)
    return reply


@pytest.mark.parametrize(
    ("code", "limits", "expected"),
    [
        ("console.log('x');\nreturn {n: input.n};", {}, {"output": {"n": 2}, "logs": ["x"]}),
        ("return {s: 'x'.repeat(2000)};", {}, "output"),
        ("let a = ;", {}, "syntax"),
        ("null.x;", {}, "runtime"),
        ("while (true) {}", {"timeout": 0.2}, "timeout"),
        ("const a = [];\nfor (;;) a.push(new Array(1e5).fill(1));", {"timeout": 10}, "memory"),
        ("Object.prototype.toJSON = function () { return 'gotcha'; };\nreturn {};", {}, "output"),
    ],
    ids=["ok", "too large", "syntax", "runtime", "timeout", "memory", "toJSON replaced"],
)
# after a time limit mini-racer reports the cancelled call to a closed event loop (the
# worker process silences it)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_worker_function_answers_each_outcome(
    code: str, limits: dict[str, Any], expected: Any
) -> None:
    reply = worker_call(code, **limits)
    if isinstance(expected, dict):
        assert reply == expected
    else:
        assert reply["error"]["kind"] == expected, reply
