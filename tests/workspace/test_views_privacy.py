"""Headless tests of Settings → data retention, your data, and the right to erasure."""

from __future__ import annotations

import zipfile
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import ConfigurationError, InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

SUBJECT = "grace.hopper@example.org"
FLOW = (
    "name: Signups\ncells:\n  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
    "  - {id: set, kind: transformer, app: formatter, operation: set_fields,"
    ' inputs: {fields: {who: "{{ trigger.email }}"}}}\n'
)


async def test_the_settings_page_shows_the_policy_and_the_last_run(svc: Any, user: Any) -> None:
    from workspace.views.settings import SettingsPage

    page = SettingsPage(svc, user, nav=lambda *a: None)
    shown = page.privacy.policy_box.object
    assert f"{svc.settings.retention_days} days" in shown and "has not run yet" in shown
    assert page.privacy.state.policy["own"] is False
    with pytest.raises(ConfigurationError):
        await page.privacy.state.sweep()  # not an administrator
    admin = svc.accounts.create_user("root@example.com", is_admin=True)
    from workspace.views.privacy import PrivacyState

    assert await PrivacyState(svc, admin).sweep() == 0
    page.privacy.state.refresh()
    assert (
        "Last run" in page.privacy.policy_box.object
        and "0 deleted" in page.privacy.policy_box.object
    )


async def test_a_user_downloads_their_data_and_deletes_their_account(svc: Any, user: Any) -> None:
    from workspace.views.privacy import PrivacyState

    scenario = svc.import_scenario(user.id, documents.loads(FLOW))
    await svc.run_now(user.id, scenario.id, {"email": SUBJECT})
    state = PrivacyState(svc, user)
    with zipfile.ZipFile(state.export()) as archive:
        assert "manifest.json" in archive.namelist()
        assert SUBJECT in archive.read("executions.jsonl").decode()

    with pytest.raises(InvalidInputError, match="Type your e-mail address"):
        await state.delete_account("not-me@example.com")
    assert svc.accounts.get_user(user.id) is not None
    counts = await state.delete_account(f" {user.email.upper()} ")
    assert counts["scenarios"] == 1 and state.deleted
    assert svc.accounts.get_user(user.id) is None


async def test_an_admin_finds_and_erases_a_value_and_sets_a_users_period(
    svc: Any, user: Any
) -> None:
    from workspace.views.privacy import PrivacyState

    admin = svc.accounts.create_user("root@example.com", is_admin=True)
    scenario = svc.import_scenario(user.id, documents.loads(FLOW))
    run = await svc.run_now(user.id, scenario.id, {"email": SUBJECT})
    with pytest.raises(ConfigurationError):
        await PrivacyState(svc, user).search(SUBJECT)
    state = PrivacyState(svc, admin)
    with pytest.raises(InvalidInputError, match="Search for the value first"):
        await state.erase()

    assert await state.search(SUBJECT) == 1
    assert [m["id"] for m in state.matches] == [run["id"]]
    result = await state.erase()

    assert (result.executions, state.found, state.searched) == (1, 0, "")
    assert await state.search(SUBJECT) == 0
    assert svc.execution(None, run["id"])["trigger"] == {"email": "[erased]"}

    state.set_policy(user.email, " 7 ", "")  # as typed into the form
    assert PrivacyState(svc, user).policy["retention_days"] == 7
    with pytest.raises(InvalidInputError, match="No user"):
        state.set_policy("nobody@example.com", 7, None)
    with pytest.raises(InvalidInputError, match="'a week' is not a number of days"):
        state.set_policy(user.email, "a week", None)
