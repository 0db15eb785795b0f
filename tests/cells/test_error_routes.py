"""Error routes in the document model and in cells.flow."""

from __future__ import annotations

from typing import Any

import pytest

from cells import document as documents
from cells import flow
from cells.document import DocumentError
from cells.models import ERROR_ROUTE, ActionCell, ErrorRoute

HEAD = """\
name: Routes
cells:
  - {id: start, kind: trigger, app: manual, operation: run_manually}
"""


def post(route: str, after: str = "") -> str:
    return (
        HEAD
        + f"""\
  - id: post
    kind: action
    app: probe
    operation: count
    on_error:
{route}{after}"""
    )


NOTIFY = (
    "      cells:\n"
    "        - {id: notify, kind: action, app: probe, "
    "operation: count, inputs: {value: '{{ error.message }}'}}\n"
)


def problem(text: str) -> str:
    with pytest.raises(DocumentError) as caught:
        documents.loads(text)
    return str(caught.value)


def test_a_route_round_trips_and_plain_words_keep_their_meaning() -> None:
    text = post(
        NOTIFY + "      then: continue\n      fallback: {id: null}\n",
        "  - {id: after, kind: action, app: probe, "
        "operation: count, inputs: {value: '{{ steps.post.id }}'}}\n",
    )
    doc = documents.loads(text)
    cell = doc.find("post")
    assert isinstance(cell, ActionCell) and isinstance(cell.on_error, ErrorRoute)
    assert cell.on_error.fallback == {"id": None}
    dumped = documents.dump(doc)
    assert documents.dump(documents.loads(dumped)) == dumped
    assert "    - id: notify\n      kind: action\n" in dumped  # id and kind first
    assert [(c.id, p) for c, p in doc.walk()][2] == ("notify", (("post", ERROR_ROUTE),))
    rows = {r["cell_id"]: r for r in documents.node_rows(doc)}
    assert rows["post"]["config"] == {"on_error": {"then": "continue", "cells": ["notify"]}}
    assert (rows["notify"]["parent_cell_id"], rows["notify"]["branch"]) == ("post", ERROR_ROUTE)
    plain = documents.loads(
        HEAD + "  - {id: post, kind: action, app: probe, operation: count, on_error: continue}\n"
    )
    cell = plain.find("post")
    assert isinstance(cell, ActionCell) and cell.on_error == "continue"
    assert flow.continues_after_failure(cell) and flow.error_route(cell) is None


@pytest.mark.parametrize(
    ("route", "after", "message"),
    [
        (
            "      cells:\n        - {id: start, kind: action, app: probe, operation: count}\n",
            "",
            "two cells use the id 'start'",
        ),
        (
            "      cells:\n"
            "        - {id: t2, kind: trigger, app: manual, operation: run_manually}\n",
            "",
            "cells[1] (id 'post').on_error.cells[0] (id 't2').kind: cell 't2' is a trigger",
        ),
        (
            "      then: stop\n      fallback: 1\n",
            "",
            "it needs 'then: continue' (then is 'stop')",
        ),
        (
            "      then: later\n",
            "",
            "on_error.then: Input should be 'stop', 'handled' or 'continue'",
        ),
        (
            "      cells:\n"
            "        - {id: n, kind: action, app: probe, "
            "operation: count, inputs: {value: '{{ steps.after.x }}'}}\n",
            "  - {id: after, kind: action, app: probe, operation: count}\n",
            "cell 'n' refers to steps.after, which is not a cell that runs before it",
        ),
        (
            NOTIFY + "      then: handled\n",
            "  - {id: after, kind: action, app: probe, operation: count, "
            "inputs: {value: '{{ steps.notify.x }}'}}\n",
            "cell 'after' refers to steps.notify",
        ),
        (
            "      then: continue\n      fallback: '{{ steps.later.x }}'\n",
            "  - {id: later, kind: action, app: probe, operation: count}\n",
            "cells[1] (id 'post').on_error.fallback: cell 'post' refers to steps.later",
        ),
    ],
)
def test_bad_routes_are_refused_naming_the_place(route: str, after: str, message: str) -> None:
    assert message in problem(post(route, after))


def test_a_bad_word_is_refused_naming_on_error() -> None:
    text = HEAD + "  - {id: post, kind: action, app: probe, operation: count, on_error: explode}\n"
    assert "cells[1] (id 'post').on_error: Input should be 'fail' or 'continue'" in problem(text)


def test_route_cells_see_the_failing_cell_and_a_continued_run_sees_the_route() -> None:
    route = (
        "      cells:\n"
        "        - {id: notify, kind: action, app: probe, "
        "operation: count, inputs: {value: '{{ steps.post.error }}'}}\n"
        "      then: continue\n"
    )
    after = (
        "  - {id: after, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ steps.notify.calls | default(0) }}'}}\n"
    )
    documents.loads(post(route, after))  # no error


def plan_of(then: str, extra: str = "") -> tuple[Any, flow.Plan]:
    doc = documents.loads(
        post(
            NOTIFY + f"      then: {then}\n{extra}",
            "  - {id: after, kind: action, app: probe, operation: count}\n",
        )
    )
    return doc, flow.start(doc)


@pytest.mark.parametrize(
    ("then", "pending", "fails_with", "skipped"),
    [
        ("continue", ["notify", "after"], None, []),
        ("handled", ["notify"], None, ["after"]),
        ("stop", ["notify"], "post", ["after"]),
    ],
)
def test_flow_runs_the_route_then_does_what_then_says(
    then: str, pending: list[str], fails_with: str | None, skipped: list[str]
) -> None:
    doc, plan = plan_of(then)
    cells = flow.steps_by_id(doc)
    decision = flow.advance(plan, cells["post"], flow.FAILED)
    assert decision.effect == "error_route" and not decision.stops_run
    assert [p.cell_id for p in decision.plan.pending] == pending
    assert decision.plan.pending[0].scope == (("post", ERROR_ROUTE),)
    assert decision.plan.fails_with == fails_with
    assert [p.cell_id for p in decision.skipped] == skipped
    ends = {"continue": "the run continues", "handled": "as handled", "stop": "stops, failed"}
    assert decision.message.startswith("'post' failed: its error route runs, then")
    assert ends[then] in decision.message
    after = flow.advance(decision.plan, cells["notify"], flow.COMPLETED).plan
    assert after.fails_with == fails_with  # kept while the route's cells run
    assert flow.route_of(decision.plan.pending[0].scope) == "post"
    assert flow.route_of(()) is None


def test_flow_ignores_the_route_when_the_cell_succeeds() -> None:
    doc, plan = plan_of("stop")
    decision = flow.advance(plan, flow.steps_by_id(doc)["post"], flow.COMPLETED)
    assert [p.cell_id for p in decision.plan.pending] == ["after"]


def test_a_filter_in_a_route_stops_only_the_route() -> None:
    route = (
        "      cells:\n"
        "        - {id: gate, kind: condition, rules: {all: [{left: 1, op: equals, right: 2}]}}\n"
        "        - {id: notify, kind: action, app: probe, operation: count}\n"
        "      then: stop\n"
    )
    doc = documents.loads(
        post(route, "  - {id: after, kind: action, app: probe, operation: count}\n")
    )
    cells = flow.steps_by_id(doc)
    plan = flow.advance(flow.start(doc), cells["post"], flow.FAILED).plan
    decision = flow.advance(plan, cells["gate"], flow.Filtered(False))
    assert decision.plan.pending == () and decision.plan.fails_with == "post"
    assert "this branch stops here" in decision.message


def test_handled_inside_a_loop_ends_the_item() -> None:
    text = (
        HEAD
        + """\
  - id: each
    kind: loop
    items: [1]
    cells:
      - id: post
        kind: action
        app: probe
        operation: count
        on_error: {then: handled}
"""
    )
    doc = documents.loads(text)
    loop = doc.find("each")
    plan = flow.body(loop)  # type: ignore[arg-type]
    decision = flow.advance(plan, flow.steps_by_id(doc)["post"], flow.FAILED)
    assert "this item ends as handled" in decision.message


@pytest.mark.parametrize(
    ("route", "valid"),
    [
        ({"cells": [], "then": "continue", "fallback": {"id": None}}, True),
        ({"then": "handled"}, True),
        ({"then": "stop", "fallback": 1}, False),
        ({"fallback": 1}, False),
        ({"then": "later"}, False),
        ("explode", False),
    ],
)
def test_the_json_schema_says_what_an_error_route_allows(route: Any, valid: bool) -> None:
    import jsonschema

    doc = {
        "name": "x",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "post",
                "kind": "action",
                "app": "probe",
                "operation": "count",
                "on_error": route,
            },
        ],
    }
    errors = list(jsonschema.Draft202012Validator(documents.json_schema()).iter_errors(doc))
    assert (errors == []) is valid, errors
    if valid:
        documents.parse(doc)
    else:
        with pytest.raises(DocumentError):
            documents.parse(doc)


def test_a_loops_cells_include_its_cells_error_routes() -> None:
    from cells import loops
    from cells.models import LoopCell

    text = HEAD + (
        "  - id: each\n    kind: loop\n    items: [1]\n    cells:\n"
        "      - id: post\n        kind: action\n        app: probe\n        operation: count\n"
        "        on_error:\n          cells:\n"
        "            - {id: notify, kind: action, app: probe, operation: count}\n"
        "          then: continue\n"
    )
    loop = documents.loads(text).find("each")
    assert isinstance(loop, LoopCell)
    assert set(loops.cells_of(loop)) == {"post", "notify"}
    assert loops.body_ids(loop) == ("post", "notify")  # an item keeps the route's outputs


def routed_loop(then: str, fallback: Any = None) -> Any:
    from cells.models import LoopCell

    route: dict[str, Any] = {
        "cells": [
            {
                "id": "why",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {"code": "{{ error.code }}", "at": "{{ error.cell_id }}"}},
            }
        ],
        "then": then,
    }
    if fallback is not None:
        route["fallback"] = fallback
    data = {
        "name": "x",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "each",
                "kind": "loop",
                "items": "{{ trigger.items }}",
                "cells": [
                    {
                        "id": "pick",
                        "kind": "transformer",
                        "app": "formatter",
                        "operation": "set_fields",
                        "inputs": {"fields": {"v": "{{ item.ok.v }}"}},
                        "on_error": route,
                    },
                    {
                        "id": "use",
                        "kind": "transformer",
                        "app": "formatter",
                        "operation": "set_fields",
                        "inputs": {"fields": {"v": "{{ steps.pick.v }}"}},
                    },
                ],
            },
        ],
    }
    loop = documents.parse(data).find("each")
    assert isinstance(loop, LoopCell)
    return loop


ITEMS = {"trigger": {"items": [{"ok": {"v": 1}}, {}]}, "steps": {}}


async def run_loop_alone(loop: Any) -> Any:
    from cells.run import run_cell
    from tests.cells.test_loops import REGISTRY, make_context

    return await run_cell(
        loop, ITEMS, apps=REGISTRY, make_context=make_context, idempotency_key="k"
    )


async def test_run_cell_on_a_loop_follows_its_cells_error_routes() -> None:
    result = await run_loop_alone(routed_loop("continue", {"v": "none ({{ error.code }})"}))
    assert result.ok, result.error
    first, second = (item["steps"] for item in result.output["items"])
    assert first == {"pick": {"v": 1}, "use": {"v": 1}}
    assert second["why"] == {"code": "mapping_error", "at": "pick"}
    assert second["use"] == {"v": "none (mapping_error)"}
    stopped = await run_loop_alone(routed_loop("stop"))
    assert not stopped.ok and stopped.error is not None
    assert stopped.error["item"] == 1 and stopped.error["item_cell_id"] == "pick"
    broken = await run_loop_alone(routed_loop("continue", "{{ error.nope.deeper }}"))
    assert not broken.ok and broken.error is not None
    assert broken.error["item_cell_id"] == "pick" and broken.error["code"] == "mapping_error"
