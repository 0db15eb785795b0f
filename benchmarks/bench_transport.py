"""httpx's default transport vs the aiohttp transport the connectors use (httpx-aiohttp).

100 concurrent clients POST small JSON bodies to a local aiohttp sink for a few seconds
with each transport, through the same ``ConnectorHttp`` the apps use.

    uv run python benchmarks/bench_transport.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import httpx
from _common import ROOT, free_port, wait_http

from connectors.sdk import NetworkPolicy, build_http


async def measure(http: object, url: str, seconds: float, concurrency: int = 100) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await http.post(url, json={"total": 50.4, "name_upper": "ALICE"})  # type: ignore[attr-defined]
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def main(seconds: float) -> None:
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/", sink)
        url = f"http://127.0.0.1:{port}/"
        policy = NetworkPolicy.build(allow_private=True)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        default = build_http(
            app_key="bench", policy=policy, transport=httpx.AsyncHTTPTransport(limits=limits)
        )
        aiohttp_based = build_http(app_key="bench", policy=policy)  # what connectors get
        results = {}
        for name, http in (
            ("httpx default transport", default),
            ("httpx + aiohttp transport", aiohttp_based),
        ):
            await measure(http, url, 1)  # warm up
            results[name] = await measure(http, url, seconds)
            await http.aclose()
        for name, rps in results.items():
            print(f"{name:<28} {rps:>8.0f} req/s")
        ratio = results["httpx + aiohttp transport"] / results["httpx default transport"]
        print(f"aiohttp transport / default: {ratio:.1f}x")
    finally:
        sink.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    asyncio.run(main(parser.parse_args().seconds))
