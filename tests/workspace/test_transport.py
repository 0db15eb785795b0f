"""Transport: HTTPS served by ``cellwright serve`` and its webhook workers, clear errors
for a certificate that cannot serve, proxy headers believed only from trusted proxies,
``Secure`` cookies and HSTS whenever the public URL is https."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from engine.settings import Settings
from workspace import sessions
from workspace.auth import hash_password
from workspace.cli import _check_tls, _uvicorn_options, main
from workspace.server import create_app

ROOT = Path(__file__).parents[2]
MANUAL = {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"}


def self_signed(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# -- HTTPS -----------------------------------------------------------------------------------


@pytest.mark.slow  # a real server process with the workspace and a webhook worker: ~15 s
def test_serve_answers_https_with_hsts_and_so_do_its_webhook_workers(tmp_path: Path) -> None:
    from tests.conftest import free_port

    cert, key = self_signed(tmp_path)
    port, hook_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CELLWRIGHT_")},
        "CELLWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli",
            "serve",
            "--no-demo",
            "--port",
            str(port),
            "--webhook-workers",
            "1",
            "--webhook-port",
            str(hook_port),
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 240  # Panel's import on a loaded 2-core machine
        while not any("webhook worker(s) answer" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the server did not start"
            assert process.stdout is not None
            lines.append(process.stdout.readline())
        output = "".join(lines)
        assert f"Cellwright is running at https://127.0.0.1:{port}/" in output
        assert f"answer https://127.0.0.1:{hook_port}/hooks/" in output

        def get(url: str) -> httpx.Response:
            while True:
                try:
                    return httpx.get(url, verify=trusting, timeout=30)
                except (httpx.ConnectError, httpx.ReadTimeout):
                    assert time.monotonic() < deadline, f"{url} did not answer"
                    time.sleep(0.2)

        for base in (f"https://127.0.0.1:{port}", f"https://127.0.0.1:{hook_port}"):
            answer = get(f"{base}/healthz")
            assert answer.status_code == 200 and answer.json() == {"status": "ok"}
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
        login = get(f"https://127.0.0.1:{port}/login")
        assert login.status_code == 200
        assert login.headers["strict-transport-security"] == "max-age=31536000"
        # the certificate is the one given: a client that does not trust it refuses it
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=5)
        # and plain HTTP gets no answer at all
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("command", ["serve", "webhooks"])
def test_a_certificate_that_cannot_serve_is_refused_in_one_sentence(
    tmp_path: Path, command: str
) -> None:
    cert, key = self_signed(tmp_path)
    other_cert, other_key = self_signed(tmp_path, "other")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    cases = [
        (
            ["--ssl-certfile", str(tmp_path / "missing.crt"), "--ssl-keyfile", str(key)],
            f"--ssl-certfile: {tmp_path / 'missing.crt'} does not exist.",
        ),
        (
            ["--ssl-certfile", str(cert), "--ssl-keyfile", str(tmp_path)],
            f"Invalid value for '--ssl-keyfile': File '{tmp_path}' is a directory.",
        ),
        (
            ["--ssl-certfile", str(cert), "--ssl-keyfile", str(other_key)],
            f"--ssl-keyfile: {other_key} is not the private key of the certificate {cert}.",
        ),
        (["--ssl-certfile", str(cert)], "--ssl-certfile and --ssl-keyfile go together"),
        (
            ["--ssl-certfile", str(not_pem), "--ssl-keyfile", str(key)],
            "are not a PEM certificate and its unencrypted PEM private key",
        ),
    ]
    for options, message in cases:
        result = runner.invoke(main, [command, *data, *options])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert other_cert.exists()


def test_certificate_paths_from_the_environment_are_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``CELLWRIGHT_SSL_…`` in a ``.env`` file reach ``_check_tls`` without click's checks."""
    cert, key = self_signed(tmp_path)
    _check_tls(Settings(_env_file=None))  # type: ignore[call-arg]  # no TLS: nothing to check
    _check_tls(Settings(_env_file=None, ssl_certfile=cert, ssl_keyfile=key))  # type: ignore[call-arg]
    for bad, says in (
        (tmp_path, f"--ssl-keyfile: {tmp_path} is a directory, not a PEM file."),
        (cert / "key.pem", f"--ssl-keyfile: {cert / 'key.pem'} cannot be read (Not a directory)."),
    ):
        with pytest.raises(SystemExit) as exited:
            _check_tls(Settings(_env_file=None, ssl_certfile=cert, ssl_keyfile=bad))  # type: ignore[call-arg]
        assert exited.value.code == 2
        assert capsys.readouterr().err == f"error: {says}\n"


def test_serving_https_makes_the_default_public_urls_https() -> None:
    settings = Settings(
        _env_file=None, ssl_certfile="c.pem", ssl_keyfile="k.pem", webhook_workers=1
    )  # type: ignore[call-arg]
    assert settings.resolved_public_url() == "https://127.0.0.1:8000"
    assert settings.resolved_webhook_url() == "https://127.0.0.1:8001"
    assert settings.public_https()
    assert _uvicorn_options(settings)["ssl_certfile"] == "c.pem"
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert plain.resolved_public_url() == "http://127.0.0.1:8000" and not plain.public_https()
    assert "ssl_certfile" not in _uvicorn_options(plain)
    # an operator's public URL wins (TLS ends at a proxy in front)
    proxied = Settings(_env_file=None, public_url="https://flows.example.com/")  # type: ignore[call-arg]
    assert proxied.resolved_public_url() == "https://flows.example.com" and proxied.public_https()


# -- proxies ---------------------------------------------------------------------------------


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).trusted_proxies == ["127.0.0.1", "::1"]  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_TRUSTED_PROXIES", " 10.0.0.5, 10.1.0.0/16 ,")
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.5", "10.1.0.0/16"]  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_TRUSTED_PROXIES", '["10.0.0.5", "*"]')
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.5", "*"]  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_TRUSTED_PROXIES", '["10.0.0.5"')
    with pytest.raises(ValueError, match="not a JSON list"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_TRUSTED_PROXIES", "")
    nobody = Settings(_env_file=None)  # type: ignore[call-arg]
    assert nobody.trusted_proxies == [] and _uvicorn_options(nobody)["proxy_headers"] is False
    monkeypatch.setenv("CELLWRIGHT_TRUSTED_PROXIES", "10.0.0.5,proxy.internal")
    with pytest.raises(ValueError, match="trusted_proxies") as info:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "'proxy.internal' is not an IP address or network" in str(info.value)


@pytest.mark.parametrize(
    ("trusted", "seen"),
    [
        (["127.0.0.1"], "203.0.113.7"),  # the proxy in front is on this machine
        (["10.0.0.0/8"], "127.0.0.1"),  # the request did not come from a trusted proxy
        ([], "127.0.0.1"),
    ],
)
async def test_forwarded_headers_count_only_from_trusted_proxies(
    make_settings: Any, registry: Any, helpers: Any, trusted: list[str], seen: str
) -> None:
    from tests.services import running_service

    settings = make_settings(trusted_proxies=trusted)
    async with running_service(settings, registry) as svc:
        user = svc.store.create_user("ada@example.com", name="Ada")
        key, _ = svc.store.create_api_key(user.id, "k")
        with helpers.ThreadedServer(
            create_app(svc, start=False), **_uvicorn_options(settings)
        ) as server:
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}
            ) as http:
                created = await http.post(
                    "/api/v1/scenarios",
                    json={"name": "Forwarded", "cells": [MANUAL]},
                    headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                )
                assert created.status_code == 201, created.text
                trail = await http.get("/api/v1/audit", params={"action": "scenario"})
        [entry] = trail.json()["items"]
        assert entry["source"] == "api" and entry["ip"] == seen


# -- cookies and HSTS ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "https"),
    [
        ({"public_url": "https://flows.example.com"}, True),  # TLS at a proxy
        ({"ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}, True),  # TLS here
        ({"public_url": "http://flows.example.com"}, False),
        ({}, False),
    ],
)
async def test_cookies_are_secure_and_hsts_is_sent_whenever_the_public_url_is_https(
    make_settings: Any, registry: Any, overrides: dict[str, Any], https: bool
) -> None:
    from tests.services import running_service

    async with running_service(make_settings(**overrides), registry) as svc:
        svc.store.create_user("ada@example.com", password_hash=hash_password("pw-123456789"))
        web = FastAPI()
        sessions.add_routes(web, svc)
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            signed_in = await c.post(
                "/login", data={"email": "ada@example.com", "password": "pw-123456789", "next": "/"}
            )
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{sessions.COOKIE}=")
        assert ("; secure" in cookie.lower()) is https

        transport = httpx.ASGITransport(app=create_app(svc, start=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for path in ("/healthz", "/api/v1/scenarios", "/hooks/no-such-token", "/nowhere"):
                answer = await c.get(path)
                assert answer.headers.get("strict-transport-security") == (
                    "max-age=31536000" if https else None
                ), path
