"""Helpers shared by the benchmarks: free ports, a server subprocess, a sink."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited: {proc.returncode}")
    raise RuntimeError(f"{url} did not answer")


def cli(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "workspace.cli", *args, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return out.stdout.strip()


def start_server(
    data_dir: Path, port: int, env: dict[str, str], *extra: str
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--no-demo",
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=240)
    return proc


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (a server and its webhook workers)."""
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return [pid, *children]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children, alive or waited for."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_rss_mb(pid: int) -> float:
    """The sum of the peak resident memory of ``pid`` and its children."""
    total = 0.0
    for each in process_tree(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total
