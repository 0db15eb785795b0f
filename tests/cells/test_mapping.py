"""The mapping language: native values, text templates, paths, errors, sandbox."""

from __future__ import annotations

import copy
import timeit
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cells import mapping
from cells.mapping import check_syntax, has_template, referenced_steps, render, render_template
from connectors.sdk.errors import MappingError

CONTEXT: dict[str, Any] = {
    "trigger": {
        "body": {"title": "Hello", "status": "open"},
        "count": 3,
        "price": 9.5,
        "flag": False,
        "nothing": None,
        "items": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}],
        "tags": ["x", "y"],
        "raw": '{"a": 1}',
        "methods": {"items": [1, 2], "keys": "k", "values": "v", "get": "g", "update": "u"},
        "empty": {},
        "headers": {"X-Key": "secret-ish"},
    },
    "steps": {"create_post": {"id": 42, "url": "https://x/42"}, "my-cell": {"x": "dash"}},
    "execution": {"id": "run-1", "scenario_id": "sc-1", "started_at": "2024-05-01T10:00:00+00:00"},
}


def r(source: str, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return render_template(
        source, CONTEXT if context is None else context, cell_id="fmt", field="value", **kwargs
    )


def error_of(source: str, context: dict[str, Any] | None = None) -> MappingError:
    with pytest.raises(MappingError) as info:
        r(source, context)
    return info.value


# --- native values and text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ trigger.count }}", 3),
        ("{{ trigger.price }}", 9.5),
        ("{{ trigger.flag }}", False),
        ("{{ trigger.nothing }}", None),
        ("{{ trigger.tags }}", ["x", "y"]),
        ("{{ trigger.body }}", {"title": "Hello", "status": "open"}),
        ("  {{ trigger.count }}\n", 3),
        ("{{ 42 }}", 42),
        ("{{ trigger.count + 1 }}", 4),
        ("{{ trigger.count }}{# why #}", 3),
        ("{{ trigger.items | map(attribute='name') | list }}", ["a", "b"]),
    ],
)
def test_single_expression_gives_the_native_value(source: str, expected: Any) -> None:
    assert r(source) == expected
    assert type(r(source)) is type(expected)


def test_plain_path_returns_the_context_object_itself() -> None:
    # No copy of large payloads for the common case.
    assert r("{{ trigger.items }}") is CONTEXT["trigger"]["items"]


def test_lazy_results_become_lists() -> None:
    assert r("{{ trigger.items | map(attribute='qty') }}") == [1, 2]
    assert r("{{ range(3) }}") == [0, 1, 2]
    assert r("{{ trigger.body.keys() }}") == ["title", "status"]
    assert r("{{ trigger.tags | select('equalto', 'x') }}") == ["x"]
    assert r("{{ (1, [2, 3]) }}") == [1, [2, 3]]
    assert r("{{ {'a': (1, 2)} }}") == {"a": [1, 2]}
    assert sorted(r("{{ trigger.tags | unique | list }}")) == ["x", "y"]


def test_markup_becomes_plain_text() -> None:
    value = r("{{ trigger.body | tojson }}")
    assert type(value) is str
    assert value == '{"status": "open", "title": "Hello"}'


def test_template_objects_are_not_values() -> None:
    assert "gives a template object (Namespace)" in error_of("{{ namespace(a=1) }}").message
    assert "gives a template object (TemplateReference)" in error_of("{{ self }}").message


def test_line_endings_in_templates_become_newlines() -> None:
    assert r("a\r\n{{ trigger.count }}\r\n") == "a\n3\n"


def test_other_objects_pass_through() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    assert r("{{ x if true else 1 }}", {"x": moment}) is moment


def test_text_templates_render_to_text() -> None:
    assert r("Hi {{ trigger.body.title }}!") == "Hi Hello!"
    assert r("{{ trigger.count }} items") == "3 items"
    assert r("{{ trigger.count }}{{ trigger.count }}") == "33"


def test_text_form_of_values_is_json_like() -> None:
    assert r("[{{ trigger.nothing }}]") == "[]"
    assert r("{{ trigger.flag }} {{ true }}") == "false true"
    assert r("b={{ trigger.body }}") == 'b={"title": "Hello", "status": "open"}'
    assert r("t={{ trigger.tags }}") == 't=["x", "y"]'
    assert r("d={{ d }}", {"d": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)}) == (
        "d=2024-01-02T03:04:05+00:00"
    )


def test_statements_and_trailing_newline() -> None:
    source = "{% for item in trigger.items %}{{ item.name }}={{ item.qty }};{% endfor %}\n"
    assert r(source) == "a=1;b=2;\n"
    assert r("{% set n = trigger.count * 2 %}{{ n }}") == "6"
    assert r("{% if trigger.count > 2 %}big{% else %}small{% endif %}") == "big"
    assert r("{% for k, v in trigger.body.items() %}{{ k }}:{{ v }} {% endfor %}") == (
        "title:Hello status:open "
    )


@pytest.mark.parametrize(
    "value",
    ["plain", "", "a { b } c", "{ {not} }", "{#fff}", "100%", 5, 1.5, None, True],
)
def test_values_without_template_syntax_pass_through(value: Any) -> None:
    assert r(value) is value  # type: ignore[arg-type]


def test_render_walks_dicts_and_lists_without_touching_keys_or_input() -> None:
    inputs = {
        "title": "{{ trigger.body.title }}",
        "{{ key }}": "kept",
        "nested": {"list": ["{{ trigger.count }}", "x", 7, ("{{ trigger.flag }}",)]},
    }
    before = copy.deepcopy(inputs)
    out = render(inputs, CONTEXT, cell_id="c")
    assert out == {
        "title": "Hello",
        "{{ key }}": "kept",
        "nested": {"list": [3, "x", 7, (False,)]},
    }
    assert inputs == before


# --- paths ---------------------------------------------------------------------------


def test_path_forms() -> None:
    assert r("{{ steps.create_post.id }}") == 42
    assert r('{{ steps["my-cell"].x }}') == "dash"
    assert r("{{ steps['my-cell']['x'] }}") == "dash"
    assert r("{{ trigger.items[0].name }}") == "a"
    assert r("{{ trigger.items[-1].name }}") == "b"
    assert r("{{ trigger.items.1.name }}") == "b"
    assert r("{{ execution.started_at }}") == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize("key", ["items", "keys", "values", "get", "update"])
def test_keys_win_over_dict_methods(key: str) -> None:
    assert r(f"{{{{ trigger.methods.{key} }}}}") == CONTEXT["trigger"]["methods"][key]
    assert r(f"{{{{ trigger.methods | attr('{key}') }}}}") == CONTEXT["trigger"]["methods"][key]


def test_attr_filter_reads_keys_too() -> None:
    assert r("{{ trigger.body | attr('title') }}") == "Hello"
    assert r("{{ trigger.body | attr('nope') | default('d') }}") == "d"
    assert "gives a function ('upper')" in error_of("{{ 'ab' | attr('upper') }}").message
    assert "not allowed" in error_of("{{ trigger.body | attr('__class__') }}").message


def test_dict_methods_still_work_when_no_key_shadows_them() -> None:
    assert r("{{ trigger.body.get('title') }}") == "Hello"
    assert r("{{ trigger.body.get('nope', 'dflt') }}") == "dflt"


def test_a_function_is_not_a_value() -> None:
    error = error_of("{{ trigger.body.keys }}")
    assert "gives a function ('keys'), not a value" in error.message
    assert "gives a function ('now')" in error_of("{{ now }}").message


def test_default_and_defined_handle_optional_values() -> None:
    assert r("{{ trigger.body.missing | default('n/a') }}") == "n/a"
    assert r("{{ trigger.missing.deeper.still | default(0) }}") == 0
    assert r("{{ steps.later.id | default(none) }}") is None
    assert r("{{ trigger.nothing | default('x', true) }}") == "x"
    assert r("{{ trigger.missing is defined }}") is False
    assert r("{% if trigger.missing is defined %}y{% else %}n{% endif %}") == "n"


def test_missing_as_none_is_lenient_for_missing_paths_only() -> None:
    assert r("{{ trigger.missing.deeper }}", missing_as_none=True) is None
    assert r("x {{ trigger.missing }}", missing_as_none=True) is None
    assert r("{{ trigger.count }}", missing_as_none=True) == 3
    with pytest.raises(MappingError, match="ZeroDivisionError"):
        r("{{ 1 / 0 }}", missing_as_none=True)
    with pytest.raises(MappingError, match="not allowed"):
        r("{{ ''.__class__ }}", missing_as_none=True)


# --- errors: missing paths -----------------------------------------------------------


def test_missing_key_names_cell_field_expression_and_available_keys() -> None:
    context = {"trigger": {"body": {"title": "T", "status": "s"}}, "steps": {}}
    error = error_of("{{ trigger.body.titel }}", context)
    assert error.message == (
        "Cell 'fmt', field 'value': {{ trigger.body.titel }} — 'trigger.body' has no"
        " 'titel'. Available: status, title. Did you mean 'title'?"
    )
    assert error.code == "mapping_error"
    assert error.details == {
        "cell_id": "fmt",
        "field": "value",
        "expression": "{{ trigger.body.titel }}",
        "missing": "titel",
        "path": "trigger.body",
        "available": ["status", "title"],
    }


def test_no_suggestion_when_nothing_is_close() -> None:
    message = error_of("{{ trigger.body.zzz }}").message
    assert message.endswith("'trigger.body' has no 'zzz'. Available: status, title")


def test_first_missing_step_of_a_chain_is_reported() -> None:
    message = error_of("{{ trigger.nope.deeper.still }}").message
    assert "'trigger' has no 'nope'. Available: body, count, empty, flag" in message


def test_missing_step_lists_the_steps() -> None:
    message = error_of("{{ steps.create_pots.id }}").message
    assert message == (
        "Cell 'fmt', field 'value': {{ steps.create_pots.id }} — 'steps' has no"
        " 'create_pots'. Steps available: create_post, my-cell. Did you mean 'create_post'?"
    )
    empty = error_of("{{ steps.a.id }}", {"trigger": {}, "steps": {}}).message
    assert empty.endswith("'steps' has no 'a'. No steps ran before")


def test_undefined_top_level_name() -> None:
    message = error_of("{{ trigegr.body }}").message
    assert message.endswith(
        "'trigegr' is not defined. Available: execution, steps, trigger. Did you mean 'trigger'?"
    )


def test_missing_inside_lists_and_scalars() -> None:
    assert error_of("{{ trigger.items[5].name }}").message.endswith(
        "'trigger.items' has no item [5] (it has 2 items)"
    )
    assert error_of("{{ x[1] }}", {"x": [0]}).message.endswith(
        "'x' has no item [1] (it has 1 item)"
    )
    assert error_of("{{ trigger.items.name }}").message.endswith(
        "'trigger.items' is a list, it has no 'name' (pick an item first: [0].name)"
    )
    assert error_of("{{ trigger.items[1].nme }}").message.endswith(
        "'trigger.items[1]' has no 'nme'. Available: name, qty. Did you mean 'name'?"
    )
    assert error_of("{{ trigger.body.title.size }}").message.endswith(
        "'trigger.body.title' is text, it has no 'size'"
    )
    assert error_of("{{ trigger.nothing.x }}").message.endswith(
        "'trigger.nothing' is null, it has no 'x'"
    )
    assert error_of("{{ trigger.count.x }}").message.endswith(
        "'trigger.count' is number, it has no 'x'"
    )
    assert error_of("{{ trigger.flag.x }}").message.endswith(
        "'trigger.flag' is boolean, it has no 'x'"
    )
    assert error_of("{{ trigger.empty.x }}").message.endswith(
        "'trigger.empty' has no 'x' (it is empty)"
    )
    assert error_of('{{ trigger.headers["X-Token"] }}').message.endswith(
        "'trigger.headers' has no 'X-Token'. Available: X-Key"
    )


def test_missing_key_of_a_computed_value() -> None:
    # The object is not in the context: no path to show, but keys are still listed.
    message = error_of("{{ (trigger.raw | from_json).b }}").message
    assert message.endswith("the value has no 'b'. Available: a")
    found = error_of("{{ trigger.items | map(attribute='nme') | list }}").message
    assert found.endswith(
        "'trigger.items[0]' has no 'nme'. Available: name, qty. Did you mean 'name'?"
    )
    other = error_of("{{ (5 | string).x }}").message
    assert other.endswith("the value is text, it has no 'x'")
    mixed = error_of("{{ ({'a': 1} | dictsort)[0].b }}")
    assert "the value is list, it has no 'b'" not in mixed.message


def test_paths_that_do_not_resolve_are_skipped_when_locating() -> None:
    message = error_of("{{ trigger.zz.x | default(trigger.body.x) }}").message
    assert message.endswith("'trigger.body' has no 'x'. Available: status, title")
    message = error_of("{{ trigger.items[9].x | default(trigger.items[0].x) }}").message
    assert message.endswith("'trigger.items[0]' has no 'x'. Available: name, qty")
    message = error_of("{{ (1).x | default(trigger.body.x) }}").message
    assert message.endswith("'trigger.body' has no 'x'. Available: status, title")


def test_search_for_a_computed_value_is_bounded() -> None:
    context = {"big": list(range(6000)), "raw": '{"a": 1}'}
    assert error_of("{{ (raw | from_json).b }}", context).message.endswith(
        "the value has no 'b'. Available: a"
    )


def test_long_key_lists_are_cut_at_twenty() -> None:
    context = {"big": {f"k{i:02d}": i for i in range(25)}}
    message = error_of("{{ big.nope }}", context).message
    assert "Available: k00, k01" in message
    assert message.endswith("k19 (and 5 more)")


def test_missing_values_inside_text_and_built_values_fail_too() -> None:
    assert "'trigger.body' has no 'x'" in error_of("a {{ trigger.body.x }} b").message
    assert "'trigger' has no 'nope'" in error_of("{{ [trigger.nope] }}").message
    assert "'trigger' has no 'nope'" in error_of("{{ {'k': trigger.nope} }}").message
    assert "'trigger' has no 'nope'" in error_of("{% if trigger.nope %}x{% endif %}").message
    assert "'trigger' has no 'nope'" in error_of("{{ trigger.nope == 1 }}").message
    assert "'trigger' has no 'nope'" in error_of("{{ trigger.nope | number }}").message


def test_hints_from_builtin_filters() -> None:
    assert error_of("{{ [] | first }}").message.endswith("No first item, sequence was empty.")


def test_field_paths_in_nested_inputs() -> None:
    inputs = {
        "body": {"title": "{{ trigger.body.nope }}"},
        "items": [{"name": "ok"}, {"name": "{{ trigger.nope }}"}],
        "headers": {"X-Key": "{{ trigger.nope }}"},
    }
    with pytest.raises(MappingError) as info:
        render({"body": inputs["body"]}, CONTEXT, cell_id="c1")
    assert info.value.message.startswith("Cell 'c1', field 'body.title': {{ trigger.body.nope }}")
    with pytest.raises(MappingError) as info:
        render({"items": inputs["items"]}, CONTEXT, cell_id="c1")
    assert info.value.message.startswith("Cell 'c1', field 'items[1].name': ")
    with pytest.raises(MappingError) as info:
        render({"headers": inputs["headers"]}, CONTEXT, cell_id="c1", field="http")
    assert info.value.message.startswith("Cell 'c1', field 'http.headers[\"X-Key\"]': ")
    with pytest.raises(MappingError) as info:
        render("{{ trigger.nope }}", CONTEXT, cell_id="c1")
    assert info.value.message.startswith("Cell 'c1': {{ trigger.nope }} — ")


def test_long_expressions_are_shortened_in_messages() -> None:
    source = "{{ trigger.nope }}" + "x" * 500
    message = error_of(source).message
    assert "x" * 180 + "…" in message
    assert "x" * 300 not in message


# --- errors: syntax and evaluation ---------------------------------------------------


def test_syntax_error_names_cell_field_expression_and_jinja_message() -> None:
    error = error_of("{{ trigger.body.title ")
    assert error.message.startswith(
        "Cell 'fmt', field 'value': {{ trigger.body.title  — syntax error: "
    )
    assert "unexpected end of template" in error.message
    assert error.details["expression"] == "{{ trigger.body.title "
    multi = error_of("line one\n{{ a b }}\nthree")
    assert multi.message.endswith("(line 2)")
    assert "syntax error: No filter named 'nosuch'" in error_of("{{ 1 | nosuch }}").message
    assert "syntax error: No test named 'nosuch'" in error_of("{{ 1 is nosuch }}").message
    assert "syntax error" in error_of("{% for x in y %}").message


def test_check_syntax() -> None:
    check_syntax({"a": "{{ x }}", "b": ["plain", 1, "{% if x %}y{% endif %}"]}, cell_id="c")
    with pytest.raises(MappingError) as info:
        check_syntax({"a": "{{ x }}", "b": ["ok", "{{ x | nope }}", "{{ bad"]}, cell_id="c")
    assert info.value.message == (
        "Cell 'c', field 'b[1]': {{ x | nope }} — syntax error: No filter named 'nope'."
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ trigger.count + 'a' }}", "TypeError: unsupported operand"),
        ("{{ trigger.tags[0] - 1 }}", "TypeError"),
        ("{{ trigger.tags.index('zz') }}", "ValueError: 'zz' is not in list"),
        ("{{ 1.5 ** 100000 }}", "OverflowError"),
    ],
)
def test_evaluation_failures_become_mapping_errors(source: str, problem: str) -> None:
    error = error_of(source)
    assert error.message.startswith(f"Cell 'fmt', field 'value': {source} — ")
    assert problem in error.message
    assert error.__cause__ is None


# --- sandbox -------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ trigger.__class__ }}",
    "{{ trigger.body.__class__.__base__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ now.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ trigger.body.copy.__self__ }}",
    "{{ trigger.body.pop('title') }}",
    "{{ trigger.tags.append(1) }}",
    "{{ trigger.body.setdefault('a', 1) }}",
    "{{ trigger.body.clear() }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ (1).__class__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum(10) }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% from 'x' import y %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_fail_with_mapping_error(source: str) -> None:
    with pytest.raises(MappingError) as info:
        r(source)
    assert info.value.message.startswith("Cell 'fmt', field 'value': ")
    assert CONTEXT["trigger"]["body"] == {"title": "Hello", "status": "open"}
    assert CONTEXT["trigger"]["tags"] == ["x", "y"]


@given(source=st.sampled_from(ESCAPES), prefix=st.text(max_size=5).filter(lambda t: "{" not in t))
def test_sandbox_escapes_fail_anywhere_in_text(source: str, prefix: str) -> None:
    with pytest.raises(MappingError):
        r(prefix + source + " tail")


def test_security_errors_say_not_allowed() -> None:
    message = error_of("{{ trigger.__class__ }}").message
    assert message.endswith(
        "not allowed: access to attribute '__class__' of 'dict' object is unsafe."
    )


def test_range_is_capped_by_the_sandbox() -> None:
    assert "OverflowError" in error_of("{{ range(10**6) | list }}").message


# --- limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ 'x' * 10**7 }}", "'*' would produce 10,000,000 characters (the limit is 1,000,000)"),
        ("{{ 10**7 * 'x' }}", "'*' would produce 10,000,000 characters"),
        ("{{ [1, 2] * 10**6 }}", "'*' would build a list of 2,000,000 items"),
        ("{{ 2 ** 1000000 }}", "2 ** 1000000 is too large to compute"),
        ("{{ 10 ** 100000 }}", "too large to compute"),
        ("{{ (10 ** 20000) * (10 ** 20000) }}", "a product of about 132,878 bits is too large"),
        ("{{ '%9999999d' % 1 }}", "'%' formatting: width 9999999 is larger than 1,000,000"),
        ("{{ '%.9999999f' % 1 }}", "width 9999999"),
        ("{{ '%*d' % (5, 1) }}", "'%' formatting: '*' widths are not supported"),
        ("{{ '%(a(b))9999999s' % {'a(b)': 1} }}", "'%' formatting: width 9999999 is larger"),
        ("{{ ('%(' * 400000) % {} }}", "ValueError: incomplete format key"),
        ("{{ '{:>9999999}'.format(1) }}", "format(): width 9999999 is larger than"),
        ("{{ '{:{w}}'.format(1, w=5) }}", "computed widths"),
        ("{{ 'x'.ljust(10**8) }}", "ljust would produce 100,000,000 characters"),
        ("{{ 'x'.rjust(width=10**8) }}", "rjust would produce"),
        ("{{ 'x'.center(10**8) }}", "center would produce"),
        ("{{ '1'.zfill(10**8) }}", "zfill would produce"),
        ("{{ ('\t' * 1000).expandtabs(10**4) }}", "expandtabs would produce 10,001,000"),
        ("{{ ('a' * 1000).replace('a', 'b' * 2000) }}", "replace would produce 2,000,000"),
        ("{{ ('a' * 1000).replace('', 'b' * 2000) }}", "replace would produce"),
        ("{{ ('x' * 1000).join(['a'] * 2000) }}", "join would produce"),
        ("{{ (['x' * 1000] * 2000) | join }}", "join would produce"),
        ("{{ ([['x' * 600000]] * 3) | join(',') }}", "join would produce"),
        ("{{ ('a' * 1000) | replace('a', 'b' * 2000) }}", "replace would produce"),
        ("{{ 'x' | center(10**8) }}", "center would produce"),
        ("{{ ('a\n' * 1000) | indent(2000) }}", "indent would produce"),
        ("{{ ('a\n' * 1000) | indent('x' * 2000) }}", "indent would produce"),
        ("{{ ('a ' * 1000) | wordwrap(2, wrapstring='x' * 2000) }}", "wordwrap would produce"),
        ("{{ ('a ' * 60000) | wordwrap(1) }}", "wordwrap works on text up to 100,000 characters"),
        ("{{ '%9999999d' | format(1) }}", "width 9999999"),
        ("{{ trigger.body | tojson(10**6) }}", "indent 1000000 is larger than 32"),
        ("{{ trigger.body | json('x' * 100) }}", "is larger than 32"),
        ("{{ [1] | batch(10**8, 0) }}", "batch: 100,000,000 is larger than 1,000,000"),
        ("{{ [1] | slice(10**8) }}", "slice: 100,000,000 is larger"),
        (
            "{{ trigger.big ~ trigger.big }}",
            "'~' would produce 1,200,000 characters (the limit is 1,000,000)",
        ),
        (
            "{% for i in range(3) %}{{ trigger.big }}{% endfor %}",
            "the text is longer than 1,000,000",
        ),
    ],
)
def test_limits(source: str, problem: str) -> None:
    context = {**CONTEXT, "trigger": {**CONTEXT["trigger"], "big": "z" * 600_000}}
    error = error_of(source, context)
    assert problem in error.message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 3 * 'ab' }}", "ababab"),
        ("{{ [0] * 3 }}", [0, 0, 0]),
        ("{{ 3 * 4 }}", 12),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ 2 ** -1 }}", 0.5),
        ("{{ 1 ** 10**9 }}", 1),
        ("{{ 10 % 3 }}", 1),
        ("{{ '%5d|%-3s|%%' % (7, 'a') }}", "    7|a  |%"),
        ("{{ '%(n)03d' % {'n': 7} }}", "007"),
        ("{{ '%(a(b))3s|%%9999999s' % {'a(b)': 1} }}", "  1|%9999999s"),
        ("{{ '{:>4}|{}'.format(1, 2) }}", "   1|2"),
        ("{{ '{'.format() if false else 'x' }}", "x"),
        ("{{ 'x'.ljust(3) ~ '|' }}", "x  |"),
        ("{{ 'a\tb'.expandtabs(2) }}", "a b"),
        ("{{ 'aXa'.replace('X', 'y') }}", "aya"),
        ("{{ 'aXaX'.replace('X', 'y', 1) }}", "ayaX"),
        ("{{ '-'.join(trigger.tags) }}", "x-y"),
        ("{{ trigger.tags | join(', ') }}", "x, y"),
        ("{{ trigger.items | join(',', attribute='name') }}", "a,b"),
        ("{{ 'aXa' | replace('X', 'y') }}", "aya"),
        ("{{ 'ab' | center(4) }}", " ab "),
        ("{{ 'a\nb' | indent(2) }}", "a\n  b"),
        ("{{ 'aaaa bbbb' | wordwrap(4) }}", "aaaa\nbbbb"),
        ("{{ '%s-%s' | format(1, 2) }}", "1-2"),
        ("{{ [1, 2, 3] | batch(2, 0) | list }}", [[1, 2], [3, 0]]),
        ("{{ [1, 2, 3] | slice(2) | list }}", [[1, 2], [3]]),
        ("{{ {'a': 1} | tojson(2) }}", '{\n  "a": 1\n}'),
        ("{{ 'a'.upper() }}", "A"),
    ],
)
def test_below_the_limits(source: str, expected: Any) -> None:
    assert r(source) == expected


def test_str_join_keeps_its_type_error() -> None:
    message = error_of("{{ '-'.join([1, 2]) }}").message
    assert "TypeError: sequence item: expected str instance, int found" in message


def test_format_with_a_malformed_string_is_reported_by_the_call() -> None:
    assert "ValueError" in error_of("{{ '{'.format(1) }}").message


# --- filters and functions -----------------------------------------------------------


def test_json_of_python_values() -> None:
    assert r("{{ v | json }}", {"v": [Decimal("1.50"), Decimal("2"), Decimal("NaN")]}) == (
        '[1.5, 2, "NaN"]'
    )
    assert r("{{ v | json }}", {"v": {"s": {1}}}) == '{"s": [1]}'
    assert r("x={{ v }}", {"v": (1, "a")}) == 'x=[1, "a"]'
    assert "TypeError: keys must be" in error_of("{{ v | json }}", {"v": {(1, 2): 1}}).message


def test_json_filters() -> None:
    assert r("{{ trigger.body | json }}") == '{"title": "Hello", "status": "open"}'
    assert r("{{ {'a': [1]} | json(indent=1) }}") == '{\n "a": [\n  1\n ]\n}'
    assert r("{{ 'é' | json }}") == '"é"'
    assert r("{{ d | json }}", {"d": datetime(2024, 1, 2, tzinfo=UTC)}) == (
        '"2024-01-02T00:00:00+00:00"'
    )
    assert r("{{ trigger.raw | from_json }}") == {"a": 1}
    assert r("{{ (trigger.raw | from_json).a }}") == 1
    assert (
        "from_json: invalid JSON (Expecting value" in error_of("{{ 'nope' | from_json }}").message
    )
    assert "from_json expects text, got list" in error_of("{{ trigger.tags | from_json }}").message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (" -7 ", -7),
        ("1,234.50", 1234.5),
        ("1,234,567", 1234567),
        ("+3.", 3.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        (7, 7),
        (2.5, 2.5),
        ("12345678901234567890", 12345678901234567890),
        (Decimal("2.50"), 2.5),
        (Decimal("3.00"), 3),
    ],
)
def test_number_filter(value: Any, expected: Any) -> None:
    result = r("{{ v | number }}", {"v": value})
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "1,23",
        "1.234,5",
        "nan",
        "inf",
        True,
        None,
        [1],
        "1e999",
        float("nan"),
        Decimal("NaN"),
        "9" * 500,
    ],
)
def test_number_filter_refuses_non_numbers(value: Any) -> None:
    message = error_of("{{ v | number }}", {"v": value}).message
    assert message.endswith("is not a number")
    assert r("{{ v | number(0) }}", {"v": value}) == 0


def test_slugify() -> None:
    assert r("{{ 'Héllo, World! 2024' | slugify }}") == "hello-world-2024"
    assert r("{{ '  --Already--slug--  ' | slugify }}") == "already-slug"
    assert r("{{ 'A B' | slugify('_') }}") == "a_b"
    assert r("{{ 42 | slugify }}") == "42"
    assert "separator is longer than 10" in error_of("{{ 'a b' | slugify('-' * 11) }}").message


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("2024-01-02T03:04:05Z", "'%Y-%m-%d %H:%M'", "2024-01-02 03:04"),
        ("2024-01-02T03:04:05+02:00", "", "2024-01-02T03:04:05+02:00"),
        ("2024-01-02", "", "2024-01-02T00:00:00+00:00"),
        ("2024-01-02T03:04:05", "", "2024-01-02T03:04:05+00:00"),
        (1700000000, "'%Y-%m-%d'", "2023-11-14"),
        (1700000000123, "'%Y-%m-%dT%H:%M:%S'", "2023-11-14T22:13:20"),
        ("1700000000", "'%Y'", "2023"),
        ("1700000000.5", "'%S.%f'", "20.500000"),
        ("Tue, 02 Jan 2024 03:04:05 GMT", "'%d/%m/%Y'", "02/01/2024"),
        ("2024-01-02T12:00:00Z", "'%H:%M %Z', tz='Europe/Paris'", "13:00 CET"),
        ("2024-07-02T12:00:00Z", "tz='America/New_York'", "2024-07-02T08:00:00-04:00"),
    ],
)
def test_date_filter(value: Any, args: str, expected: str) -> None:
    assert r(f"{{{{ v | date({args}) }}}}", {"v": value}) == expected


def test_date_filter_accepts_python_dates() -> None:
    from datetime import date

    assert r("{{ v | date }}", {"v": date(2024, 1, 2)}) == "2024-01-02T00:00:00+00:00"
    assert r("{{ v | date }}", {"v": datetime(2024, 1, 2, 3)}) == "2024-01-02T03:00:00+00:00"


@pytest.mark.parametrize("value", ["yesterday", "", True, None, [1], float("inf"), 10**30])
def test_date_filter_refuses_non_dates(value: Any) -> None:
    assert error_of("{{ v | date }}", {"v": value}).message.endswith("is not a date")


def test_date_filter_refuses_unknown_zones() -> None:
    assert (
        "unknown time zone 'Mars/Olympus'" in error_of("{{ 0 | date(tz='Mars/Olympus') }}").message
    )
    assert "unknown time zone" in error_of("{{ 0 | date(tz='../../etc/passwd') }}").message


def test_now_is_utc_iso() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    value = r("{{ now() }}")
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert before <= parsed <= datetime.now(UTC)
    assert r("{{ now() | date('%Y') }}") == str(before.year)


def test_pick() -> None:
    assert r("{{ trigger.items[0] | pick('name') }}") == {"name": "a"}
    assert r("{{ trigger.items[0] | pick('qty', 'name', 'nope') }}") == {"qty": 1, "name": "a"}
    assert r("{{ trigger.items[0] | pick(['name', 'qty']) }}") == {"name": "a", "qty": 1}
    assert "pick expects an object, got list" in error_of("{{ trigger.tags | pick('a') }}").message


def test_flatten() -> None:
    assert r("{{ [[1, 2], [3], 4] | flatten }}") == [1, 2, 3, 4]
    assert r("{{ [[1, [2, [3]]]] | flatten }}") == [1, [2, [3]]]
    assert r("{{ [[1, [2, [3]]]] | flatten(3) }}") == [1, 2, 3]
    assert r("{{ ['ab', ['cd']] | flatten }}") == ["ab", "cd"]
    assert "flatten expects a list, got text" in error_of("{{ 'ab' | flatten }}").message
    assert "got object" in error_of("{{ trigger.body | flatten }}").message
    assert "got null" in error_of("{{ none | flatten }}").message


def test_hashes() -> None:
    assert r("{{ 'a' | md5 }}") == "0cc175b9c0f1b6a831c399e269772661"
    assert r("{{ 'a' | sha256 }}") == (
        "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    )
    assert r("{{ 1 | md5 }}") == r("{{ '1' | md5 }}")
    assert r("{{ {'a': 1} | md5 }}") == r("{{ '{\"a\": 1}' | md5 }}")
    assert r("{{ v | md5 }}", {"v": b"a"}) == "0cc175b9c0f1b6a831c399e269772661"


def test_filters_report_missing_input_as_missing_path() -> None:
    for name in ["json", "from_json", "number", "slugify", "date", "pick('a')", "flatten", "md5"]:
        message = error_of(f"{{{{ trigger.nope | {name} }}}}").message
        assert "'trigger' has no 'nope'" in message, name


# --- has_template, referenced_steps, cache, speed ------------------------------------


def test_has_template() -> None:
    assert has_template("{{ x }}")
    assert has_template("{% if x %}{% endif %}")
    assert has_template({"a": [1, {"b": "x {{ y }}"}]})
    assert has_template(("{{ x }}",))
    assert not has_template({"{{ key }}": "value"})
    assert not has_template(["{ x }", "{#x#}", 5, None, {"a": "b"}])


def test_referenced_steps() -> None:
    inputs = {
        "a": "{{ steps.create_post.id }}",
        "b": ['{{ steps["my-cell"].x }} and {{ steps.third | json }}'],
        "c": "{% for s in steps.loop_src.items %}{{ s }}{% endfor %}",
        "d": "{{ steps.get('via_get') }}",
        "e": "steps.not_a_template and {{ trigger.steps.not_steps }}",
        "f": "{{ steps[name].x }} {{ steps.items() }} {{ steps | length }}",
    }
    assert referenced_steps(inputs) == {"create_post", "my-cell", "third", "loop_src", "via_get"}
    assert referenced_steps("no templates") == set()


def test_referenced_steps_rejects_bad_syntax() -> None:
    with pytest.raises(MappingError) as info:
        referenced_steps({"a": {"b": "{{ steps.x "}})
    assert info.value.message.startswith("Field 'a.b': {{ steps.x  — syntax error")
    with pytest.raises(MappingError) as info:
        referenced_steps("{{ steps.x ")
    assert info.value.message.startswith("Mapping: {{ steps.x  — syntax error")


def test_templates_compile_once() -> None:
    source = "{{ trigger.count }} cached " + str(id(object()))
    before = mapping._compile.cache_info()
    for _ in range(5):
        r(source)
    after = mapping._compile.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 4


def test_rendering_a_cell_is_fast() -> None:
    inputs = {
        "title": "{{ trigger.body.title }}",
        "status": "{{ trigger.body.status }}",
        "post": "{{ steps.create_post.id }}",
        "text": "Post {{ steps.create_post.url }} done",
        "tags": "{{ trigger.tags }}",
        "static": "hello",
    }
    render(inputs, CONTEXT, cell_id="c")
    seconds = min(timeit.repeat(lambda: render(inputs, CONTEXT, cell_id="c"), number=200, repeat=5))
    # ~16 µs on a laptop; the bound only catches an accidental per-run compile.
    assert seconds / 200 < 500e-6


# --- properties ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
plain_text = st.text().filter(lambda t: "{{" not in t and "{%" not in t)


@given(plain_text)
def test_text_without_template_syntax_is_unchanged(text: str) -> None:
    assert render(text, CONTEXT, cell_id="c") is text


@given(json_values)
def test_single_expression_returns_the_exact_native_value(value: Any) -> None:
    result = render("{{ x }}", {"x": value}, cell_id="c")
    assert result == value
    assert type(result) is type(value)


@given(json_values)
def test_rendering_preserves_the_shape_of_a_structure(value: Any) -> None:
    def to_templates(item: Any, path: str) -> Any:
        if isinstance(item, dict):
            return {key: to_templates(child, f"{path}[{key!r}]") for key, child in item.items()}
        if isinstance(item, list):
            return [to_templates(child, f"{path}[{i}]") for i, child in enumerate(item)]
        return "{{ " + path + " }}"

    assert render(to_templates(value, "v"), {"v": value}, cell_id="c") == value


@given(plain_text, plain_text, st.text())
def test_text_values_are_inserted_verbatim(before: str, after: str, value: str) -> None:
    # Keep a lone "{" from fusing with the template's "{{"; Jinja writes every line
    # ending as "\n" (documented); only-whitespace around one {{ }} means native value.
    before = before.rstrip("{").replace("\r", "")
    after = after.lstrip("}").replace("\r", "")
    assume((before + after).strip())
    assert render(before + "{{ x }}" + after, {"x": value}, cell_id="c") == before + value + after
