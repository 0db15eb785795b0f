"""Apps loaded from configuration (``CELLWRIGHT_EXTRA_APPS``) and from installed entry
points (group ``cellwright.apps``): real modules and a real dist-info on ``sys.path``."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.extra_apps import ENTRY_POINT_GROUP, registry_for
from connectors.registry import APPS, default_registry
from connectors.sdk import ConfigurationError
from engine.service import Cellwright
from engine.settings import Settings

APP_SOURCE = """
from pydantic import BaseModel, Field

from connectors.sdk import Action, App


class Pong(BaseModel):
    pong: bool = Field(description="Always true.")


async def ping(ctx, inputs):
    return {"pong": True}


def make(key, name="Acme", sample=None):
    action = Action(
        key="ping",
        name="Ping",
        description="Answers pong, to try the app.",
        output=Pong,
        sample=sample or {"pong": True},
        perform=ping,
    )
    return App(
        key=key,
        name=name,
        description="An app installed beside Cellwright.",
        category="Testing",
        actions=(action,),
    )
"""

Write = Callable[[str, str], None]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Write]:
    """Write ``<name>.py`` into a folder on ``sys.path``; forget the modules afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    written: list[str] = []

    def write(name: str, source: str) -> None:
        path = folder / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        written.append(name)

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def acme(write_module: Write) -> None:
    write_module("acme_base", APP_SOURCE)
    write_module(
        "acme_apps",
        """
        from acme_base import make

        app = make("acme_crm", "Acme CRM")
        apps = [make("acme_one", "Acme One"), make("acme_two", "Acme Two")]
        nested = type("Holder", (), {"app": make("acme_nested")})
        clash = make("slack", "My Slack")
        not_an_app = {"key": "acme"}
        mixed = [make("acme_three"), "acme_four"]
        empty = []
        bad_sample = make("acme_bad", sample={"pong": "not a bool"})
        bad_key = make("Acme-CRM")
        dup_one = [make("acme_dup")]
        dup_two = make("acme_dup")
    """,
    )


def load(*entries: str) -> list[str]:
    registry = registry_for(list(entries), installed=False)
    return [key for key in registry.keys() if key not in default_registry()]


# -- loading ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("acme")
def test_an_app_a_list_and_a_nested_attribute_load_after_the_shipped_apps() -> None:
    registry = registry_for(
        ["acme_apps:app", "acme_apps:apps", "acme_apps:nested.app"], installed=False
    )
    assert registry.keys() == [
        *(a.key for a in APPS),
        "acme_crm",
        "acme_one",
        "acme_two",
        "acme_nested",
    ]
    assert registry.get("acme_crm").name == "Acme CRM"
    assert default_registry().keys() == [a.key for a in APPS], "the shipped registry is left alone"


def test_no_extras_is_the_cached_shipped_registry() -> None:
    assert registry_for([], installed=False) is default_registry()
    assert (
        registry_for([]) is default_registry()
    )  # no cellwright.apps entry points are installed here


@pytest.mark.usefixtures("acme")
def test_the_same_app_named_twice_loads_once() -> None:
    assert load("acme_apps:app", "acme_apps:app") == ["acme_crm"]


# -- errors name the entry and what to do ------------------------------------------------------


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "nope_not_installed:app",
            r"CELLWRIGHT_EXTRA_APPS entry 'nope_not_installed:app' names the module "
            r"'nope_not_installed', which is not installed\. Install",
        ),
        ("acme_apps.sub:app", r"names the module 'acme_apps\.sub', which is not installed"),
        (
            "acme_apps:missing",
            r"entry 'acme_apps:missing': "
            r"the module 'acme_apps' has no attribute 'missing'\. Name the App",
        ),
        ("acme_apps:nested.missing", r"has no attribute 'nested\.missing'"),
        (
            "acme_apps:not_an_app",
            r"entry 'acme_apps:not_an_app' names a dict \(\{'key': 'acme'\}\), not an App\. "
            r"It must name an App",
        ),
        ("acme_apps:mixed", r"names a list holding a str \('acme_four'\), not an App"),
        ("acme_apps:empty", r"names an empty list, not an App"),
        (
            "acme_apps:clash",
            r"entry 'acme_apps:clash' defines the app 'slack', "
            r"which is the key of an app Cellwright ships\. Give your app another key",
        ),
        (
            "acme_apps:bad_sample",
            r"The app 'acme_bad' from the .* does not pass Cellwright's app checks: "
            r"acme_bad\.ping: its sample does not fit its output model",
        ),
        ("acme_apps:bad_key", r"its key 'Acme-CRM' is not snake_case"),
        (
            "acme_apps",
            r"entry 'acme_apps' is not 'module:attribute'\. Name the module and the App in it",
        ),
        (":app", r"is not 'module:attribute'"),
    ],
)
def test_a_bad_entry_is_a_configuration_error_naming_it(entry: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        load(entry)


@pytest.mark.usefixtures("acme")
def test_two_extras_with_one_key_are_refused() -> None:
    with pytest.raises(
        ConfigurationError,
        match=(
            r"entry 'acme_apps:dup_two' and the CELLWRIGHT_EXTRA_APPS entry 'acme_apps:dup_one' "
            r"both define an app with the key 'acme_dup'"
        ),
    ):
        load("acme_apps:dup_one", "acme_apps:dup_two")


def test_a_module_that_fails_while_importing(write_module: Write) -> None:
    write_module("acme_broken", "raise RuntimeError('the Acme key is missing')\n")
    with pytest.raises(
        ConfigurationError,
        match=(
            r"the module 'acme_broken' failed while importing \(RuntimeError: "
            r"the Acme key is missing\)\. Fix the module"
        ),
    ):
        load("acme_broken:app")
    write_module("acme_needs", "import acme_dependency_not_installed\n")
    with pytest.raises(
        ConfigurationError,
        match=(
            r"the module 'acme_needs' needs 'acme_dependency_not_installed', "
            r"which is not installed"
        ),
    ):
        load("acme_needs:app")


def test_an_app_its_own_constructor_refuses(write_module: Write) -> None:
    write_module(
        "acme_twice",
        """
        from connectors.sdk import ApiKeyAuth, App

        app = App(
            key="acme_twice",
            name="Twice",
            description="Two key kinds.",
            category="Testing",
            auth=ApiKeyAuth(),
            other_auth=(ApiKeyAuth(),),
        )
    """,
    )
    with pytest.raises(
        ConfigurationError,
        match=(
            r"failed while importing \(ConfigurationError: App 'acme_twice' declares two "
            r"'api_key' auth kinds"
        ),
    ):
        load("acme_twice:app")


# -- entry points of installed packages ----------------------------------------------------------


def install_distribution(folder: Path, entry_points: str) -> None:
    """A minimal installed distribution (what pip
    writes), found by importlib.metadata on sys.path."""
    info = folder / "acme_cellwright-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-cellwright\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{entry_points}\n", encoding="utf-8"
    )


@pytest.mark.usefixtures("acme")
def test_entry_points_of_installed_packages_are_loaded(tmp_path: Path) -> None:
    install_distribution(tmp_path / "site", "crm = acme_apps:app\nmore = acme_apps:apps")
    registry = registry_for([])
    assert [k for k in registry.keys() if k not in default_registry()] == [
        "acme_crm",
        "acme_one",
        "acme_two",
    ]
    assert registry_for([], installed=False) is default_registry()


@pytest.mark.usefixtures("acme")
def test_a_bad_entry_point_names_its_package(tmp_path: Path) -> None:
    install_distribution(tmp_path / "site", "crm = acme_apps:clash")
    with pytest.raises(
        ConfigurationError,
        match=(
            r"entry point 'crm = acme_apps:clash' \(group cellwright\.apps\) of the package "
            r"'acme-cellwright' defines the app 'slack'"
        ),
    ):
        registry_for([])


# -- the setting, the service and the CLI ----------------------------------------------------------


def test_the_setting_reads_comma_separated_entries_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELLWRIGHT_EXTRA_APPS", " acme_apps:app , acme_apps.crm:apps,")
    assert Settings(_env_file=None).extra_apps == ["acme_apps:app", "acme_apps.crm:apps"]  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_EXTRA_APPS", json.dumps(["acme_apps:app"]))
    assert Settings(_env_file=None).extra_apps == ["acme_apps:app"]  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_EXTRA_APPS", "")
    assert Settings(_env_file=None).extra_apps == []  # type: ignore[call-arg]
    monkeypatch.setenv("CELLWRIGHT_EXTRA_APPS", "[acme_apps:app")
    with pytest.raises(ValueError, match="not a JSON list"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.usefixtures("acme")
def test_the_service_uses_the_extra_apps(make_settings: Callable[..., Settings]) -> None:
    svc = Cellwright(make_settings(extra_apps=["acme_apps:app"]))
    try:
        assert "acme_crm" in svc.apps and "slack" in svc.apps
        assert "acme_crm" in [row.id for row in svc.store.list_apps()]
    finally:
        svc.close()
    plain = Cellwright(make_settings())
    try:
        assert plain.apps is default_registry()
    finally:
        plain.close()


@pytest.mark.usefixtures("acme")
def test_the_cli_catalog_lists_only_the_shipped_apps_and_serve_refuses_a_bad_entry(
    tmp_path: Path,
) -> None:
    from workspace.cli import main

    runner = CliRunner()
    listed = runner.invoke(
        main,
        ["apps", "--json"],
        env={"CELLWRIGHT_EXTRA_APPS": "acme_apps:app"},
        catch_exceptions=False,
    )
    assert listed.exit_code == 0 and [a["key"] for a in json.loads(listed.output)] == [
        a.key for a in APPS
    ]

    refused = runner.invoke(
        main,
        ["serve", "--no-demo", "--data-dir", str(tmp_path / "data")],
        env={"CELLWRIGHT_EXTRA_APPS": "acme_apps:clash"},
        catch_exceptions=False,
    )
    assert refused.exit_code == 2, refused.output
    assert (
        "error: The CELLWRIGHT_EXTRA_APPS entry 'acme_apps:clash' defines the app 'slack'"
        in refused.output
    )
    assert "Traceback" not in refused.output
