"""Loop ("for each") and aggregate cells in the runner: recorded per item, resumable,
concurrency-limited, refused over the list-size limit."""

from __future__ import annotations

from typing import Any

from cells import document as documents
from connectors.sdk import NetworkError
from engine.service import Cellwright

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


async def run_text(
    svc: Cellwright, user: Any, text: str, payload: dict[str, Any], timeout: float = 10
) -> dict[str, Any]:  # noqa: ASYNC109
    saved = svc.import_scenario(user.id, documents.loads(text))
    result: dict[str, Any] = await svc.run_now(user.id, saved.id, payload, timeout=timeout)
    return result


LINES = """\
name: Lines
cells:
  - {id: start, kind: trigger, app: manual, operation: run_manually}
  - id: each
    kind: loop
    items: "{{ trigger.lines }}"
    cells:
      - id: post
        kind: action
        app: probe
        operation: count
        inputs: {value: "{{ item.sku }} x{{ item.qty }} (#{{ index }})"}
  - {id: total, kind: aggregate, loop: each, mode: sum, value: "{{ item.qty * item.price }}"}
  - id: texts
    kind: aggregate
    loop: each
    mode: join
    separator: " | "
    value: "{{ steps.post.value }}"
  - {id: all, kind: aggregate, loop: each, value: "{{ steps.post.calls }}"}
  - {id: many, kind: aggregate, loop: each, mode: count, value: "{{ item.qty > 1 }}"}
  - id: by_sku
    kind: aggregate
    loop: each
    mode: group
    key: "{{ item.sku }}"
    value: "{{ item.qty }}"
  - id: after
    kind: action
    app: probe
    operation: count
    inputs: {value: "{{ steps.total.result }}"}
"""

ORDER = {
    "lines": [
        {"sku": "A", "qty": 2, "price": 5},
        {"sku": "B", "qty": 1, "price": 7.5},
        {"sku": "A", "qty": 3, "price": 1},
    ]
}


def rows(result: dict[str, Any], cell_id: str) -> list[dict[str, Any]]:
    return [c for c in result["cells"] if c["cell_id"] == cell_id]


async def test_a_loop_runs_its_cells_per_item_and_records_each(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    result = await run_text(svc, user, LINES, ORDER)
    assert result["status"] == "completed", result["error"]
    assert probe.calls == {"post": 3, "after": 1}
    posts = rows(result, "post")
    assert [p["item"] for p in posts] == ["0", "1", "2"]
    assert [p["input"]["value"] for p in posts] == ["A x2 (#0)", "B x1 (#1)", "A x3 (#2)"]
    assert all(p["status"] == "completed" and p["duration_ms"] is not None for p in posts)
    # one summary per item on the loop's own row, then the loop's row
    each = rows(result, "each")
    assert [e["item"] for e in each] == ["0", "1", "2", None]
    assert each[1]["input"] == ORDER["lines"][1]
    assert each[1]["output"]["steps"]["post"]["value"] == "B x1 (#1)"
    assert each[-1]["input"] == {"count": 3, "concurrency": 1}
    assert each[-1]["output"]["count"] == 3
    assert [i["index"] for i in each[-1]["output"]["items"]] == [0, 1, 2]
    outputs = {c["cell_id"]: c["output"] for c in result["cells"] if c["item"] is None}
    assert outputs["total"] == {"result": 20.5, "count": 3}
    assert outputs["texts"]["result"] == "A x2 (#0) | B x1 (#1) | A x3 (#2)"
    assert outputs["all"]["result"] == [1, 2, 3]
    assert outputs["many"]["result"] == 2
    assert outputs["by_sku"]["result"] == {"A": [2, 3], "B": [1]}
    assert outputs["after"]["value"] == 20.5


async def test_each_item_gets_its_own_idempotency_key(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    result = await run_text(svc, user, LINES, ORDER)
    keys = [key for cell, key, _ in probe.keys if cell == "post"]
    assert len(set(keys)) == 3
    assert result["status"] == "completed"


NESTED = """\
name: Nested
cells:
  - {id: start, kind: trigger, app: manual, operation: run_manually}
  - id: orders
    kind: loop
    items: "{{ trigger.orders }}"
    cells:
      - id: lines
        kind: loop
        items: "{{ item.lines }}"
        cells:
          - id: post
            kind: action
            app: probe
            operation: count
            inputs:
              value: "{{ loops.orders.item.id }}/{{ loops.orders.index }}/{{ index }}:{{ item }}"
      - {id: order_sum, kind: aggregate, loop: lines, mode: sum}
  - {id: grand, kind: aggregate, loop: orders, mode: list, value: "{{ steps.order_sum.result }}"}
"""


async def test_nested_loops_record_item_paths_and_see_the_outer_item(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    payload = {"orders": [{"id": "o1", "lines": [1, 2]}, {"id": "o2", "lines": [10, 20, 30]}]}
    result = await run_text(svc, user, NESTED, payload)
    assert result["status"] == "completed", result["error"]
    posts = rows(result, "post")
    assert [p["item"] for p in posts] == ["0/0", "0/1", "1/0", "1/1", "1/2"]
    assert [p["output"]["value"] for p in posts] == [
        "o1/0/0:1",
        "o1/0/1:2",
        "o2/1/0:10",
        "o2/1/1:20",
        "o2/1/2:30",
    ]
    assert [r["item"] for r in rows(result, "lines") if r["item"] and "/" not in r["item"]] == [
        "0",
        "1",
    ]
    grand = rows(result, "grand")[0]["output"]
    assert grand == {"result": [3, 60], "count": 2}


async def test_items_run_at_most_concurrency_at_a_time_and_keep_their_order(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = (
        "name: C\ncells:\n" + MANUAL + "  - id: each\n    kind: loop\n    concurrency: 3\n"
        '    items: "{{ trigger.n }}"\n    cells:\n'
        "      - {id: slow, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ item }}', sleep: 0.15}}\n"
        "  - {id: values, kind: aggregate, loop: each, value: '{{ steps.slow.value }}'}\n"
    )
    result = await run_text(svc, user, text, {"n": list(range(8))})
    assert result["status"] == "completed", result["error"]
    assert probe.calls["slow"] == 8
    assert probe.peak == 3
    assert rows(result, "values")[0]["output"]["result"] == list(range(8))

    probe.peak = 0
    one = text.replace("concurrency: 3", "concurrency: 1")
    result = await run_text(svc, user, one, {"n": list(range(3))})
    assert result["status"] == "completed" and probe.peak == 1


async def test_a_list_over_the_limit_is_refused_naming_the_loop_and_size(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = LINES.replace("name: Lines\n", "name: Lines\nsettings: {max_loop_items: 2}\n")
    result = await run_text(svc, user, text, ORDER)
    assert result["status"] == "failed"
    error = result["error"]
    assert error["cell_id"] == "each" and error["code"] == "invalid_input"
    assert "Loop 'each'" in error["message"] and "3 items" in error["message"]
    assert "limit of 2" in error["message"]
    assert probe.calls == {}


async def test_the_operator_limit_applies_when_the_scenario_sets_none(
    make_settings: Any, registry: Any
) -> None:
    from tests.services import running_service

    async with running_service(make_settings(loop_max_items=2), registry) as svc:
        user = svc.store.create_user("ada@example.com")
        result = await run_text(svc, user, LINES, ORDER)
        assert result["status"] == "failed" and "limit of 2" in result["error"]["message"]


async def test_items_that_are_not_a_list_fail_clearly(svc: Cellwright, user: Any) -> None:
    result = await run_text(svc, user, LINES, {"lines": {"sku": "A"}})
    assert result["status"] == "failed"
    assert "'items' must be a list, but it is dict" in result["error"]["message"]


def http_loop(url: str) -> str:
    return f"""\
name: Posts
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
  - id: each
    kind: loop
    items: "{{{{ trigger.items }}}}"
    cells:
      - id: prep
        kind: transformer
        app: formatter
        operation: set_fields
        inputs: {{fields: {{path: "/item/{{{{ item }}}}"}}}}
      - id: post
        kind: action
        app: http
        operation: request
        inputs:
          method: POST
          url: "{url}{{{{ steps.prep.path }}}}"
          body_type: json
          body: {{n: "{{{{ item }}}}"}}
  - {{id: count, kind: aggregate, loop: each, mode: count}}
"""


async def test_a_failed_item_fails_the_loop_naming_the_item(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    sink.plan("/item/2", helpers.Reply(422, {"message": "no such product"}))
    result = await run_text(svc, user, http_loop(sink.url), {"items": [0, 1, 2, 3]})
    assert result["status"] == "failed"
    error = result["error"]
    assert error["cell_id"] == "each" and error["item"] == 2 and error["item_cell_id"] == "post"
    assert error["message"].startswith("Loop 'each', item 2: ")
    assert error["code"] == "upstream_error"
    assert [r.path for r in sink.requests] == ["/item/0", "/item/1", "/item/2"]  # 3 never ran
    items = {r["item"]: r for r in rows(result, "each") if r["item"] is not None}
    assert items["0"]["status"] == "completed" and items["2"]["status"] == "failed"
    assert items["2"]["error"]["cell_id"] == "post"
    assert rows(result, "each")[-1]["item"] is None
    assert rows(result, "each")[-1]["status"] == "failed"
    assert rows(result, "count") == []


async def test_a_rerun_of_a_failed_loop_runs_only_the_failed_item_and_the_rest(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    sink.plan("/item/2", helpers.Reply(422, {"message": "no such product"}))
    failed = await run_text(svc, user, http_loop(sink.url), {"items": [0, 1, 2, 3]})
    assert failed["status"] == "failed"
    sink.reset()
    new = await svc.rerun(user.id, failed["id"])
    assert await svc.executor.wait(new.id, 5) is not None
    again = svc.execution(user.id, new.id)
    assert again["status"] == "completed", again["error"]
    assert [r.path for r in sink.requests] == ["/item/2", "/item/3"]
    assert rows(again, "count")[0]["output"] == {"result": 4, "count": 4}
    loop = rows(again, "each")[-1]["output"]
    assert [i["steps"]["post"]["status"] for i in loop["items"]] == [200] * 4

    sink.reset()  # from the loop, chosen: every item again
    new = await svc.rerun(user.id, failed["id"], from_cell="each")
    assert await svc.executor.wait(new.id, 5) is not None
    assert len(sink.requests) == 4


async def test_a_retried_item_resumes_without_redoing_finished_items(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", NetworkError("blip"))  # the first call (item 0) fails once
    result = await run_text(svc, user, LINES, ORDER)
    assert result["status"] == "completed", result["error"]
    assert probe.calls == {"post": 4, "after": 1}  # item 0 twice, items 1 and 2 once
    assert result["attempt"] == 1
    posts = rows(result, "post")
    assert [(p["item"], p["status"]) for p in posts] == [
        ("0", "failed"),
        ("0", "completed"),
        ("1", "completed"),
        ("2", "completed"),
    ]


async def test_recorded_items_are_not_run_again(svc: Cellwright, user: Any, probe: Any) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(LINES))
    execution, _ = svc.store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=user.id,
        trigger=ORDER,
    )
    store = svc.store
    store.record_node_result(execution.id, cell_id="start", status="completed", output=ORDER)
    # item 0 finished; item 1's action finished before the crash, its summary did not
    store.record_node_result(
        execution.id,
        cell_id="post",
        status="completed",
        output={"value": "recorded 0", "calls": 90},
        item="0",
    )
    store.record_node_result(
        execution.id,
        cell_id="each",
        status="completed",
        input=ORDER["lines"][0],
        output={"steps": {"post": {"value": "recorded 0", "calls": 90}}, "stopped": False},
        item="0",
    )
    store.record_node_result(
        execution.id,
        cell_id="post",
        status="completed",
        output={"value": "recorded 1", "calls": 91},
        item="1",
    )
    svc.executor.submit(execution.id)
    assert await svc.executor.wait(execution.id, 5) is not None
    result = svc.execution(None, execution.id)
    assert result["status"] == "completed", result["error"]
    assert probe.calls == {"post": 1, "after": 1}  # only item 2's
    assert rows(result, "all")[0]["output"]["result"] == [90, 91, 1]


async def test_a_filter_in_a_loop_stops_only_its_item_and_is_left_out_of_aggregates(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = (
        "name: F\ncells:\n" + MANUAL + "  - id: each\n    kind: loop\n"
        '    items: "{{ trigger.n }}"\n    cells:\n'
        "      - {id: odd, kind: condition, "
        "rules: {all: [{left: '{{ item % 2 }}', op: equals, right: 1}]}}\n"
        "      - {id: post, kind: action, app: probe, "
        "operation: count, inputs: {value: '{{ item }}'}}\n"
        "  - {id: posted, kind: aggregate, loop: each, value: '{{ steps.post.value }}'}\n"
        "  - {id: after, kind: action, app: probe, operation: count}\n"
    )
    result = await run_text(svc, user, text, {"n": [1, 2, 3, 4, 5]})
    assert result["status"] == "completed", result["error"]
    assert probe.calls == {"post": 3, "after": 1}
    assert rows(result, "posted")[0]["output"] == {"result": [1, 3, 5], "count": 3}
    loop = rows(result, "each")[-1]["output"]
    assert [i["stopped"] for i in loop["items"]] == [False, True, False, True, False]


async def test_on_error_continue_inside_an_item(svc: Cellwright, user: Any, probe: Any) -> None:
    from connectors.sdk import UpstreamError

    probe.fail("post", UpstreamError("refused", status=400))
    text = (
        "name: E\ncells:\n" + MANUAL + "  - id: each\n    kind: loop\n"
        '    items: "{{ trigger.n }}"\n    cells:\n'
        "      - {id: post, kind: action, app: probe, operation: count, on_error: continue}\n"
        "  - {id: codes, kind: aggregate, loop: each, "
        "value: \"{{ steps.post.error.code | default('ok') }}\"}\n"
    )
    result = await run_text(svc, user, text, {"n": [1, 2]})
    assert result["status"] == "completed", result["error"]
    assert rows(result, "codes")[0]["output"]["result"] == ["upstream_error", "ok"]


async def test_run_cell_of_a_loop_runs_every_item_unrecorded(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    doc = documents.loads(NESTED)
    result = await svc.run_cell(
        user.id, doc, "orders", {"trigger": {"orders": [{"id": "x", "lines": [4, 5]}]}}
    )
    assert result.ok, result.error
    assert result.output["count"] == 1
    assert result.output["items"][0]["steps"]["order_sum"] == {"result": 9, "count": 2}
    assert probe.calls == {"post": 2}
    broken = await svc.run_cell(user.id, doc, "orders", {"trigger": {"orders": [{"id": "x"}]}})
    assert not broken.ok and broken.error is not None
    assert broken.error["message"].startswith("Loop 'orders', item 0: ")


async def test_a_secret_typed_in_a_loops_cell_is_sealed_and_masked(
    svc: Cellwright, user: Any, sink: Any
) -> None:
    text = f"""\
name: Secret loop
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
  - id: each
    kind: loop
    items: "{{{{ trigger.items }}}}"
    cells:
      - id: post
        kind: action
        app: http
        operation: request
        inputs: {{method: POST, url: "{sink.url}/secret", bearer_token: "s3cret-token-value"}}
"""
    saved = svc.import_scenario(user.id, documents.loads(text))
    stored = svc.store.scenario_document(saved.id, saved.version)
    assert "s3cret-token-value" not in str(stored)
    result: dict[str, Any] = await svc.run_now(user.id, saved.id, {"items": [1, 2]}, timeout=10)
    assert result["status"] == "completed", result["error"]
    assert [r.headers["authorization"] for r in sink.hits("/secret")] == [
        "Bearer s3cret-token-value"
    ] * 2
    assert "s3cret-token-value" not in str(result)
