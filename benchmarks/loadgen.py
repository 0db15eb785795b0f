"""A load generator in its own process: N concurrent clients POSTing JSON for D seconds.

python benchmarks/loadgen.py URL CONCURRENCY SECONDS  → one JSON line of figures
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

BODY = {"id": 1, "amount": 42, "name": "alice"}


async def client(
    session: aiohttp.ClientSession, url: str, stop: float, latencies: list[float], errors: list[int]
) -> None:
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        try:
            async with session.post(url, json=BODY) as response:
                await response.read()
                if response.status != 200:
                    errors.append(response.status)
                    continue
        except aiohttp.ClientError:
            errors.append(0)
            continue
        latencies.append(time.perf_counter() - t0)


async def run(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(
            *(client(session, url, stop, latencies, errors) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))))
