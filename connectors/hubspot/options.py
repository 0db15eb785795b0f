"""Where HubSpot fields' choices come from: owners, deal pipelines and their stages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors.hubspot.api import MAX_PAGES, PAGE_LIMIT, VERSION, next_after
from connectors.sdk import OperationContext, Option, OptionSource


async def owners(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /crm/owners/2026-03`` (https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide.md),
    following ``paging.next.after``."""
    found: list[Option] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE_LIMIT, **({"after": after} if after else {})}
        page = await ctx.http.get(f"/crm/owners/{VERSION}", params=params)
        for owner in page.get("results") or []:
            name = (
                " ".join(str(n) for n in (owner.get("firstName"), owner.get("lastName")) if n)
                or "(no name)"
            )
            email = f" <{owner['email']}>" if owner.get("email") else ""
            found.append(Option(value=str(owner["id"]), label=f"{name}{email}"))
        after = next_after(page)
        if after is None:
            break
    return found


async def pipelines(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /crm/pipelines/2026-03/deals`` (https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide)."""
    page = await ctx.http.get(f"/crm/pipelines/{VERSION}/deals")
    ordered = sorted(
        page.get("results") or [], key=lambda p: (p.get("displayOrder", 0), str(p.get("label")))
    )
    return [
        Option(value=str(p["id"]), label=f"{p.get('label')} ({p['id']})")
        for p in ordered
        if not p.get("archived")
    ]


async def deal_stages(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /crm/pipelines/2026-03/deals/{pipelineId}/stages``."""
    pipeline = quote(str(values["pipeline"]), safe="")
    page = await ctx.http.get(f"/crm/pipelines/{VERSION}/deals/{pipeline}/stages")
    ordered = sorted(page.get("results") or [], key=lambda st: st.get("displayOrder", 0))
    return [
        Option(value=str(st["id"]), label=f"{st.get('label')} ({st['id']})")
        for st in ordered
        if not st.get("archived")
    ]


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="owners", name="HubSpot owners", fetch=owners),
    OptionSource(key="pipelines", name="deal pipelines", fetch=pipelines),
    OptionSource(
        key="deal_stages",
        name="stages of the pipeline",
        fetch=deal_stages,
        needs=("pipeline",),
        example={"pipeline": "default"},
    ),
)
