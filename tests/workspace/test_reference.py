from pathlib import Path

from workspace.reference import render


def test_app_reference_is_generated_from_the_registry() -> None:
    """docs/apps.md must be regenerated when an app changes:
    python -m workspace.reference > docs/apps.md"""
    current = (Path(__file__).parents[2] / "docs" / "apps.md").read_text(encoding="utf-8")
    assert current == render(), (
        "docs/apps.md is stale: run `uv run python -m workspace.reference > docs/apps.md`"
    )


def test_reference_lists_every_operation() -> None:
    from connectors.registry import APPS

    text = render()
    for app in APPS:
        for op in (*app.triggers, *app.actions):
            assert f"`{app.key}.{op.key}`" in text
