"""A tiny aiohttp sink: POST / (or /sink, the path the Node-RED peer flow posts to)
answers {"ok": true, "received": <json>}; /slow waits 1 s; /vendor waits 200 ms (a
vendor API's answer time, bench_cluster.py)."""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def ok(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"ok": True, "received": data})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(1.0)
    return web.json_response({"ok": True})


async def vendor(request: web.Request) -> web.Response:
    data = await request.json()
    await asyncio.sleep(0.2)
    return web.json_response({"ok": True, "received": data})


def main() -> None:
    app = web.Application()
    app.router.add_post("/", ok)
    app.router.add_post("/sink", ok)
    app.router.add_post("/slow", slow)
    app.router.add_post("/vendor", vendor)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
