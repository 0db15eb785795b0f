"""Every value a mapping builds is bounded by its total size, checked before it is built.

The security review's bombs: ``'x'.encode() * 10**9`` (bytes had no guard),
``[('x' * 999999)] * 100`` (lists were limited by item count only), ``+`` on text, and
lists that hold one big text many times, turned into text or copied into a result.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from cells._mapping_sizes import MAX_MADE, MAX_VALUE, measure
from cells.mapping import render_template
from connectors.sdk.errors import MappingError

CONTEXT: dict[str, Any] = {
    "trigger": {"items": [{"name": f"n{i}"} for i in range(100)], "text": "abc"},
    "steps": {},
    "execution": {"id": "run-1"},
}
# ten nested doublings of one 999,999-character text: 1 MB in memory, 1 GB as text
DOUBLED = "{% set a = ['x' * 999999] %}" + "".join("{% set a = [a, a] %}" for _ in range(10))


def r(source: str) -> Any:
    return render_template(source, CONTEXT, cell_id="fmt", field="body")


def error_of(source: str) -> str:
    with pytest.raises(MappingError) as info:
        r(source)
    message = info.value.message
    assert message.startswith("Cell 'fmt', field 'body': ")
    return message


def peak_bytes(source: str) -> int:
    """Memory allocated at the peak while ``source`` fails."""
    tracemalloc.start()
    try:
        with pytest.raises(MappingError):
            r(source)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_text_has_no_encode_so_no_bytes_can_be_made() -> None:
    # bytes brought their own * / ljust / center / zfill / replace, none of them guarded
    for source in ("{{ 'x'.encode() * 10**7 }}", "{{ 'x'.encode().ljust(10**7) }}"):
        assert error_of(source).endswith(
            "not allowed: access to attribute 'encode' of 'str' object is unsafe."
        )


def test_a_list_repeated_is_limited_by_its_size_not_its_item_count() -> None:
    message = error_of("{{ [('x' * 999999)] * 100 }}")
    assert message.endswith(
        "— '*' would build a value of about 100,000,202 characters (the limit is 10,000,000)"
    )
    assert r("{{ [('x' * 9)] * 3 }}") == ["xxxxxxxxx"] * 3


def test_plus_on_text_is_checked_before_it_is_built() -> None:
    source = "{{ 'x' * 999999 + 'y' * 999999 }}"
    assert error_of(source).endswith(
        "'+' would produce 1,999,998 characters (the limit is 1,000,000)"
    )
    assert peak_bytes(source) < 5_000_000  # the two operands, not their sum
    assert r("{{ 'a' + 'b' }}|{{ 1 + 2 }}|{{ [1] + [2] }}") == "ab|3|[1, 2]"


def test_tilde_measures_its_parts_before_joining_them() -> None:
    source = DOUBLED + "{{ 'x' ~ a }}"
    assert "'~' would produce 1,0" in error_of(source)
    assert peak_bytes(source) < 5_000_000
    assert r("{{ 'ab' ~ 1 ~ none ~ [1] }}") == "ab1None[1]"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "{{ [['x' * 999999] * 9, ['y' * 999999] * 9] }}",
            "— the result would be about 18,000,044 characters of data (the limit is 10,000,000)",
        ),
        (DOUBLED + "x{{ a }}", "— writing a list or object into the text would produce 1,0"),
        (
            DOUBLED + "{{ a | tojson | length }}",
            "— turning a value into text would build a value of about 1,0",
        ),
        (DOUBLED + "{{ a | string | length }}", "would build a value of about 1,0"),
        (DOUBLED + "{{ a | map('string') | list | length }}", "would build a value of about"),
        (DOUBLED + "{{ a | join(',') | length }}", "join would produce"),
        (DOUBLED + "{{ '{}'.format(a) | length }}", "format() would produce"),
        (DOUBLED + "{{ ('%s' % (a,)) | length }}", "'%' formatting would produce"),
        (DOUBLED + "{{ '%s' | format(a) | length }}", "format would produce"),
    ],
)
def test_shared_references_are_measured_before_they_become_text(source: str, problem: str) -> None:
    message = error_of(source)
    assert problem in message
    assert "(the limit is" in message
    assert peak_bytes(source) < 20_000_000


def test_flatten_stops_before_copying_one_list_many_times() -> None:
    source = (
        "{% set a = range(1000) | list %}"
        + "".join("{% set a = [a, a] %}" for _ in range(12))
        + "{{ a | flatten(20) | length }}"
    )
    assert "flatten would build a list of more than 1,000,000 items" in error_of(source)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "{{ 'aaaa'.translate({97: 'x' * 999999}) }}",
            "translate would produce 3,999,996 characters",
        ),
        ("{{ (['x' * 999999, 'y' * 999999]) | sum(start='') }}", "'+' would produce 1,999,998"),
        (
            "{{ ['a'] | map('center', 10**8) | list }}",
            "center would produce 100,000,000 characters",
        ),
    ],
)
def test_methods_and_filters_that_multiply_are_checked(source: str, problem: str) -> None:
    assert problem in error_of(source)


@pytest.mark.parametrize(
    "source",
    [
        # each text under the limit, but a hundred thousand of them kept in a list
        "{{ range(100000) | map('center', 999999) | list | length }}",
        # one big text held by every item, each turned into new text
        "{{ ([none] * 100000) | map('default', 'x' * 999999, "
        "true) | map('upper') | list | length }}",
        # text grown in a loop: every '~' copies the whole text again
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}"
        "{% set ns.s = ns.s ~ ('x' * 999) %}{% endfor %}{{ ns.s | length }}",
    ],
)
def test_an_evaluation_builds_at_most_max_made_characters_in_all(source: str) -> None:
    message = error_of(source)
    assert (
        f"this expression built more than {MAX_MADE:,} characters of text and data in all"
        in message
    )
    assert peak_bytes(source) < 2 * MAX_MADE


def test_ordinary_mappings_are_unaffected() -> None:
    assert r("{{ trigger['items'] | map(attribute='name') | join(',') | length }}") == 389
    assert r("{{ trigger['items'] | tojson | length }}") > 1000
    assert r("{% for i in trigger['items'] %}{{ i.name ~ ';' }}{% endfor %}").count(";") == 100
    assert r("{{ trigger.text.upper() ~ trigger.text | upper }}") == "ABCABC"
    assert r("{{ (['ab'] * 3) | sum(start='') }}") == "ababab"


def test_measure_walks_each_shared_list_once() -> None:
    inner = ["x" * 100]
    value: Any = inner
    for _ in range(40):
        value = [value, value]  # 2**40 copies of inner as text
    assert measure(value) > 100 * 2**40
    assert measure({"a": [1, None, True, 2.5, "é"]}) < 100
    assert MAX_VALUE == 10_000_000
