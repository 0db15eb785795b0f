"""deploy/ and scripts/cluster name commands and options the `cellwright` CLI has."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import click
import yaml

from workspace.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def check_command(argv: list[str]) -> None:
    """``cellwright <command> [--option value…]``: the command and its options exist."""
    assert argv[0].endswith("cellwright"), argv
    command = main.commands.get(argv[1])
    assert isinstance(command, click.Command), f"no command `cellwright {argv[1]}`"
    known = {opt for param in command.params for opt in param.opts}
    for word in argv[2:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"`cellwright {argv[1]}` has no option {word}"


def test_the_compose_file_is_valid_and_runs_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "scheduler"}
    commands = {name: services[name]["command"] for name in ("web", "worker", "scheduler")}
    assert [argv[1] for argv in commands.values()] == ["serve", "worker", "scheduler"]
    for argv in commands.values():
        check_command(argv)
    for name in commands:  # the anchor gave each the same store and broker
        env = services[name]["environment"]
        assert env["CELLWRIGHT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["CELLWRIGHT_BROKER_URL"].startswith("redis://redis:")
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    assert (ROOT / services["web"]["build"]["context"].replace("..", ".")).is_dir()
    assert (DEPLOY / "Dockerfile").is_file()
    assert (DEPLOY / "cellwright.env.example").is_file()


def test_the_systemd_units_run_real_commands() -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [u.name for u in units] == [
        "cellwright-scheduler.service",
        "cellwright-web.service",
        "cellwright-worker@.service",
    ]
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        check_command(shlex.split(parser["Service"]["ExecStart"]))


def test_the_cluster_script_starts_real_commands() -> None:
    script = (ROOT / "scripts" / "cluster").read_text()
    started = re.findall(r"uv run --frozen cellwright (\w+)", script)
    assert sorted(set(started)) == ["scheduler", "serve", "worker"]
    for name in started:
        assert name in main.commands
