"""SMTP clients compared: aiosmtplib (what the SMTP app uses) against the standard library's
smtplib in a worker thread, sending to a local aiosmtpd server over STARTTLS with AUTH.

Each message is one session (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, QUIT),
as the app sends them. ``--concurrency`` sessions run at once (asyncio tasks; threads of
``asyncio.to_thread`` for smtplib, whose pool caps them at min(32, CPUs + 4)). Prints
messages per second and the client process's CPU per message; the server runs in its own
thread of the same process, so CPU figures include it for both clients alike.

    uv run python benchmarks/bench_smtp.py [--messages 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import ssl
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.connectors.smtp_server import PASSWORD, USER, smtp_server  # noqa: E402


def message(i: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = USER
    mail["To"] = "ops@example.com"
    mail["Subject"] = f"Benchmark {i}"
    mail.set_content("Hello from the benchmark.\n" * 20)
    return mail


async def with_aiosmtplib(port: int, context: ssl.SSLContext, i: int) -> None:
    await aiosmtplib.send(
        message(i),
        hostname="localhost",
        port=port,
        start_tls=True,
        tls_context=context,
        username=USER,
        password=PASSWORD,
    )


def with_smtplib(port: int, context: ssl.SSLContext, i: int) -> None:
    with smtplib.SMTP("localhost", port, timeout=30) as client:
        client.starttls(context=context)
        client.login(USER, PASSWORD)
        client.send_message(message(i))


async def run(kind: str, port: int, context: ssl.SSLContext, total: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            if kind == "aiosmtplib":
                await with_aiosmtplib(port, context, i)
            else:
                await asyncio.to_thread(with_smtplib, port, context, i)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(total)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{kind:>24}: {total / wall:7.1f} messages/s, {cpu / total * 1000:6.2f} ms CPU/message "
        f"(client and server), {total} messages, {concurrency} at once"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        smtp_server(Path(tmp), users={USER: PASSWORD}) as server,
    ):
        assert server.certificate is not None
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=server.certificate.pem)
        for kind in ("aiosmtplib", "smtplib in a thread"):
            asyncio.run(run(kind, server.port, context, args.messages, args.concurrency))
        print(f"server received {len(server.messages)} messages")


if __name__ == "__main__":
    main()
