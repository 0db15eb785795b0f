"""``cellwright connect`` and ``cellwright connections``: sandbox and real connections.

The "real" connection is a WordPress site on loopback (the WordPress simulator served
by uvicorn), reached over HTTP like any self-hosted site.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connectors.monday.sandbox import SANDBOX_TOKEN
from connectors.sdk.sandboxing import shared_sandbox
from connectors.wordpress import sandbox as wordpress_sandbox
from workspace.cli import main

ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    runner = CliRunner()
    env = {
        "CELLWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true",
        "CELLWRIGHT_ANALYTICS": "false",
    }

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def wordpress_site() -> Iterator[str]:
    from tests.conftest import ThreadedServer

    with ThreadedServer(wordpress_sandbox.create_app()) as server:
        yield server.url


def listed(cli: Any, *args: str) -> list[dict[str, Any]]:
    result = cli("connections", "--json", *args)
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def test_sandbox_connections_are_created_tested_and_listed(cli: Any) -> None:
    monday = cli("connect", "monday", "--sandbox")
    assert monday.exit_code == 0, monday.output
    assert ID.match(monday.stdout.strip())
    assert "Connected: monday.com: Ada Lovelace (Sandbox Co) (sandbox)" in monday.stderr
    blog = cli("connect", "wordpress", "--sandbox", "--name", "Test blog")
    assert blog.exit_code == 0, blog.output

    connections = listed(cli)
    assert [
        (c["id"], c["app_id"], c["name"], c["status"], c["is_sandbox"]) for c in connections
    ] == [
        (monday.stdout.strip(), "monday", "monday.com: Ada Lovelace (Sandbox Co)", "active", True),
        (blog.stdout.strip(), "wordpress", "Test blog", "active", True),
    ]
    assert connections[1]["metadata"]["api_root"] == "wp-json/"  # what the test call discovered
    assert [c["app_id"] for c in listed(cli, "--app", "wordpress")] == ["wordpress"]
    text = cli("connections")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert (
        len(lines) == 2
        and lines[0].startswith(monday.stdout.strip())
        and "sandbox" in lines[0]
        and "Test blog" in lines[1]
    )
    assert all(
        c["events_url"] is None for c in connections
    )  # neither app takes a connection-wide URL
    slack = cli("connect", "slack", "--sandbox")
    assert slack.exit_code == 0, slack.output
    [events] = [c["events_url"] for c in listed(cli, "--app", "slack")]
    assert re.fullmatch(r"http://\S+/hooks/apps/slack/[\w-]{20,}", events), (
        events
    )  # paste it in the Slack app
    assert f"events URL: {events}" in cli("connections", "--app", "slack").stdout
    everything = cli("connections", "--json").stdout + text.stdout
    assert (
        SANDBOX_TOKEN not in everything and "abcd EFGH" not in everything
    )  # credentials are never shown


def test_a_real_site_with_credentials_from_stdin(cli: Any, wordpress_site: str) -> None:
    credentials = {
        "site_url": wordpress_site,
        "username": "admin",
        "application_password": wordpress_sandbox.APPLICATION_PASSWORD,
        "allow_insecure_http": True,
    }
    result = cli("connect", "wordpress", "--credentials", "-", input=json.dumps(credentials))
    assert result.exit_code == 0, result.output
    [connection] = listed(cli)
    assert (
        connection["id"] == result.stdout.strip()
        and connection["status"] == "active"
        and not connection["is_sandbox"]
    )
    assert connection["name"].startswith("WordPress: ") and "127.0.0.1" in connection["name"]


def test_refused_credentials_store_the_connection_in_error(cli: Any, wordpress_site: str) -> None:
    credentials = {
        "site_url": wordpress_site,
        "username": "admin",
        "application_password": "wrong pass word 1234",
        "allow_insecure_http": True,
    }
    result = cli("connect", "wordpress", "--credentials", json.dumps(credentials))
    assert result.exit_code == 1
    assert ID.match(result.stdout.strip())  # stored: the user can fix it later
    assert result.stderr.startswith(
        "error: the connection was stored, but its test failed: WordPress refused"
    )
    assert "wrong pass word" not in result.output
    [connection] = listed(cli)
    assert (
        connection["status"] == "error"
        and "invalid application password" in connection["status_message"]
    )
    assert "error" in cli("connections").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("connect", "monday"),
            "error: give --credentials JSON (the app's connection fields) or --sandbox.",
        ),
        (("connect", "monday", "--credentials", "{bad"), "error: --credentials is not valid JSON"),
        (
            ("connect", "monday", "--credentials", "[1]"),
            "error: --credentials must be a JSON object",
        ),
        (("connect", "monday", "--credentials", "{}"), "api_token"),
        (("connect", "nosuchapp", "--sandbox"), "error: There is no app 'nosuchapp'"),
        (("connect", "http", "--sandbox"), "error: HTTP needs no connection"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    cli: Any, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert listed(cli) == []


def test_help_documents_the_commands(cli: Any) -> None:
    assert "--sandbox" in cli("connect", "--help").stdout
    assert "--json" in cli("connections", "--help").stdout
