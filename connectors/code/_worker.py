"""A code cell worker process: runs JavaScript for the server, one call at a time.

Started by ``connectors.code.sandbox`` as ``python -I _worker.py`` with an empty
environment and ``/`` as its directory. It imports nothing of Cellwright: only the
standard library and ``py_mini_racer`` (V8). Each call gets a new V8 isolate, so nothing
one run leaves behind (globals, changed prototypes) reaches another.

Protocol: one JSON object per line. The server writes a call to stdin
(``{"code", "input", "timeout", "memory", "log_chars", "output_chars"}``); the worker
answers one line on the descriptor that was its stdout (stdout itself then points at
stderr, so nothing V8 or a library prints can corrupt the answers): ``{"output": {...},
"logs": [...]}`` or ``{"error": {"kind", "message", "line", "column"}}``. The first line,
before any call, is ``{"ready": true}``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
from typing import Any

SOURCE_URL = "code.js"
PREFIX = "globalThis.__cw_main = function (input) {"
"""Put on the user's first line, so the user's line N is the script's line N."""

REMOVED_GLOBALS = (
    # Binary buffers live outside V8's heap, so its memory limit does not count them, and
    # builtins over them (``new Uint8Array(1e9).fill(1)``) do not stop at the time limit.
    "ArrayBuffer",
    "SharedArrayBuffer",
    "Atomics",
    "DataView",
    "WebAssembly",
    "Uint8Array",
    "Int8Array",
    "Uint16Array",
    "Int16Array",
    "Uint32Array",
    "Int32Array",
    "BigUint64Array",
    "BigInt64Array",
    "Uint8ClampedArray",
    "Float16Array",
    "Float32Array",
    "Float64Array",
)

SETUP = """
(function () {
  for (const name of %(removed)s) delete globalThis[name];
  // the wrapper's own tools, taken before the user's code can replace them
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isArray = Array.isArray;
  const apply = Reflect.apply;
  const exec = RegExp.prototype.exec;
  const join = Array.prototype.join;
  const map = Array.prototype.map;
  const maxChars = %(log_chars)d;
  const logs = [];
  let used = 0;
  let dropped = 0;
  const text = (value) => {
    if (typeof value === "string") return value;
    try {
      const json = stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return String(value);
    }
  };
  const writer = (level) => (...args) => {
    let line = apply(join, apply(map, args, [text]), [" "]);
    if (level !== "log") line = level + ": " + line;
    if (used + line.length > maxChars) { dropped += 1; return; }
    used += line.length;
    logs[logs.length] = line;
  };
  globalThis.console = Object.freeze({
    log: writer("log"), info: writer("info"), debug: writer("debug"),
    warn: writer("warn"), error: writer("error"),
  });
  const maxOutput = %(output_chars)d;
  const place = (error) => {
    const found = apply(exec, /\\(?%(source)s:(\\d+):(\\d+)\\)?/, [String(error && error.stack)]);
    return found ? [Number(found[1]), Number(found[2])] : [null, null];
  };
  const fail = (kind, message, where) => stringify(
    {error: {kind, message, line: where[0], column: where[1]}});
  globalThis.__cw_run = function (inputText) {
    let output;
    try {
      output = globalThis.__cw_main(parse(inputText));
    } catch (error) {
      const name = error && error.name ? error.name : "Error";
      const message = error && error.message !== undefined ? error.message : text(error);
      return fail("runtime", name + ": " + message, place(error));
    }
    if (output && typeof output.then === "function") {
      return fail(
        "output",
        "the code returned a Promise: code cells run synchronously; " +
          "return the object itself (no async/await)",
        [null, null]);
    }
    if (output === null || typeof output !== "object" || isArray(output)) {
      const kind = output === null ? "null"
        : isArray(output) ? "an array"
        : output === undefined ? "nothing"
        : "a " + typeof output;
      return fail(
        "output",
        "the code must return an object such as {name: 'Ada'}, but it returned " + kind,
        [null, null]);
    }
    let json;
    try {
      json = stringify(output);
    } catch (error) {
      return fail(
        "output", "the returned object cannot be written as JSON (" + error.message + ")",
        [null, null]);
    }
    if (json.length > maxOutput) {
      return fail(
        "output",
        "the returned object is " + json.length + " characters of JSON; the limit is " + maxOutput,
        [null, null]);
    }
    if (dropped) {
      logs[logs.length] =
        "(" + dropped + " more console lines dropped: the limit is " + maxChars + " characters)";
    }
    return stringify({output: parse(json), logs});
  };
})();
"""

_PLACED = re.compile(r"^(?:<anonymous>|" + re.escape(SOURCE_URL) + r"):(\d+): (.*)$")
"""V8's own message: ``<script>:<line>: <Error>: <message>``."""


def _placed(kind: str, exc: Exception) -> dict[str, Any]:
    """An error from V8's message, with its line when it names one."""
    first = str(exc).splitlines()[0] if str(exc) else kind
    found = _PLACED.match(first)
    if found:
        return _error(kind, found.group(2), int(found.group(1)))
    return _error(kind, first)


def _answer(stream: Any, reply: dict[str, Any]) -> None:
    stream.write(json.dumps(reply, separators=(",", ":")) + "\n")
    stream.flush()


def _error(
    kind: str, message: str, line: int | None = None, column: int | None = None
) -> dict[str, Any]:
    return {"error": {"kind": kind, "message": message, "line": line, "column": column}}


def run(call: dict[str, Any]) -> dict[str, Any]:
    """One call in a new isolate."""
    import py_mini_racer._mini_racer
    from py_mini_racer import (
        JSEvalException,
        JSOOMException,
        JSParseException,
        JSTimeoutException,
        MiniRacer,
    )

    # mini-racer installs setTimeout (built on SharedArrayBuffer) in every new isolate,
    # as non-configurable globals; a cell runs synchronously and needs no timers
    py_mini_racer._mini_racer.INSTALL_SET_TIMEOUT = "undefined"  # type: ignore[attr-defined]
    timeout = float(call["timeout"])
    memory = int(call["memory"])
    with MiniRacer() as racer:
        racer.set_hard_memory_limit(memory)
        racer.eval(
            SETUP
            % {
                "removed": json.dumps(REMOVED_GLOBALS),
                "log_chars": int(call["log_chars"]),
                "output_chars": int(call["output_chars"]),
                "source": re.escape(SOURCE_URL),
            }
        )
        script = f"{PREFIX}{call['code']}\n}};\n//# sourceURL={SOURCE_URL}\n"
        try:
            racer.eval(script, timeout_sec=timeout)
        except JSParseException as exc:
            return _placed("syntax", exc)
        try:
            text = racer.eval(
                f"__cw_run({json.dumps(json.dumps(call['input']))})", timeout_sec=timeout
            )
        except JSTimeoutException:
            return _error("timeout", "timeout")
        except JSOOMException:
            return _error("memory", "memory")
        except JSEvalException as exc:
            if racer.was_hard_memory_limit_reached():
                return _error("memory", "memory")
            # what the wrapper could not catch (an error thrown while reporting one)
            return _placed("runtime", exc)
        if racer.was_hard_memory_limit_reached():
            return _error("memory", "memory")
        if len(str(text)) > int(call["output_chars"]) + int(call["log_chars"]) * 2 + 4096:
            # only when the code replaced the wrapper, which checks the size itself
            return _error("output", "the returned object is too large")
        reply: Any = json.loads(str(text))
        if not isinstance(reply, dict) or not (
            (isinstance(reply.get("output"), dict) and isinstance(reply.get("logs"), list))
            or isinstance(reply.get("error"), dict)
        ):
            # e.g. Object.prototype.toJSON, which JSON.stringify calls on every object
            return _error(
                "output",
                "the code changed what the sandbox relies on to send the result back"
                " (JSON, Object.prototype.toJSON, Reflect); leave the builtins as they are",
            )
        error = reply.get("error")
        if error and error.get("line") == 1 and error.get("column"):
            error["column"] -= len(PREFIX)  # the wrapper shares the user's first line
        return reply


def main() -> None:
    limits = json.loads(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    data = int(limits["data_bytes"])
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    # after a time limit, V8 reports the cancelled call to an isolate already closed;
    # mini-racer's callback then raises "Event loop is closed" (ignored): keep the
    # server's log free of it (the worker is replaced after a time limit anyway)
    sys.unraisablehook = lambda unraisable: None
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else is printed goes to stderr, never into an answer
    import py_mini_racer  # noqa: F401 - loaded before the first call, so calls do not pay for it

    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    _answer(answers, {"ready": True})
    for line in sys.stdin:
        try:
            call = json.loads(line)
            reply = run(call)
        except Exception as exc:  # the worker itself failed: say so and go on
            reply = _error("internal", f"{type(exc).__name__}: {exc}")
        _answer(answers, reply)


if __name__ == "__main__":
    main()
