"""Editing a condition's rules: ``left op right`` rows joined by all/any.

Flat rule lists get one row of fields per rule; nested groups (``all`` inside ``any``…)
are edited as YAML. See docs/scenarios.md for the operators and how values compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import panel as pn
import yaml

from workspace.views.widgets import Banner, html

OPERATORS = [
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "not_exists",
    "is_empty",
    "is_not_empty",
    "in_list",
    "not_in_list",
    "matches_regex",
    "before",
    "after",
]
UNARY = {"exists", "not_exists", "is_empty", "is_not_empty"}


class RulesEditor(pn.viewable.Viewer):
    """Rules ``left op right`` joined by all/any; nested groups are edited as YAML."""

    def __init__(
        self,
        rules: dict[str, Any] | None,
        on_change: Callable[[dict[str, Any]], None],
        *,
        label: str,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.on_change = on_change
        self.label = label
        rules = rules or {"all": []}
        self.mode = "all" if "all" in rules else "any"
        items = rules.get(self.mode) or []
        self.nested = any(not isinstance(i, dict) or "left" not in i for i in items)
        self.banner = Banner()
        self._layout = pn.Column(sizing_mode="stretch_width", margin=0)
        if self.nested:
            self.text = pn.widgets.TextAreaInput(
                name=f"{label}: rules (YAML)",
                value=yaml.safe_dump(rules, sort_keys=False),
                height=140,
                sizing_mode="stretch_width",
                css_classes=["rules-yaml"],
            )
            self.text.param.watch(self._yaml_changed, "value")
            self._layout[:] = [self.text, self.banner]
        else:
            self.rows: list[dict[str, Any]] = [dict(i) for i in items]
            self.match = pn.widgets.Select(
                name=f"{label}: pass when",
                options={"every rule passes (all)": "all", "any rule passes (any)": "any"},
                value=self.mode,
                width=260,
                css_classes=["rules-match"],
            )
            self.match.param.watch(lambda e: self._emit(), "value")
            self._rows_box = pn.Column(sizing_mode="stretch_width", margin=0)
            add = pn.widgets.Button(
                name="Add a rule", button_type="light", css_classes=["rules-add"], description=None
            )
            add.on_click(lambda e: self._add())
            self._layout[:] = [self.match, self._rows_box, add, self.banner]
            self._render_rows()

    def _render_rows(self) -> None:
        rows = []
        for index, rule in enumerate(self.rows):
            n = index + 1
            left = pn.widgets.TextInput(
                name=f"Rule {n}: value to test",
                value=str(rule.get("left", "")),
                placeholder="{{ trigger.body.status }}",
                sizing_mode="stretch_width",
                css_classes=[f"rule-left-{n}"],
            )
            op = pn.widgets.Select(
                name=f"Rule {n}: comparison",
                options=OPERATORS,
                value=str(rule.get("op", "equals")),
                width=150,
                css_classes=[f"rule-op-{n}"],
            )
            right_value = rule.get("right")
            right = pn.widgets.TextInput(
                name=f"Rule {n}: compared with",
                value=""
                if right_value is None
                else (right_value if isinstance(right_value, str) else json.dumps(right_value)),
                sizing_mode="stretch_width",
                css_classes=[f"rule-right-{n}"],
            )
            remove = pn.widgets.Button(
                name=f"Remove rule {n}", button_type="light", width=130, align="end"
            )

            def changed(
                *_: Any, i: int = index, left: Any = left, op: Any = op, right: Any = right
            ) -> None:
                rule = {"left": left.value, "op": op.value}
                if op.value not in UNARY and right.value != "":
                    try:
                        rule["right"] = (
                            json.loads(right.value)
                            if right.value.strip()[:1] in "[{0123456789-tfn"
                            else right.value
                        )
                    except ValueError:
                        rule["right"] = right.value
                self.rows[i] = rule
                self._emit()

            for w in (left, op, right):
                w.param.watch(changed, "value")
            remove.on_click(lambda e, i=index: self._remove(i))
            rows.append(pn.Row(left, op, right, remove, sizing_mode="stretch_width", margin=0))
        self._rows_box[:] = rows or [
            html('<p class="cw-muted">No rules yet: the condition always passes.</p>')
        ]

    def _add(self) -> None:
        self.rows.append({"left": "", "op": "equals", "right": ""})
        self._render_rows()
        self._emit()

    def _remove(self, index: int) -> None:
        del self.rows[index]
        self._render_rows()
        self._emit()

    def _emit(self) -> None:
        rules = [r for r in self.rows if r.get("left") not in (None, "")]
        self.on_change({self.match.value: rules})

    def _yaml_changed(self, event: Any) -> None:
        try:
            data = yaml.safe_load(event.new)
        except yaml.YAMLError as exc:
            self.banner.error(f"The rules are not valid YAML: {exc}")
            return
        if not isinstance(data, dict) or not ({"all", "any"} & set(data)):
            self.banner.error("Rules are a mapping with 'all:' or 'any:' and a list of rules.")
            return
        self.banner.clear()
        self.on_change(data)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["OPERATORS", "RulesEditor"]
