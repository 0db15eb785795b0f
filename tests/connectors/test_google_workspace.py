"""Google Workspace: the connection (OAuth refresh, revocation, scopes, quota) and Sheets,
against the sandbox account."""

from __future__ import annotations

import pytest

from connectors.google_workspace import api
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.auth import SANDBOX_CREDENTIALS, who_am_i
from connectors.google_workspace.sandbox_seed import SPREADSHEET_ID
from connectors.google_workspace.sheets import changes
from connectors.sdk import AuthExpiredError, InvalidInputError, RateLimitedError, UpstreamError
from connectors.sdk.oauth import authorization_url
from tests.connectors import google_helpers
from tests.connectors.google_helpers import CLIENT, Google, connect, expired, poll, run

fresh_rotations = google_helpers.fresh_rotations  # an autouse fixture
waits = google_helpers.waits  # a fixture

ORDERS = {"spreadsheet_id": SPREADSHEET_ID, "sheet": "Orders"}


@pytest.fixture
def google() -> Google:
    return connect()


def rows(google: Google) -> list[list[str]]:
    rows_: list[list[str]] = google.account.sheets[SPREADSHEET_ID][0]["rows"]
    return rows_


# -- the connection --------------------------------------------------------------------------


async def test_the_connection_test_names_the_google_account(google: Google) -> None:
    assert await who_am_i(google.ctx) == {
        "label": sb.EMAIL,
        "email": sb.EMAIL,
        "google_user_id": "108000000000000000001",
    }


def test_sign_in_asks_for_offline_access_and_keeps_granted_scopes() -> None:
    from connectors.google_workspace import app
    from connectors.sdk.oauth import OAuthClient

    url = authorization_url(
        app.auth,
        OAuthClient("id.apps.googleusercontent.com", "s", "https://cw.example/oauth/callback"),  # type: ignore[arg-type]
        "state-1",
        "v" * 64,
    )
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    for part in (
        "access_type=offline",
        "prompt=consent",
        "include_granted_scopes=true",
        "code_challenge_method=S256",
        "gmail.compose",
        "spreadsheets",
        "calendar",
        "drive",
    ):
        assert part in url


async def test_an_access_token_near_its_hour_is_refreshed_before_the_call() -> None:
    google = connect(credentials=expired())
    result = await run(google, "sheets_lookup_row", **ORDERS, column="Order", value="#1001")
    assert result["found"]
    assert (
        google.paths()[0] == "POST oauth2.googleapis.com/token"
    )  # refreshed first, no 401 round trip
    [saved] = google.saved
    assert (
        saved["access_token"].startswith("ya29.sandbox-")
        and saved["refresh_token"] == SANDBOX_CREDENTIALS["refresh_token"]
    )
    assert saved["expires_at"] > 3000 + __import__("time").time()  # Google's hour (3599 s)


async def test_an_access_token_google_expired_early_is_refreshed_on_401(google: Google) -> None:
    await google.control("expire_tokens")
    assert (await run(google, "sheets_lookup_row", **ORDERS, column="A", value="#1002"))[
        "row_number"
    ] == 3
    assert [p.split(" ")[1] for p in google.paths()][:3] == [
        f"sheets.googleapis.com/v4/spreadsheets/{SPREADSHEET_ID}/values/'Orders'",
        "oauth2.googleapis.com/token",
        f"sheets.googleapis.com/v4/spreadsheets/{SPREADSHEET_ID}/values/'Orders'",
    ]


async def test_a_revoked_refresh_token_asks_to_reconnect() -> None:
    google = connect(credentials=expired())
    await google.control("expire_tokens")
    sb.account(
        google.sandbox
    ).refresh_tokens.clear()  # the user removed Cellwright's access at myaccount.google.com
    with pytest.raises(AuthExpiredError) as caught:
        await run(google, "sheets_lookup_row", **ORDERS, column="A", value="x")
    assert (
        "invalid_grant" in caught.value.message
        and "Reconnect the connection" in caught.value.message
    )
    assert SANDBOX_CREDENTIALS["refresh_token"] not in str(caught.value.to_dict())


async def test_a_revoked_token_through_googles_revoke_endpoint_is_refused_too() -> None:
    google = connect(credentials=expired())
    response = await google.ctx.http.request(
        "POST",
        "https://oauth2.googleapis.com/revoke",
        params={"token": SANDBOX_CREDENTIALS["refresh_token"]},
        auth=None,
    )
    assert response.status_code == 200
    with pytest.raises(AuthExpiredError, match="Reconnect"):
        await run(google, "sheets_lookup_row", **ORDERS, column="A", value="x")


async def test_without_an_oauth_client_a_refused_token_asks_to_reconnect() -> None:
    google = connect(client=None)
    await google.control("expire_tokens")
    with pytest.raises(AuthExpiredError, match="cannot be refreshed"):
        await run(google, "sheets_lookup_row", **ORDERS, column="A", value="x")


async def test_a_scope_the_user_did_not_grant_says_which_service_to_allow() -> None:
    google = connect()
    token = (await google.control("tokens", scopes=["spreadsheets"]))["access_token"]
    limited = connect(google.sandbox, {**SANDBOX_CREDENTIALS, "access_token": token})
    assert (await run(limited, "sheets_lookup_row", **ORDERS, column="A", value="#1001"))["found"]
    with pytest.raises(UpstreamError) as caught:
        await who_am_i(limited.ctx)
    assert caught.value.status == 403 and not caught.value.retryable
    assert "insufficient scope" in caught.value.message and "Reconnect" in caught.value.message


@pytest.mark.parametrize(
    ("status", "reason"), [(429, None), (403, "rateLimitExceeded"), (403, "userRateLimitExceeded")]
)
async def test_quota_errors_back_off_then_succeed(
    google: Google, waits: list[float], status: int, reason: str | None
) -> None:
    await google.control("quota", times=2, status=status, reason=reason)
    result = await run(
        google, "sheets_lookup_row", **ORDERS, column="Customer", value="alan turing"
    )
    assert result["row_number"] == 4
    assert len(waits) == 2 and 1 <= waits[0] < 2 <= waits[1] < 3  # exponential, with jitter


async def test_quota_errors_that_last_become_a_retryable_rate_limit(
    google: Google, waits: list[float]
) -> None:
    await google.control("quota", times=10, status=403, reason="rateLimitExceeded")
    with pytest.raises(RateLimitedError) as caught:
        await run(google, "sheets_lookup_row", **ORDERS, column="A", value="x")
    assert caught.value.retryable and "quota exceeded (rateLimitExceeded)" in caught.value.message
    assert len(waits) == api.BACKOFF_TRIES and max(waits) <= api.BACKOFF_MAX_SECONDS


async def test_an_unknown_api_version_is_a_clear_404(google: Google) -> None:
    with pytest.raises(UpstreamError) as caught:
        await api.call(google.ctx, "GET", "https://sheets.googleapis.com/v3/spreadsheets/x")
    assert caught.value.status == 404 and not caught.value.retryable


def test_only_googles_hosts_are_allowed() -> None:
    from connectors.google_workspace import app

    assert set(app.allowed_hosts) == {
        "sheets.googleapis.com",
        "gmail.googleapis.com",
        "www.googleapis.com",
        "oauth2.googleapis.com",
    }


# -- Sheets actions -----------------------------------------------------------------------------


async def test_append_row_adds_the_cells_below_the_last_row(google: Google) -> None:
    result = await run(
        google,
        "sheets_append_row",
        **ORDERS,
        values=["#1004", "Edsger", "e@example.com", 99.5, True, None],
    )
    assert result["row_number"] == 5 and result["updated_range"] == "Orders!A5:F5"
    assert result["columns"] == {
        "Order": "#1004",
        "Customer": "Edsger",
        "Email": "e@example.com",
        "Total": "99.5",
        "Status": "TRUE",
        "F": "",
    }
    assert rows(google)[4] == ["#1004", "Edsger", "e@example.com", "99.5", "TRUE", ""]


async def test_append_row_by_column_header_puts_each_value_under_its_header(google: Google) -> None:
    result = await run(
        google, "sheets_append_row", **ORDERS, columns={"email": "k@example.com", "Order": "#1005"}
    )
    assert rows(google)[4] == ["#1005", "", "k@example.com"]
    assert result["columns"]["Email"] == "k@example.com"


async def test_a_column_the_sheet_does_not_have_is_named_in_the_error(google: Google) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await run(google, "sheets_append_row", **ORDERS, columns={"Phone": "123"})
    assert (
        "no column 'Phone'" in caught.value.message and caught.value.errors[0]["field"] == "columns"
    )
    assert "Order, Customer, Email, Total, Status" in caught.value.message


def test_a_row_needs_values_or_columns() -> None:
    from pydantic import ValidationError

    from connectors.google_workspace import app

    with pytest.raises(ValidationError, match="values .* or as columns"):
        app.action("sheets_append_row").input.model_validate(ORDERS)


async def test_update_row_by_column_keeps_the_other_cells(google: Google) -> None:
    result = await run(
        google, "sheets_update_row", **ORDERS, row_number=3, columns={"Status": "Paid"}
    )
    assert rows(google)[2] == ["#1002", "Grace Hopper", "grace@example.com", "75.50", "Paid"]
    assert result["updated_range"] == "Orders!A3:E3" and result["row_number"] == 3


async def test_update_row_with_values_overwrites_from_column_a(google: Google) -> None:
    await run(
        google,
        "sheets_update_row",
        **ORDERS,
        row_number=2,
        values=["#1001", "Ada King"],
        value_input="RAW",
    )
    assert rows(google)[1][:3] == ["#1001", "Ada King", "ada@example.com"]


async def test_lookup_row_finds_by_header_or_letter_and_reports_no_match(google: Google) -> None:
    paid = await run(
        google, "sheets_lookup_row", **ORDERS, column="status", value=" PAID ", all_matches=True
    )
    assert [m["row_number"] for m in paid["matches"]] == [2, 4] and paid["row_number"] == 2
    assert paid["columns"]["Customer"] == "Ada Lovelace"
    assert (await run(google, "sheets_lookup_row", **ORDERS, column="B", value="Grace Hopper"))[
        "row_number"
    ] == 3
    none = await run(
        google, "sheets_lookup_row", **ORDERS, column="Email", value="nobody@example.com"
    )
    assert none == {"found": False, "row_number": None, "values": [], "columns": {}, "matches": []}
    with pytest.raises(InvalidInputError) as caught:
        await run(google, "sheets_lookup_row", **ORDERS, column="Phone", value="1")
    assert caught.value.errors[0]["field"] == "column"


async def test_a_sheet_that_does_not_exist_is_a_clear_error(google: Google) -> None:
    with pytest.raises(UpstreamError, match="Unable to parse range"):
        await run(
            google,
            "sheets_lookup_row",
            spreadsheet_id=SPREADSHEET_ID,
            sheet="Nope",
            column="A",
            value="x",
        )


async def test_sheet_names_with_spaces_and_quotes_are_quoted(google: Google) -> None:
    google.account.sheets[SPREADSHEET_ID].append(
        {"sheetId": 7, "title": "Ada's list", "rows": [["Name"], ["x"]]}
    )
    result = await run(
        google, "sheets_append_row", spreadsheet_id=SPREADSHEET_ID, sheet="Ada's list", values=["y"]
    )
    assert result["updated_range"] == "'Ada''s list'!A3:A3"


# -- Sheets triggers ---------------------------------------------------------------------------


def test_row_changes_tell_inserts_from_edits() -> None:
    assert changes(["a", "b", "c"], ["a", "x", "b", "c"]) == [(1, "new")]
    assert changes(["a", "b", "c"], ["a", "B", "c"]) == [(1, "updated")]
    assert changes(["a", "b", "c"], ["a", "c"]) == []  # a deleted row is no event
    assert changes(["a", "b"], ["A", "B", "c"]) == [(0, "updated"), (1, "updated"), (2, "new")]


async def test_new_row_fires_for_appended_and_inserted_rows_only(google: Google) -> None:
    sample, cursor = await poll(google, "sheets_new_row", **ORDERS)
    assert [i["row_number"] for i in sample] == [
        2,
        3,
        4,
    ]  # the first check: a baseline (the engine fires nothing)
    rows(google).insert(
        2, ["#1001b", "Inserted", "i@example.com", "1", "Paid"]
    )  # between Ada and Grace
    rows(google).append(["#1004", "Appended", "a@example.com", "2", "Paid"])
    rows(google)[1][4] = "Refunded"  # an edit: not a new row
    items, cursor = await poll(google, "sheets_new_row", cursor, **ORDERS)
    assert [(i["row_number"], i["values"][1], i["change"]) for i in items] == [
        (3, "Inserted", "new"),
        (6, "Appended", "new"),
    ]
    assert items[0]["columns"]["Customer"] == "Inserted"
    again, _ = await poll(google, "sheets_new_row", cursor, **ORDERS)
    assert again == []


async def test_new_or_updated_row_fires_for_edits_too(google: Google) -> None:
    _, cursor = await poll(google, "sheets_new_or_updated_row", **ORDERS)
    rows(google)[2][4] = "Paid"
    rows(google).append(["#1004", "New", "n@example.com"])
    rows(google).append(["", "", ""])  # a blank row is no event
    items, cursor = await poll(google, "sheets_new_or_updated_row", cursor, **ORDERS)
    assert [(i["row_number"], i["change"]) for i in items] == [(3, "updated"), (5, "new")]
    assert items[0]["columns"]["Status"] == "Paid" and items[0]["row_hash"] != items[1]["row_hash"]


async def test_a_row_trigger_pointed_at_another_sheet_starts_a_new_baseline(google: Google) -> None:
    _, cursor = await poll(google, "sheets_new_row", **ORDERS)
    google.account.sheets[SPREADSHEET_ID][1]["rows"] = [["Order"], ["#1"]]
    items, cursor2 = await poll(
        google, "sheets_new_row", cursor, spreadsheet_id=SPREADSHEET_ID, sheet="Archive"
    )
    assert [i["row_number"] for i in items] == [2] and cursor2["sheet"].endswith("/Archive")


async def test_the_refresh_uses_the_operators_client_credentials() -> None:
    google = connect(credentials=expired())
    await run(google, "sheets_lookup_row", **ORDERS, column="A", value="x")
    token_call = google.transport.requests[0]
    assert (
        b"client_id=" + CLIENT.client_id.encode() in token_call.content
        and b"grant_type=refresh_token" in token_call.content
    )
