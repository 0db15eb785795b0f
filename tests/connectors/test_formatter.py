"""The Formatter app: every transformer, its error messages, and the real cell path."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cells.models import TransformerCell
from cells.run import run_operation_cell
from connectors.formatter import app
from connectors.formatter.actions import REGEX_TIMEOUT, dates, format_number, parse_number
from connectors.formatter.schemas import DatesInput, NumbersInput
from connectors.registry import default_registry
from connectors.sdk import App, InvalidInputError, OperationContext, build_http


async def run(key: str, /, **inputs: Any) -> dict[str, Any]:
    """Validate, perform and validate the output, as the runner does."""
    action = app.action(key)
    result = await action.perform(None, action.input.model_validate(inputs))  # type: ignore[arg-type]
    dumped: dict[str, Any] = action.output.model_validate(
        result if isinstance(result, dict) else result.model_dump()
    ).model_dump()
    return dumped


async def result_of(key: str, /, **inputs: Any) -> Any:
    return (await run(key, **inputs))["result"]


async def error_of(key: str, /, **inputs: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        await run(key, **inputs)
    error = info.value
    assert error.code == "invalid_input"
    assert len(error.errors) == 1 and error.message.startswith(error.errors[0]["field"] + ": ")
    return error


# -- set_fields ---------------------------------------------------------------------


async def test_set_fields_outputs_exactly_the_fields() -> None:
    fields = {"total": 120.0, "name_upper": "ADA", "nested": {"a": [1, 2]}, "none": None}
    assert await run("set_fields", fields=fields) == fields
    assert await run("set_fields", fields={}) == {}


# -- text ---------------------------------------------------------------------------

TEXT_CASES = [
    ({"value": "hello wORLD", "transform": "upper"}, "HELLO WORLD"),
    ({"value": "Hello World", "transform": "lower"}, "hello world"),
    ({"value": "hello world", "transform": "title"}, "Hello World"),
    ({"value": "hello World", "transform": "capitalize"}, "Hello world"),
    ({"value": "  padded \n", "transform": "trim"}, "padded"),
    ({"value": "a-b-c", "transform": "replace", "find": "-", "replace_with": "+"}, "a+b+c"),
    ({"value": "a-b-c", "transform": "replace", "find": "-"}, "abc"),
    ({"value": "a b\t c", "transform": "split"}, ["a", "b", "c"]),
    ({"value": "a,b,,c", "transform": "split", "separator": ","}, ["a", "b", "", "c"]),
    ({"value": "Order #123 paid", "transform": "regex_extract", "pattern": r"#\d+"}, "#123"),
    (
        {
            "value": "Order #123 paid",
            "transform": "regex_extract",
            "pattern": r"#(\d+)",
            "group": 1,
        },
        "123",
    ),
    (
        {
            "value": "Order #123 paid",
            "transform": "regex_extract",
            "pattern": r"#(\d+)",
            "group": "1",
        },
        "123",
    ),
    (
        {
            "value": "Order #123",
            "transform": "regex_extract",
            "pattern": r"#(?P<id>\d+)",
            "group": "id",
        },
        "123",
    ),
    ({"value": "no digits", "transform": "regex_extract", "pattern": r"\d+"}, None),
    ({"value": "Hello wonderful world", "transform": "truncate", "max_length": 10}, "Hello w..."),
    (
        {"value": "Hello wonderful world", "transform": "truncate", "max_length": 8, "suffix": "…"},
        "Hello w…",
    ),
    ({"value": "Hello", "transform": "truncate", "max_length": 2}, "He"),
    ({"value": "Hello", "transform": "truncate", "max_length": 5}, "Hello"),
    (
        {
            "value": "Ada",
            "transform": "template",
            "template": "Hi {value}, you owe {amount:.2f} {{EUR}}",
            "values": {"amount": 3.14159},
        },
        "Hi Ada, you owe 3.14 {EUR}",
    ),
    (
        {
            "value": "x",
            "transform": "template",
            "template": "{name!r:>8}",
            "values": {"name": "Bo"},
        },
        "    'Bo'",
    ),
    ({"value": "Crème Brûlée — à la carte!", "transform": "slugify"}, "creme-brulee-a-la-carte"),
    ({"value": "Hello World 2026", "transform": "slugify", "separator": "_"}, "hello_world_2026"),
    ({"value": "héllo", "transform": "length"}, 5),
    ({"value": 12345, "transform": "length"}, 5),  # numbers are read as their text
]


@pytest.mark.parametrize(("inputs", "expected"), TEXT_CASES)
async def test_text(inputs: dict[str, Any], expected: Any) -> None:
    assert await result_of("text", **inputs) == expected


@pytest.mark.parametrize(
    ("inputs", "field", "fragment"),
    [
        ({"transform": "replace"}, "find", "is required for replace"),
        ({"transform": "regex_extract"}, "pattern", "is required for regex_extract"),
        (
            {"transform": "regex_extract", "pattern": "("},
            "pattern",
            "is not a valid regular expression",
        ),
        (
            {"transform": "regex_extract", "pattern": r"#(\d)", "group": 2},
            "group",
            "has 1 numbered group(s)",
        ),
        (
            {"transform": "regex_extract", "pattern": r"#(?P<n>\d)", "group": "x"},
            "group",
            "named: n",
        ),
        ({"transform": "truncate"}, "max_length", "is required for truncate"),
        ({"transform": "template"}, "template", "is required for template"),
        (
            {"transform": "template", "template": "{value.__class__}"},
            "template",
            "no positions, attributes or indexes",
        ),
        (
            {"transform": "template", "template": "{values[0]}"},
            "template",
            "no positions, attributes or indexes",
        ),
        (
            {"transform": "template", "template": "{0}"},
            "template",
            "no positions, attributes or indexes",
        ),
        (
            {"transform": "template", "template": "{}"},
            "template",
            "no positions, attributes or indexes",
        ),
        ({"transform": "template", "template": "{missing}"}, "values", "has no 'missing'"),
        (
            {"transform": "template", "template": "{value:>{w}}", "values": {"w": 5}},
            "template",
            "nested fields",
        ),
        (
            {"transform": "template", "template": "{value:>99999999}"},
            "template",
            "widths over 1000",
        ),
        ({"transform": "template", "template": "{value"}, "template", "is malformed"),
        (
            {"transform": "template", "template": "{n:d}", "values": {"n": "x"}},
            "template",
            "could not be filled",
        ),
    ],
)
async def test_text_errors_name_the_field(
    inputs: dict[str, Any], field: str, fragment: str
) -> None:
    error = await error_of("text", value="Order #1", **inputs)
    assert error.errors[0]["field"] == field
    assert fragment in error.message


@pytest.mark.parametrize("pattern", [r"(a|aa)+$", r"(a|a)*$"])
async def test_regex_extract_stops_a_catastrophic_pattern(pattern: str) -> None:
    started = time.perf_counter()
    error = await error_of(
        "text", value="a" * 100 + "b", transform="regex_extract", pattern=pattern
    )
    # A guard that the search is stopped (unbounded, it runs for years), not a target.
    assert time.perf_counter() - started < 5
    assert error.message == (
        f"pattern: took too long on this text (over {REGEX_TIMEOUT:g} s); it may backtrack"
        " catastrophically — simplify it."
    )


async def test_regex_extract_accepts_the_regex_package_extensions() -> None:
    assert (
        await result_of("text", value="Prix: 12 €", transform="regex_extract", pattern=r"\p{Sc}")
        == "€"
    )


def test_parse_number_reads_long_text_in_linear_time() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match="is not a number") as info:
        parse_number("1" + "x" * 200_000 + "1", "value")
    assert time.perf_counter() - started < 5  # was quadratic: minutes at this length
    assert len(str(info.value)) < 400 and "(200,002 characters)" in str(
        info.value
    )  # the message quotes the start only


# -- numbers ------------------------------------------------------------------------

NUMBER_CASES = [
    ({"value": "1,234.50", "operation": "parse"}, 1234.5),
    ({"value": "1.234,50", "operation": "parse", "decimal_separator": ","}, 1234.5),
    ({"value": "1 234,5 €", "operation": "parse", "decimal_separator": ","}, 1234.5),
    ({"value": "1.500", "operation": "parse", "decimal_separator": ","}, 1500),
    ({"value": "1234,5", "operation": "parse", "decimal_separator": ","}, 1234.5),
    ({"value": "$ -1,234", "operation": "parse"}, -1234),
    ({"value": "-$1,234.00", "operation": "parse"}, -1234),
    ({"value": "+42", "operation": "parse"}, 42),
    ({"value": "1e3", "operation": "parse"}, 1000),
    ({"value": " .5 kg", "operation": "parse"}, 0.5),
    ({"value": 7, "operation": "parse"}, 7),
    ({"value": 1234.5, "operation": "format", "currency_prefix": "$"}, "$1,234.50"),
    (
        {
            "value": -1234567.891,
            "operation": "format",
            "decimals": 1,
            "thousands_separator": ".",
            "decimal_separator": ",",
            "currency_suffix": " €",
        },
        "-1.234.567,9 €",
    ),
    (
        {"value": 2.675, "operation": "format"},
        "2.68",
    ),  # half up on the decimal value, not the float
    (
        {"value": "1234567", "operation": "format", "decimals": 0, "thousands_separator": ""},
        "1234567",
    ),
    ({"value": 999.999, "operation": "format", "thousands_separator": "'"}, "1'000.00"),
    ({"value": "0.1", "operation": "math", "math_operation": "add", "operand": 0.2}, 0.3),
    ({"value": 10, "operation": "math", "math_operation": "subtract", "operand": "2.5"}, 7.5),
    ({"value": 2.5, "operation": "math", "math_operation": "multiply", "operand": 2}, 5),
    ({"value": 10, "operation": "math", "math_operation": "divide", "operand": 4}, 2.5),
    ({"value": 1, "operation": "math", "math_operation": "divide", "operand": 3}, 1 / 3),
    ({"value": -2.5, "operation": "math", "math_operation": "round"}, -3),
    ({"value": 2.345, "operation": "math", "math_operation": "round", "decimals": 2}, 2.35),
    ({"value": 2.1, "operation": "math", "math_operation": "ceil"}, 3),
    ({"value": -2.1, "operation": "math", "math_operation": "floor"}, -3),
    ({"value": "-2.1", "operation": "math", "math_operation": "abs"}, 2.1),
]


@pytest.mark.parametrize(("inputs", "expected"), NUMBER_CASES)
async def test_numbers(inputs: dict[str, Any], expected: Any) -> None:
    result = await result_of("numbers", **inputs)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("inputs", "field", "fragment"),
    [
        (
            {"value": 10, "math_operation": "divide", "operand": 0},
            "operand",
            "cannot be divided by zero",
        ),
        (
            {"value": 10, "math_operation": "divide", "operand": "0.0"},
            "operand",
            "cannot be divided by zero",
        ),
        ({"value": 10, "math_operation": "add"}, "operand", "is required for add"),
        ({"value": 10}, "math_operation", "is required for math"),
        (
            {"value": 10, "math_operation": "add", "operand": "ten"},
            "operand",
            "'ten' is not a number",
        ),
        ({"value": 1e300, "math_operation": "multiply", "operand": 1e300}, "value", "too large"),
    ],
)
async def test_math_errors_name_the_field(
    inputs: dict[str, Any], field: str, fragment: str
) -> None:
    error = await error_of("numbers", operation="math", **inputs)
    assert error.errors[0]["field"] == field
    assert fragment in error.message


async def test_parse_errors_suggest_the_decimal_separator() -> None:
    error = await error_of("numbers", value="1,234.50", operation="parse", decimal_separator=",")
    assert error.message == (
        "value: '1,234.50' is not a number. Write it like '1234.5' or '1.234,50'; "
        "if it uses '.' as the decimal mark, set decimal_separator to '.'."
    )
    assert (
        "set decimal_separator to ','"
        in (await error_of("numbers", value="1,5", operation="parse")).message
    )
    assert (
        "'abc' is not a number"
        in (await error_of("numbers", value="abc", operation="parse")).message
    )
    assert "too large" in (await error_of("numbers", value="1e400", operation="parse")).message
    assert (
        "not a finite number"
        in (await error_of("numbers", value=float("nan"), operation="parse")).message
    )


async def test_numbers_refuse_booleans_and_overflowing_precision() -> None:
    with pytest.raises(ValueError, match="valid integer"):
        NumbersInput(value=True, operation="parse")  # type: ignore[arg-type]
    error = await error_of("numbers", value=1e50, operation="format", decimals=20)
    assert "too large or too precise" in error.message


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False))
def test_format_then_parse_round_trips(number: Any) -> None:
    for thousands, decimal in ((",", "."), (".", ","), (" ", ",")):
        inputs = NumbersInput(
            value=0, operation="format", thousands_separator=thousands, decimal_separator=decimal
        )  # type: ignore[arg-type]
        text = format_number(number, inputs)
        assert parse_number(text, "value", decimal) == number


# -- dates --------------------------------------------------------------------------

DATE_CASES = [
    # Days keep the wall-clock time across the spring change in Paris; hours move the instant.
    (
        {
            "value": "2026-03-28T09:00:00",
            "operation": "shift",
            "amount": 1,
            "from_timezone": "Europe/Paris",
        },
        "2026-03-29T09:00:00+02:00",
    ),
    (
        {
            "value": "2026-03-28T09:00:00",
            "operation": "shift",
            "amount": 24,
            "unit": "hours",
            "from_timezone": "Europe/Paris",
        },
        "2026-03-29T10:00:00+02:00",
    ),
    (
        {
            "value": "2026-03-28T02:30:00+01:00",
            "operation": "shift",
            "amount": 1,
            "from_timezone": "Europe/Paris",
            "to_timezone": "Europe/Paris",
        },
        "2026-03-29T03:30:00+02:00",
    ),
    (
        {"value": "2026-03-29T09:00:00Z", "operation": "shift", "amount": -2, "unit": "weeks"},
        "2026-03-15T09:00:00+00:00",
    ),
    (
        {"value": "2026-03-29T09:00:00Z", "operation": "shift", "amount": 90, "unit": "minutes"},
        "2026-03-29T10:30:00+00:00",
    ),
    (
        {"value": "2026-03-29T09:00:00Z", "operation": "shift", "amount": 30, "unit": "seconds"},
        "2026-03-29T09:00:30+00:00",
    ),
    (
        {"value": "2026-01-31", "operation": "shift", "amount": 1, "unit": "months"},
        "2026-02-28T00:00:00+00:00",
    ),
    (
        {"value": "2024-01-31", "operation": "shift", "amount": 1, "unit": "months"},
        "2024-02-29T00:00:00+00:00",
    ),
    (
        {"value": "2026-03-31", "operation": "shift", "amount": -1, "unit": "months"},
        "2026-02-28T00:00:00+00:00",
    ),
    (
        {"value": "2026-11-15", "operation": "shift", "amount": 3, "unit": "months"},
        "2027-02-15T00:00:00+00:00",
    ),
    (
        {"value": "2024-02-29", "operation": "shift", "amount": 1, "unit": "years"},
        "2025-02-28T00:00:00+00:00",
    ),
    ({"value": 1774767600, "operation": "parse"}, "2026-03-29T07:00:00+00:00"),
    ({"value": "1774767600", "operation": "parse"}, "2026-03-29T07:00:00+00:00"),
    ({"value": 1774767600.5, "operation": "parse"}, "2026-03-29T07:00:00.500000+00:00"),
    (
        {"value": "1774767600000", "operation": "parse", "to_timezone": "Europe/Paris"},
        "2026-03-29T09:00:00+02:00",
    ),
    (
        {"value": "2026-03-29", "operation": "parse", "from_timezone": "America/New_York"},
        "2026-03-29T00:00:00-04:00",
    ),
    (
        {
            "value": "2026-03-29T09:00:00Z",
            "operation": "convert_timezone",
            "to_timezone": "America/New_York",
        },
        "2026-03-29T05:00:00-04:00",
    ),
    (
        {
            "value": "2026-03-29T09:00:00+05:30",
            "operation": "convert_timezone",
            "to_timezone": "UTC",
        },
        "2026-03-29T03:30:00+00:00",
    ),
    (
        {
            "value": "2026-03-29T09:05:00Z",
            "operation": "format",
            "format": "%d/%m/%Y %H:%M",
            "to_timezone": "Europe/Paris",
        },
        "29/03/2026 11:05",
    ),
    ({"value": "2026-03-29", "operation": "format", "format": "%A %d %B"}, "Sunday 29 March"),
]


@pytest.mark.parametrize(("inputs", "expected"), DATE_CASES)
async def test_dates(inputs: dict[str, Any], expected: str) -> None:
    output = await run("dates", **inputs)
    assert output["result"] == expected
    if inputs["operation"] != "format":
        assert output["timestamp"] == datetime.fromisoformat(expected).timestamp()


async def test_now() -> None:
    before = datetime.now(UTC).timestamp()
    output = await run("dates", value=" NOW ", operation="parse")
    assert before <= output["timestamp"] <= datetime.now(UTC).timestamp()
    assert output["result"].endswith("+00:00")


@pytest.mark.parametrize(
    ("inputs", "field", "fragment"),
    [
        ({"value": "yesterday", "operation": "parse"}, "value", "is not a date. Use ISO 8601"),
        ({"value": 1e20, "operation": "parse"}, "value", "is not a date"),
        (
            {"value": "2026-03-29", "operation": "parse", "from_timezone": "Mars/Olympus"},
            "from_timezone",
            "not a known time zone",
        ),
        (
            {"value": "2026-03-29", "operation": "convert_timezone"},
            "to_timezone",
            "is required for convert_timezone",
        ),
        (
            {"value": "2026-03-29", "operation": "convert_timezone", "to_timezone": "Nowhere"},
            "to_timezone",
            "IANA name",
        ),
        ({"value": "2026-03-29", "operation": "format"}, "format", "is required for format"),
        ({"value": "2026-03-29", "operation": "shift"}, "amount", "is required for shift"),
        (
            {"value": "2026-03-29", "operation": "shift", "amount": 1.5, "unit": "months"},
            "amount",
            "whole number of months",
        ),
        (
            {"value": "9999-12-31", "operation": "shift", "amount": 1, "unit": "months"},
            "amount",
            "outside the years 1 to 9999",
        ),
        (
            {"value": "9999-12-31", "operation": "shift", "amount": 1, "unit": "days"},
            "amount",
            "outside the years 1 to 9999",
        ),
        (
            {"value": "2026-01-01", "operation": "shift", "amount": float("nan"), "unit": "days"},
            "amount",
            "outside the years 1 to 9999",
        ),
        (
            {"value": "2026-01-01", "operation": "shift", "amount": float("inf"), "unit": "months"},
            "amount",
            "outside the years 1 to 9999",
        ),
    ],
)
async def test_date_errors_name_the_field(
    inputs: dict[str, Any], field: str, fragment: str
) -> None:
    error = await error_of("dates", **inputs)
    assert error.errors[0]["field"] == field
    assert fragment in error.message


async def test_a_format_strftime_refuses_is_an_input_error() -> None:
    # pydantic refuses lone surrogates in JSON input; other platforms' strftime refuse more.
    inputs = DatesInput.model_construct(
        value="2026-03-29",
        operation="format",
        format="%Y \ud800",
        from_timezone="UTC",
        to_timezone=None,
        unit="days",
        amount=None,
    )
    with pytest.raises(InvalidInputError, match="format: '%Y .' is not a valid strftime pattern"):
        await dates(None, inputs)  # type: ignore[arg-type]


# -- data ---------------------------------------------------------------------------

DATA_CASES = [
    (
        {"value": {"a": 1, "b": 2, "c": 3}, "operation": "pick", "keys": ["a", "c", "z"]},
        {"a": 1, "c": 3},
    ),
    (
        {"value": [{"a": 1, "b": 2}, {"b": 3}], "operation": "pick", "keys": ["b"]},
        [{"b": 2}, {"b": 3}],
    ),
    (
        {"value": [{"a": 1, "b": 2}], "operation": "rename", "mapping": {"a": "A"}},
        [{"A": 1, "b": 2}],
    ),
    (
        {"value": {"a": {"b": {"c": 1}, "d": [1]}, "e": {}}, "operation": "flatten"},
        {"a.b.c": 1, "a.d": [1], "e": {}},
    ),
    ({"value": {"a": {"b": 1}}, "operation": "flatten", "separator": "__"}, {"a__b": 1}),
    ({"value": [[1, 2], 3, [4, [5]]], "operation": "flatten"}, [1, 2, 3, 4, [5]]),
    (
        {"value": ["a", 1, None, {"x": "é"}, True, False], "operation": "join"},
        'a, 1, , {"x": "é"}, true, false',
    ),
    ({"value": ["a", "b"], "operation": "join", "separator": ""}, "ab"),
    ({"value": [], "operation": "first"}, None),
    ({"value": [1, 2], "operation": "first"}, 1),
    ({"value": [1, 2], "operation": "last"}, 2),
    ({"value": [], "operation": "last"}, None),
    ({"value": None, "operation": "length"}, 0),
    ({"value": {"a": 1}, "operation": "length"}, 1),
    ({"value": "abc", "operation": "length"}, 3),
    ({"value": '{"a": [1, null]}', "operation": "parse_json"}, {"a": [1, None]}),
    ({"value": {"already": "data"}, "operation": "parse_json"}, {"already": "data"}),
    ({"value": {"a": "é"}, "operation": "to_json"}, '{"a": "é"}'),
    ({"value": [1], "operation": "to_json", "pretty": True}, "[\n  1\n]"),
]


@pytest.mark.parametrize(("inputs", "expected"), DATA_CASES)
async def test_data(inputs: dict[str, Any], expected: Any) -> None:
    assert await result_of("data", **inputs) == expected


@pytest.mark.parametrize(
    ("inputs", "field", "fragment"),
    [
        ({"value": {"a": 1}, "operation": "pick"}, "keys", "is required for pick"),
        (
            {"value": "text", "operation": "pick", "keys": ["a"]},
            "value",
            "must be an object or a list of objects for pick; got a text",
        ),
        (
            {"value": [1, {"a": 1}], "operation": "rename", "mapping": {"a": "b"}},
            "value",
            "got a list",
        ),
        ({"value": {"a": 1}, "operation": "rename"}, "mapping", "is required for rename"),
        ({"value": 3, "operation": "flatten"}, "value", "for flatten; got a number"),
        (
            {"value": {"a": 1}, "operation": "join"},
            "value",
            "must be a list for join; got an object",
        ),
        ({"value": None, "operation": "first"}, "value", "got nothing (null)"),
        ({"value": True, "operation": "length"}, "value", "got true/false"),
        ({"value": '{"a": ', "operation": "parse_json"}, "value", "is not valid JSON"),
    ],
)
async def test_data_errors_name_the_field(
    inputs: dict[str, Any], field: str, fragment: str
) -> None:
    error = await error_of("data", **inputs)
    assert error.errors[0]["field"] == field
    assert fragment in error.message


# -- lookup -------------------------------------------------------------------------


async def test_lookup() -> None:
    table = {"FR": "France", "DE": {"name": "Germany"}, "42": 42}
    assert await run("lookup", value="FR", table=table) == {"result": "France", "found": True}
    assert await run("lookup", value="fr", table=table) == {"result": None, "found": False}
    assert await run("lookup", value="fr", table=table, default="?") == {
        "result": "?",
        "found": False,
    }
    assert await run("lookup", value="de", table=table, case_sensitive=False) == {
        "result": {"name": "Germany"},
        "found": True,
    }
    assert await run("lookup", value="xx", table=table, case_sensitive=False, default=0) == {
        "result": 0,
        "found": False,
    }
    assert await run("lookup", value=42, table=table) == {"result": 42, "found": True}


# -- the app ------------------------------------------------------------------------


def test_app_shape_samples_and_schemas() -> None:
    assert default_registry().get("formatter") is app
    assert app.builtin and app.category == "Built-in" and not app.needs_connection
    assert [a.key for a in app.actions] == [
        "set_fields",
        "text",
        "numbers",
        "dates",
        "data",
        "lookup",
    ]
    for action in app.actions:
        assert action.kind == "transformer"
        action.output.model_validate(action.sample)
        schema = action.input_schema()
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{action.key}.{name} has no description"
        described = action.describe()
        assert described["sample"] == dict(action.sample)
    text_schema = app.action("text").input_schema()
    assert "enum" in text_schema["properties"]["transform"]  # rendered as a select
    assert app.describe()["actions"][0]["kind"] == "transformer"


def test_the_registry_lists_the_app_once() -> None:
    from connectors.registry import Registry

    registry = default_registry()
    assert "formatter" in registry and "nope" not in registry
    assert app in list(registry) and len(registry) == len(registry.keys())
    with pytest.raises(ValueError, match="Two apps use the key 'formatter'"):
        Registry([app, app])
    with pytest.raises(Exception, match="There is no app 'nope'"):
        registry.get("nope")


# -- through the cell runner --------------------------------------------------------


async def make_context(cell: Any, app: App, *, idempotency_key: str) -> OperationContext:
    return OperationContext(http=build_http(app_key=app.key), idempotency_key=idempotency_key)


async def run_cell(operation: str, inputs: dict[str, Any], trigger: dict[str, Any]) -> Any:
    cell = TransformerCell(
        id="fmt", kind="transformer", app="formatter", operation=operation, inputs=inputs
    )
    return await run_operation_cell(
        cell,
        {"trigger": trigger},
        apps=default_registry(),
        make_context=make_context,
        idempotency_key="cw-test",
    )


async def test_set_fields_through_the_cell_runner() -> None:
    trigger = {"body": {"amount": 100, "name": "ada"}}
    inputs = {
        "fields": {
            "total": "{{ trigger.body.amount * 1.2 }}",
            "name_upper": "{{ trigger.body.name | upper }}",
        }
    }
    result = await run_cell("set_fields", inputs, trigger)
    assert result.ok, result.error
    assert result.output == {"total": 120.0, "name_upper": "ADA"}


async def test_each_transformer_through_the_cell_runner() -> None:
    trigger = {
        "body": {
            "name": "ada lovelace",
            "price": "1.234,50",
            "at": "2026-03-28T09:00:00",
            "tags": ["a", "b"],
            "cc": "fr",
        }
    }
    cases = [
        (
            "text",
            {"value": "{{ trigger.body.name }}", "transform": "title"},
            {"result": "Ada Lovelace"},
        ),
        (
            "numbers",
            {"value": "{{ trigger.body.price }}", "operation": "parse", "decimal_separator": ","},
            {"result": 1234.5},
        ),
        (
            "dates",
            {
                "value": "{{ trigger.body.at }}",
                "operation": "shift",
                "amount": 1,
                "from_timezone": "Europe/Paris",
            },
            {"result": "2026-03-29T09:00:00+02:00", "timestamp": 1774767600.0},
        ),
        (
            "data",
            {"value": "{{ trigger.body.tags }}", "operation": "join", "separator": "|"},
            {"result": "a|b"},
        ),
        (
            "lookup",
            {"value": "{{ trigger.body.cc }}", "table": {"FR": "France"}, "case_sensitive": False},
            {"result": "France", "found": True},
        ),
    ]
    for operation, inputs, expected in cases:
        result = await run_cell(operation, inputs, trigger)
        assert result.ok, (operation, result.error)
        assert result.output == expected


async def test_cell_runner_reports_operation_errors_and_validation_errors() -> None:
    divide = {
        "value": 10,
        "operation": "math",
        "math_operation": "divide",
        "operand": "{{ trigger.zero }}",
    }
    result = await run_cell("numbers", divide, {"zero": 0})
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "invalid_input"
    assert result.error["message"].startswith("operand: is 0")
    assert result.error["details"]["errors"] == [
        {"field": "operand", "message": result.error["message"].removeprefix("operand: ")}
    ]

    unknown = await run_cell("text", {"value": "x", "transform": "reverse"}, {})
    assert unknown.error is not None and unknown.error["code"] == "invalid_input"
    assert "transform" in unknown.error["message"]
