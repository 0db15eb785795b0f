"""Stripe connections: a secret key or a restricted key, sent as ``Authorization: Bearer``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.sdk import ApiKeyAuth, OperationContext, UpstreamError, secret_value
from connectors.stripe.api import call

KEY = re.compile(r"^(sk|rk)_(live|test)_\w+$")


class StripeKeyFields(BaseModel):
    """The key from Dashboard → Developers → API keys."""

    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr = Field(
        description="A secret key (sk_live_… / sk_test_…) or a restricted key (rk_live_… "
        "/ rk_test_…). A restricted key needs write access to what your scenarios create, "
        "and to Webhook Endpoints for instant triggers.",
    )

    @field_validator("api_key")
    @classmethod
    def _looks_like_a_key(cls, value: SecretStr) -> SecretStr:
        if not KEY.match(value.get_secret_value()):
            raise ValueError(
                "a Stripe secret or restricted key starts with sk_live_, sk_test_, "
                "rk_live_ or rk_test_"
            )
        return value


async def test(ctx: OperationContext) -> Mapping[str, Any]:
    """``GET /v1/account`` names the connection; a restricted key without Account
    read falls back to the balance."""
    mode = "test" if "_test_" in secret_value(ctx.credentials.get("api_key")) else "live"
    try:
        account = await call(ctx, "GET", "/v1/account")
    except UpstreamError as exc:
        if exc.status != 403:
            raise
        await call(ctx, "GET", "/v1/balance")
        return {"label": f"Stripe ({mode} mode, restricted key)"}
    settings = account.get("settings") or {}
    profile = account.get("business_profile") or {}
    name = (
        (settings.get("dashboard") or {}).get("display_name")
        or profile.get("name")
        or account.get("email")
        or account["id"]
    )
    return {"label": f"{name} ({mode} mode)", "account_id": account["id"]}


stripe_auth = ApiKeyAuth(fields=StripeKeyFields, test=test, label_template="{label}")
