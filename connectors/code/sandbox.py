"""Running code cells: V8 isolates inside a small pool of worker processes.

Two layers, each for what it does well (measured in ``benchmarks/bench_code.py``, the
reasoning in ``docs/security.md``):

- **V8** (``mini-racer``) decides what code can reach: plain ECMAScript has no files,
  sockets, processes or environment, and every call gets a new isolate.
- **A worker process** bounds what code can spend. Some V8 builtins do not stop at the
  time limit, a few sizes abort V8 itself, and memory outside V8's heap is not counted;
  in a separate process the server kills the worker at the deadline and survives its
  crash. The worker runs with an empty environment, no core dumps, no file writes and a
  cap on its data segment.

Calls block a thread of this sandbox's own pool (one thread per worker), never the
event loop; concurrent cells run in parallel up to ``workers`` and queue after that.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from connectors.sdk import CodeError, CodeMemoryError, CodeTimeoutError

WORKER = Path(__file__).with_name("_worker.py")

GRACE_SECONDS = 3.0
"""How long past the time limit the server waits before killing a worker whose code
did not stop (a builtin that ignores V8's termination), or a call whose new isolate
was slow to start on a loaded machine."""

START_SECONDS = 20.0
"""How long a new worker may take to start (Python and V8; ~0.1 s on a quiet machine)."""

OUTPUT_CHARS = 1_000_000
"""Largest returned object, as JSON text."""


@dataclass(frozen=True)
class CodeLimits:
    """What one call may spend (the engine fills this from its settings)."""

    timeout_seconds: float = 1.0
    memory_mb: int = 64
    workers: int = 2
    log_chars: int = 10_000

    @property
    def data_bytes(self) -> int:
        """The worker's data segment cap: V8 reserves ~0.6 GB of address space at
        start-up, so this backstop sits well above the isolate's own memory limit."""
        return (768 + 4 * self.memory_mb) * 1024 * 1024


@dataclass(frozen=True)
class CodeResult:
    output: dict[str, Any]
    logs: list[str]


class _Worker:
    """One worker process, used by one thread at a time."""

    def __init__(self, limits: CodeLimits, generation: int) -> None:
        self.generation = generation
        self.process = subprocess.Popen(  # noqa: S603 - our own script, no shell
            [sys.executable, "-I", str(WORKER), json.dumps({"data_bytes": limits.data_bytes})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={},
            cwd="/",
            close_fds=True,
            start_new_session=True,  # a Ctrl-C to the server's group is the server's
        )
        self._buffer = b""
        self.ended = False
        """True once its output closed: the process died (not killed at a deadline)."""
        ready = self._read_line(time.monotonic() + START_SECONDS)
        if ready is None or not ready.get("ready"):
            self.kill()
            raise CodeError("The code sandbox could not start; see the server's log.")

    def call(self, request: bytes, deadline: float) -> dict[str, Any] | None:
        """The worker's answer, or None when it died or ran past ``deadline``."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(request + b"\n")
            self.process.stdin.flush()
        except OSError:
            self.ended = True
            return None
        return self._read_line(deadline)

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.ended = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        """Stop the worker; its exit status (negative: the signal that ended it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        code = self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        return code


class CodeSandbox:
    """Runs code cells. One per engine; ``close()`` stops its workers."""

    def __init__(self, limits: CodeLimits | None = None) -> None:
        self.limits = limits or CodeLimits()
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(self.limits.workers):
            self._idle.put(None)  # started on first use
        self._threads = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="cw-code")
        self._generation = 0

    async def run(self, code: str, data: dict[str, Any]) -> CodeResult:
        """Run ``code`` (a function body receiving ``input``) and return its object."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, code, data)

    def _request(self, code: str, data: dict[str, Any]) -> bytes:
        call = {
            "code": code,
            "input": data,
            "timeout": self.limits.timeout_seconds,
            "memory": self.limits.memory_mb * 1024 * 1024,
            "log_chars": self.limits.log_chars,
            "output_chars": OUTPUT_CHARS,
        }
        try:
            # dates, decimals and ids become their JSON text, as everywhere else
            return json.dumps(call, allow_nan=False, default=to_jsonable_python).encode()
        except ValueError:
            raise CodeError(
                "The input holds NaN or Infinity, which JSON cannot carry; "
                "map a number or text instead.",
                kind="input",
            ) from None

    def _run(self, code: str, data: dict[str, Any]) -> CodeResult:
        request = self._request(code, data)
        worker = self._idle.get()
        keep = False
        try:
            if worker is None or not worker.alive():
                worker = _Worker(self.limits, self._generation)
            answer = worker.call(
                request, time.monotonic() + self.limits.timeout_seconds + GRACE_SECONDS
            )
            if answer is None:
                died = worker.ended
                worker.kill()
                raise self._lost() if died else self._timeout()
            if "error" in answer:
                error = answer["error"]
                # after a limit the isolate's thread may still be busy: start afresh
                keep = error["kind"] not in ("timeout", "memory", "internal")
                raise self._error(error)
            keep = True
            return CodeResult(output=answer["output"], logs=answer["logs"])
        finally:
            keep = keep and worker is not None and worker.generation == self._generation
            if worker is not None and not keep and worker.alive():
                worker.kill()
            self._idle.put(worker if keep else None)

    def _lost(self) -> CodeError:
        # V8 aborts the process on a few allocations too large for it (a string split
        # into 2**28 characters); the data segment cap ends the others
        return CodeMemoryError(
            f"The code used too much memory (the limit is {self.limits.memory_mb} MB, setting "
            f"code_memory_mb); its sandbox stopped. Work on less data at a time.",
            limit_mb=self.limits.memory_mb,
        )

    def _timeout(self) -> CodeTimeoutError:
        return CodeTimeoutError(
            f"The code ran longer than {self.limits.timeout_seconds:g} s (the limit, setting "
            "code_timeout_seconds) and was stopped; look for a loop that never ends.",
            limit_seconds=self.limits.timeout_seconds,
        )

    def _error(self, error: dict[str, Any]) -> CodeError:
        kind = error["kind"]
        if kind == "timeout":
            return self._timeout()
        if kind == "memory":
            return self._lost()
        line, column = error.get("line"), error.get("column")
        where = f"Line {line}: " if line else ""
        if kind == "output":
            message = f"The code's result: {error['message']}."
        else:
            message = f"{where}{error['message']}"
        return CodeError(message, kind=kind, line=line, column=column)

    def close(self) -> None:
        """Stop the workers: idle ones at once, busy ones when their call ends. A later
        call starts new ones (an engine may be stopped and started again)."""
        self._generation += 1
        idle: list[_Worker | None] = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for worker in idle:
            if worker is not None:
                worker.kill()
            self._idle.put(None)
