"""Code cells: the candidate sandboxes, their per-call cost and what they contain.

Run by hand:  .venv/bin/python benchmarks/bench_code.py [--calls 200]

Candidates (docs/security.md explains the choice):

* ``v8-fresh``: mini-racer in the server's process, a new isolate per call;
* ``v8-reused``: mini-racer in the server's process, one isolate for every call (no
  isolation between runs: shown for the cost of creating isolates);
* ``quickjs-fresh``: the ``quickjs`` bindings, a new context per call — measured only
  when installed (``uv pip install quickjs==1.19.4``; not a dependency);
* ``process-per-call``: a new ``python -I -S`` process per call with rlimits (the
  "separate process" design without an engine kept warm);
* ``sandbox``: what Cellwright ships, ``connectors.code.sandbox.CodeSandbox`` — worker
  processes kept warm, a new V8 isolate per call.

Printed per candidate: the cost of one small call (median and p95, milliseconds), the
calls per second with two at once, and the containment probes:

* ``loop``: ``while (true) {}`` under a 0.5 s limit — stopped?
* ``fill``: ``new Uint8Array(5e8).fill(1)`` — a builtin that ignores V8's termination;
  does the call come back near the limit, and is the memory counted?
* ``abort``: ``'ab'.repeat(2 ** 27).split('')`` — V8 aborts its process; does the host
  survive?
* ``gil``: does a 300 ms busy loop in a thread let the event loop turn?

In-process probes run in a child process, so this script survives them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SMALL = "return {total: input.price * input.quantity, name: input.name.toUpperCase()};"
INPUT = {"price": 2.5, "quantity": 4, "name": "ada"}
PROBES = {
    "loop": "while (true) {}",
    "fill": "return {n: new Uint8Array(5e8).fill(1).length};",
    "abort": "return {n: 'ab'.repeat(2 ** 27).split('').length};",
}


def wrap(code: str) -> str:
    return f"(function (input) {{{code}\n}})"


# -- candidates: one call each --------------------------------------------------------------


def v8_fresh(code: str, data: dict[str, Any], timeout: float = 1.0) -> Any:
    from py_mini_racer import MiniRacer

    with MiniRacer() as racer:
        racer.set_hard_memory_limit(64 << 20)
        return racer.execute(f"{wrap(code)}({json.dumps(data)})", timeout_sec=timeout)


_REUSED: Any = None


def v8_reused(code: str, data: dict[str, Any], timeout: float = 1.0) -> Any:
    global _REUSED
    from py_mini_racer import MiniRacer

    if _REUSED is None:
        _REUSED = MiniRacer()
    return _REUSED.execute(f"{wrap(code)}({json.dumps(data)})", timeout_sec=timeout)


def quickjs_fresh(code: str, data: dict[str, Any], timeout: float = 1.0) -> Any:
    import quickjs  # type: ignore[import-not-found]

    context = quickjs.Context()
    context.set_memory_limit(64 << 20)
    context.set_time_limit(timeout)
    return json.loads(context.eval(f"JSON.stringify({wrap(code)}({json.dumps(data)}))"))


PROCESS_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_CPU, (1, 1))
    resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
    call = json.loads(sys.stdin.read())
    scope = {}
    exec(
        "def main(input):\\n"
        "    return {'total': input['price'] * input['quantity'], 'name': input['name'].upper()}",
        scope,
    )
    print(json.dumps(scope['main'](call)))
    """
)


def process_per_call(code: str, data: dict[str, Any], timeout: float = 1.0) -> Any:
    """A new interpreter per call (Python here: the cost is the process, not the language)."""
    done = subprocess.run(  # noqa: S603 - our own child
        [sys.executable, "-I", "-S", "-c", PROCESS_CHILD],
        input=json.dumps(data).encode(),
        capture_output=True,
        timeout=timeout + 1,
        env={},
        check=True,
    )
    return json.loads(done.stdout)


SANDBOX: Any = None


def sandbox_call(code: str, data: dict[str, Any], timeout: float = 1.0) -> Any:
    from connectors.code.sandbox import CodeLimits, CodeSandbox

    global SANDBOX
    if SANDBOX is None:
        SANDBOX = CodeSandbox(CodeLimits(timeout_seconds=timeout, workers=2))
    return asyncio.run(SANDBOX.run(code, data)).output


CANDIDATES: dict[str, Callable[..., Any]] = {
    "v8-fresh": v8_fresh,
    "v8-reused": v8_reused,
    "quickjs-fresh": quickjs_fresh,
    "process-per-call": process_per_call,
    "sandbox": sandbox_call,
}


def available(name: str) -> bool:
    if name != "quickjs-fresh":
        return True
    try:
        import quickjs  # noqa: F401

        return True
    except ImportError:
        return False


# -- measurements -----------------------------------------------------------------------------


def per_call(name: str, calls: int) -> tuple[float, float]:
    call = CANDIDATES[name]
    call(SMALL, INPUT)  # warm: imports, the first isolate, the workers
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call(SMALL, INPUT)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def two_at_once(name: str, calls: int) -> float:
    """Calls per second with two in flight (the default code_workers)."""
    if name == "sandbox":
        from connectors.code.sandbox import CodeLimits, CodeSandbox

        box = CodeSandbox(CodeLimits(workers=2))
        await box.run(SMALL, INPUT)
        await box.run(SMALL, INPUT)
        started = time.perf_counter()
        await asyncio.gather(*(box.run(SMALL, INPUT) for _ in range(calls)))
        elapsed = time.perf_counter() - started
        box.close()
        return calls / elapsed
    from concurrent.futures import ThreadPoolExecutor

    call = CANDIDATES[name]
    if name == "v8-reused":
        return float("nan")  # one isolate serves one call at a time
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(2) as pool:
        await loop.run_in_executor(pool, call, SMALL, INPUT)
        started = time.perf_counter()
        await asyncio.gather(
            *(loop.run_in_executor(pool, call, SMALL, INPUT) for _ in range(calls))
        )
        return calls / (time.perf_counter() - started)


def probe(name: str, key: str) -> str:
    """Run one probe in a child process (in-process engines may take it down)."""
    script = textwrap.dedent(
        f"""
        import asyncio, json, resource, sys, threading, time
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import bench_code
        call = bench_code.CANDIDATES[{name!r}]
        call("return {{}};", {{}}, 0.5)  # warm: the sandbox's worker starts here
        started = time.perf_counter()
        try:
            call({PROBES.get(key, "")!r}, {{}}, 0.5)
            outcome = "ran to the end"
        except Exception as exc:
            outcome = type(exc).__name__
        took = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        figures = {{"outcome": outcome, "seconds": round(took, 2), "rss_mb": rss}}
        print(json.dumps(figures), flush=True)
        import os
        os._exit(0)
        """
    )
    try:
        done = subprocess.run(  # noqa: S603 - our own child
            [sys.executable, "-c", script], capture_output=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "HUNG (killed after 30 s)"
    if done.returncode != 0 and not done.stdout:
        return f"HOST DIED (exit {done.returncode})"
    result = json.loads(done.stdout.splitlines()[-1])
    return f"{result['outcome']} after {result['seconds']} s, host peak RSS {result['rss_mb']} MB"


def gil_probe(name: str) -> str:
    """How many times the event loop turned while a 300 ms busy loop ran in a thread."""
    code = "const end = Date.now() + 300;\nwhile (Date.now() < end) {}\nreturn {};"
    if name == "process-per-call":
        return "yes (another process)"

    async def main() -> int:
        if name != "sandbox":
            await asyncio.to_thread(CANDIDATES[name], SMALL, INPUT)
        ticks = 0
        stop = False

        async def ticker() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        if name == "sandbox":
            await SANDBOX.run(code, {})
        else:
            await asyncio.to_thread(CANDIDATES[name], code, {}, 2.0)
        stop = True
        await task
        return ticks

    if name == "sandbox":
        global SANDBOX
        SANDBOX = None
        from connectors.code.sandbox import CodeLimits, CodeSandbox

        SANDBOX = CodeSandbox(CodeLimits(timeout_seconds=2.0, workers=1))
        asyncio.run(SANDBOX.run(SMALL, INPUT))
    ticks = asyncio.run(main())
    return f"{'yes' if ticks > 20 else 'NO'} ({ticks} turns of the loop in 300 ms)"


def cold_start() -> float:
    """Milliseconds of a new sandbox's first call: a worker process starts (Python, V8)."""
    from connectors.code.sandbox import CodeLimits, CodeSandbox

    box = CodeSandbox(CodeLimits(workers=1))
    started = time.perf_counter()
    asyncio.run(box.run(SMALL, INPUT))
    elapsed = (time.perf_counter() - started) * 1000
    box.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-probes", action="store_true")
    args = parser.parse_args()
    print(f"machine: {resource.getpagesize()} B pages, Python {sys.version.split()[0]}")
    print(f"{'candidate':18} {'median ms':>10} {'p95 ms':>8} {'calls/s (2 at once)':>20}")
    names = [n for n in CANDIDATES if available(n)]
    for name in names:
        calls = args.calls if name != "process-per-call" else max(20, args.calls // 10)
        median, p95 = per_call(name, calls)
        rate = asyncio.run(two_at_once(name, calls))
        print(f"{name:18} {median:10.2f} {p95:8.2f} {rate:20.0f}")
    print(f"sandbox: a worker's first call (process start) {cold_start():.0f} ms")
    if args.no_probes:
        return
    print()
    for name in names:
        if name == "v8-reused":
            continue
        print(f"{name}:")
        if name == "process-per-call":
            print("  (runs its own fixed code: the process is the boundary; its cost is the point)")
            continue
        for key in PROBES:
            print(f"  {key:6} {probe(name, key)}")
        print(f"  gil    event loop turns during the call: {gil_probe(name)}")


if __name__ == "__main__":
    main()
