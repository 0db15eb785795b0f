"""Browser tests: a real ``cellwright serve`` on a free port and a temporary data
directory, driven by Debian's Chromium through Playwright (pytest-playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from workspace.demo import DEMO_EMAIL, DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_axe = Axe()


@dataclass
class Server:
    url: str
    data_dir: Path
    admin_email: str
    admin_password: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@contextmanager
def serve(
    data_dir: Path, *, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run ``cellwright serve`` on ``port`` (default: a free one) with ``data_dir`` and the
    extra environment ``env``, until the block ends; fail if the workspace logged an error."""
    port = port or free_port()
    log = data_dir / "server.log"
    environment = {
        **os.environ,
        "CELLWRIGHT_DATA_DIR": str(data_dir),
        "CELLWRIGHT_DEMO_DATA": "false",
        "CELLWRIGHT_RETRY_BASE_SECONDS": "0.05",
        "CELLWRIGHT_RETRY_MAX_SECONDS": "0.2",
        **(env or {}),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workspace.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = (
            time.monotonic() + 180
        )  # a loaded 2-core machine can take a minute to import Panel
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cellwright serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        admin_file = (
            data_dir / "admin-password.txt"
        )  # demo data makes no admin file: the demo account then
        email, password = (
            admin_file.read_text().split() if admin_file.exists() else (DEMO_EMAIL, DEMO_PASSWORD)
        )
        yield Server(url, data_dir, email, password, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        text = log.read_text(errors="replace")
        assert "Traceback" not in text or "ERROR cellwright.workspace" not in text, (
            "the workspace logged an unexpected error"
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("ui-data")) as running:
        yield running


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def audit(page: Page, name: str, screenshots: Path) -> None:
    """Screenshot the page and fail on serious or critical accessibility violations."""
    page.wait_for_timeout(300)  # let Panel finish laying out
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    result = _axe.run(page)
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: accessibility violations {bad}"
