"""``cellwright account``, ``cellwright privacy`` and ``cellwright retention``: GDPR from
the command line (an operator's tools: the CLI acts as the store's first administrator).

Registered on the main group by ``workspace.cli``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from workspace.cli import EXIT_INVALID, _app, _fail, _guard, _print_json, data_dir_option

if TYPE_CHECKING:
    from engine.service import Cellwright
    from storage import User

__all__ = ["account", "privacy", "retention"]


def _no_user(email: str) -> NoReturn:
    _fail(f"no user with the e-mail address {email!r} (see the workspace's Settings → Users)")
    raise AssertionError  # _fail exits


def _user_by_email(svc: Cellwright, email: str) -> User:
    user = svc.accounts.get_user_by_email(email.strip())
    return user if user is not None else _no_user(email)


@click.group()
def account() -> None:
    """A user's data: export it, delete the account."""


@account.command("export")
@click.option("--user", "email", required=True, help="The user's e-mail address.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip archive to write.",
)
@data_dir_option
@_guard
def account_export(email: str, output: Path, data_dir: Path | None) -> None:
    """Write everything the user owns to a zip archive (no secrets; README.md inside)."""
    with _app(data_dir) as svc:
        user = _user_by_email(svc, email)
        with output.open("wb") as out:
            counts = svc.privacy.export(user.id, out)
    summary = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    click.echo(f"Wrote {output}: {summary}.")


@account.command("delete")
@click.option("--user", "email", required=True, help="The user's e-mail address.")
@click.option("--yes", is_flag=True, help="Do not ask: the e-mail address confirms.")
@data_dir_option
@_guard
def account_delete(email: str, yes: bool, data_dir: Path | None) -> None:
    """Delete the user's account and every row of theirs (the audit trail keeps its
    entries under the former user id). The last administrator cannot be deleted."""
    with _app(data_dir) as svc:
        user = _user_by_email(svc, email)
        if not yes:
            typed = click.prompt(f"Type {email} to delete this account and all its data")
            if typed.strip().lower() != email.strip().lower():
                _fail("not deleted: the e-mail address typed does not match", EXIT_INVALID)
        admin = svc.local_user()
        counts = asyncio.run(svc.delete_account(admin, user.id))
    click.echo(f"Deleted {email}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n) + ".")


@click.group()
def privacy() -> None:
    """A data subject's right to erasure: find a value in every execution record, erase it."""


@privacy.command("search")
@click.argument("value")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@data_dir_option
@_guard
def privacy_search(value: str, limit: int, as_json: bool, data_dir: Path | None) -> None:
    """How many executions (any user's) hold VALUE in their records, and the first ones."""
    with _app(data_dir) as svc:
        total, shown = svc.privacy.find(value, limit=limit)
    if as_json:
        _print_json({"count": total, "executions": [m.to_dict() for m in shown]})
        return
    click.echo(f"{total} execution(s) hold this value.")
    for match in shown:
        click.echo(f"  {match.id}  {match.created_at:%Y-%m-%d %H:%M}  {match.status}")


@privacy.command("erase")
@click.argument("value")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
@_guard
def privacy_erase(value: str, yes: bool, data_dir: Path | None) -> None:
    """Replace VALUE with "[erased]" in every execution record and the analytics log."""
    with _app(data_dir) as svc:
        total, _ = svc.privacy.find(value, limit=0)
        if not yes and not click.confirm(f"Erase this value from {total} execution(s)?"):
            sys.exit(EXIT_INVALID)
        result = svc.privacy.erase(svc.local_user().id, value)
    click.echo(
        f"Erased from {result.executions} execution(s) and {result.cells} cell record(s) "
        "(audited with the value's SHA-256, not the value)."
    )


@click.group()
def retention() -> None:
    """How long executions are kept, and the sweep."""


@retention.command("run")
@data_dir_option
@_guard
def retention_run(data_dir: Path | None) -> None:
    """Delete the executions past their retention period now (the server also does, on
    a schedule)."""
    with _app(data_dir) as svc:
        deleted = svc.retention.run(svc.local_user().id)
    click.echo(f"Deleted {deleted} execution(s).")


@retention.command("set")
@click.option("--user", "email", required=True, help="The user's e-mail address.")
@click.option("--days", type=click.IntRange(1, 36_500), default=None, help="Empty: the server's.")
@click.option(
    "--failed-days",
    type=click.IntRange(1, 36_500),
    default=None,
    help="How long failed runs are kept; empty: the server's.",
)
@data_dir_option
@_guard
def retention_set(
    email: str, days: int | None, failed_days: int | None, data_dir: Path | None
) -> None:
    """Give a user their own retention periods (neither option: back to the server's)."""
    with _app(data_dir) as svc:
        user = _user_by_email(svc, email)
        policy = svc.retention.set_policy(
            svc.local_user().id,
            user.id,
            retention_days=days,
            retention_failed_days=failed_days,
        )
    click.echo(
        f"{email}: executions kept {policy.retention_days} days, failed ones "
        f"{policy.retention_failed_days} days{'' if policy.own else ' (the server default)'}."
    )
