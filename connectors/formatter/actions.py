"""The Formatter's transformers: pure functions over their inputs.

Every failure is an ``InvalidInputError`` whose message names the field and says what
to do, so the workspace can point at the field and the assistant can fix the mapping.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex  # type: ignore[import-untyped]  # no stubs in the dev group

from connectors.formatter.schemas import (
    DataInput,
    DatesInput,
    DatesOutput,
    LookupInput,
    LookupOutput,
    NumbersInput,
    ResultOutput,
    SetFieldsInput,
    TextInput,
)
from connectors.sdk import InvalidInputError, OperationContext


def invalid(field: str, message: str) -> InvalidInputError:
    """An input error about one field."""
    return InvalidInputError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _require(value: Any, field: str, operation: str) -> Any:
    if value is None or value == "":
        raise invalid(field, f"is required for {operation}; fill it in.")
    return value


# -- set fields ---------------------------------------------------------------------


async def set_fields(ctx: OperationContext, inputs: SetFieldsInput) -> dict[str, Any]:
    """Output exactly the given fields (their values are already rendered)."""
    return inputs.fields


# -- text ---------------------------------------------------------------------------


async def text(ctx: OperationContext, inputs: TextInput) -> ResultOutput:
    """Change case, trim, replace, split, extract, truncate, fill a template, slugify."""
    return ResultOutput(result=_TEXT[inputs.transform](inputs))


def _replace(inputs: TextInput) -> str:
    find = _require(inputs.find, "find", "replace")
    return inputs.value.replace(find, inputs.replace_with)


def _split(inputs: TextInput) -> list[str]:
    return inputs.value.split(inputs.separator or None)


REGEX_TIMEOUT = 0.25
"""Seconds one ``regex_extract`` search may run. Nested repetition such as ``(a|aa)+$``
can backtrack for hours on a short text, blocking every other run; real patterns on
real text take microseconds."""


def _regex_extract(inputs: TextInput) -> str | None:
    pattern = _require(inputs.pattern, "pattern", "regex_extract")
    # The ``regex`` package (its default V0 syntax is Python's ``re`` syntax plus a few
    # extensions) because, unlike ``re``, it can stop a search after a timeout.
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise invalid("pattern", f"is not a valid regular expression ({exc}).") from None
    try:
        match = compiled.search(inputs.value, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise invalid(
            "pattern",
            f"took too long on this text (over {REGEX_TIMEOUT:g} s); it may backtrack"
            " catastrophically — simplify it.",
        ) from None
    if match is None:
        return None
    group = (
        int(inputs.group)
        if isinstance(inputs.group, str) and inputs.group.isdigit()
        else inputs.group
    )
    try:
        found: str | None = match.group(group)  # None: an optional group that took no part
    except IndexError:
        groups = compiled.groups
        names = ", ".join(compiled.groupindex) or "none"
        raise invalid(
            "group",
            f"'{inputs.group}' is not a group of the pattern; it has {groups} numbered "
            f"group(s), named: {names}.",
        ) from None
    return found


def _truncate(inputs: TextInput) -> str:
    max_length = _require(inputs.max_length, "max_length", "truncate")
    if len(inputs.value) <= max_length:
        return inputs.value
    if len(inputs.suffix) >= max_length:
        return inputs.value[:max_length]
    return inputs.value[: max_length - len(inputs.suffix)] + inputs.suffix


_MAX_FORMAT_WIDTH = 1000


def _template(inputs: TextInput) -> str:
    template: str = _require(inputs.template, "template", "template")
    values = {"value": inputs.value, **inputs.values}
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise invalid(
            "template",
            f"is malformed ({exc}); write {{name}} placeholders and {{{{ }}}} for literal braces.",
        ) from None
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise invalid(
                "template",
                f"'{{{name}}}' is not allowed: use plain names such as {{first_name}} "
                "(no positions, attributes or indexes); put the value you need in 'values'.",
            )
        if name not in values:
            known = ", ".join(sorted(values))
            raise invalid(
                "values", f"has no '{name}' for the template's {{{name}}}; add it (known: {known})."
            )
        if spec and (
            "{" in spec or any(int(n) > _MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec))
        ):
            raise invalid(
                "template",
                f"the format '{spec}' of {{{name}}} is not allowed (nested fields or widths "
                f"over {_MAX_FORMAT_WIDTH}).",
            )
    try:
        return template.format_map(values)
    except (ValueError, TypeError) as exc:
        raise invalid("template", f"could not be filled: {exc}.") from None


def _slugify(inputs: TextInput) -> str:
    separator = inputs.separator or "-"
    ascii_text = (
        unicodedata.normalize("NFKD", inputs.value).encode("ascii", "ignore").decode("ascii")
    )
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return separator.join(words)


_TEXT: dict[str, Callable[[TextInput], Any]] = {
    "upper": lambda i: i.value.upper(),
    "lower": lambda i: i.value.lower(),
    "title": lambda i: i.value.title(),
    "capitalize": lambda i: i.value.capitalize(),
    "trim": lambda i: i.value.strip(),
    "replace": _replace,
    "split": _split,
    "regex_extract": _regex_extract,
    "truncate": _truncate,
    "template": _template,
    "slugify": _slugify,
    "length": lambda i: len(i.value),
}


# -- numbers ------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = {
    ".": re.compile(r"[+-]?(?:\d{1,3}(?:[, '\u00a0\u202f]\d{3})+|\d+)(?:\.\d+)?"),
    ",": re.compile(r"[+-]?(?:\d{1,3}(?:[. '\u00a0\u202f]\d{3})+|\d+)(?:,\d+)?"),
}
_LEADING = re.compile(r"^[^\d+\-.,]*")  # currency symbols and codes: "$", "EUR "
# Up to the last digit or separator, dropping units such as " €", " kg". Anchored at
# the start: a search for the unit itself ("[^\d.,]*$") would rescan the rest of the
# text from every position, quadratic in the text's length.
_UP_TO_LAST_DIGIT = re.compile(r".*[\d.,]", re.DOTALL)
_MAX_EXPONENT = 300


def parse_number(value: Any, field: str, decimal_separator: str = ".") -> Decimal:
    """A number or a text holding one, as a finite ``Decimal``."""
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid(field, f"{value} is not a finite number.")
        return Decimal(str(value))
    text = _LEADING.sub("", str(value).strip())
    sign = ""
    if text[:1] in ("+", "-"):
        sign, text = text[0], _LEADING.sub("", text[1:])
    number_part = _UP_TO_LAST_DIGIT.match(text)
    text = number_part.group() if number_part else ""
    number: Decimal | None = None
    if _PLAIN_NUMBER.fullmatch(text) and not (decimal_separator == "," and "." in text):
        number = Decimal(sign + text)
    elif _GROUPED[decimal_separator].fullmatch(text):
        digits = re.sub(r"[^\d,.]", "", text)
        thousands = "," if decimal_separator == "." else "."
        number = Decimal(sign + digits.replace(thousands, "").replace(",", "."))
    if number is not None:
        if number.adjusted() > _MAX_EXPONENT:
            raise invalid(field, f"'{_shown(value)}' is too large.")
        return number
    other = "," if decimal_separator == "." else "."
    raise invalid(
        field,
        f"'{_shown(value)}' is not a number. Write it like '1234.5' or "
        f"'1{other}234{decimal_separator}50'; if it uses '{other}' as the decimal mark, "
        f"set decimal_separator to '{other}'.",
    )


def _shown(value: object, limit: int = 60) -> str:
    """``value`` as quoted in an error message: long text is cut (it may be megabytes)."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _plain(number: Decimal) -> int | float:
    """An int when the number is whole, else a float."""
    if number.adjusted() > _MAX_EXPONENT:
        raise invalid("value", "the result is too large.")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def format_number(number: Decimal, inputs: NumbersInput) -> str:
    decimals = 2 if inputs.decimals is None else inputs.decimals
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = inputs.thousands_separator.join([whole, *groups])
    if fraction:
        text += inputs.decimal_separator + fraction
    sign = "-" if rounded < 0 else ""
    return f"{sign}{inputs.currency_prefix}{text}{inputs.currency_suffix}"


def _math(number: Decimal, inputs: NumbersInput) -> int | float:
    op = _require(inputs.math_operation, "math_operation", "math")
    if op in ("add", "subtract", "multiply", "divide"):
        operand = parse_number(_require(inputs.operand, "operand", op), "operand")
        if op == "add":
            return _plain(number + operand)
        if op == "subtract":
            return _plain(number - operand)
        if op == "multiply":
            return _plain(number * operand)
        if operand == 0:
            raise invalid(
                "operand",
                "is 0 and a number cannot be divided by zero; map a non-zero operand or add "
                "a filter before this cell.",
            )
        return _plain(number / operand)
    if op == "abs":
        return _plain(abs(number))
    rounding = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[op]
    decimals = inputs.decimals or 0
    return _plain(number.quantize(Decimal(1).scaleb(-decimals), rounding=rounding))


async def numbers(ctx: OperationContext, inputs: NumbersInput) -> ResultOutput:
    """Parse numbers from text, format them as text, or compute with them."""
    separator = inputs.decimal_separator if inputs.operation == "parse" else "."
    number = parse_number(inputs.value, "value", separator)
    try:
        with localcontext(prec=60):
            if inputs.operation == "parse":
                return ResultOutput(result=_plain(number))
            if inputs.operation == "format":
                return ResultOutput(result=format_number(number, inputs))
            return ResultOutput(result=_math(number, inputs))
    except InvalidOperation:
        raise invalid("value", "the result is too large or too precise to compute.") from None


# -- dates --------------------------------------------------------------------------

_EPOCH_MS_THRESHOLD = 100_000_000_000
"""Past this many seconds (year 5138) an epoch is milliseconds (JavaScript's Date.now())."""


def zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(
            field,
            f"'{name}' is not a known time zone; use an IANA name such as 'Europe/Paris' or 'UTC'.",
        ) from None


def parse_date(value: str | int | float, default_zone: ZoneInfo) -> datetime:
    """An aware datetime from ISO 8601, epoch seconds (or milliseconds) or 'now'."""
    if isinstance(value, str) and value.strip().lower() == "now":
        return datetime.now(UTC)
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        number = float(value)
    try:
        if number is not None:
            if abs(number) >= _EPOCH_MS_THRESHOLD:
                number /= 1000
            return datetime.fromtimestamp(number, UTC)
        text = str(value).strip()
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise invalid(
            "value",
            f"'{value}' is not a date. Use ISO 8601 ('2026-03-29T09:00:00+02:00' or "
            "'2026-03-29'), epoch seconds, or 'now'.",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise invalid("amount", "moves the date outside the years 1 to 9999.")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def shift(moment: datetime, amount: float, unit: str) -> datetime:
    """``moment`` moved by ``amount`` units (see ``DatesInput.unit`` for the rules)."""
    try:
        if unit in ("months", "years"):
            if amount != int(amount):
                raise invalid("amount", f"must be a whole number of {unit}; got {amount}.")
            return _add_months(moment, int(amount) * (12 if unit == "years" else 1))
        if unit in ("days", "weeks"):
            # Wall-clock arithmetic: aware + timedelta keeps the local time; fold=0 and
            # the round trip through UTC settle times that fall in a DST gap.
            local = moment + timedelta(**{unit: amount})
            return local.astimezone(UTC).astimezone(local.tzinfo)
        return (moment.astimezone(UTC) + timedelta(**{unit: amount})).astimezone(moment.tzinfo)
    except (OverflowError, ValueError):  # ValueError: NaN
        raise invalid("amount", "moves the date outside the years 1 to 9999.") from None


async def dates(ctx: OperationContext, inputs: DatesInput) -> DatesOutput:
    """Parse, format, shift and convert dates and times, time zones included."""
    moment = parse_date(inputs.value, zone(inputs.from_timezone, "from_timezone"))
    if inputs.operation == "convert_timezone":
        _require(inputs.to_timezone, "to_timezone", "convert_timezone")
    if inputs.operation == "shift":
        moment = shift(moment, _require(inputs.amount, "amount", "shift"), inputs.unit)
    if inputs.to_timezone:
        moment = moment.astimezone(zone(inputs.to_timezone, "to_timezone"))
    if inputs.operation == "format":
        pattern = _require(inputs.format, "format", "format")
        try:
            result = moment.strftime(pattern)
        except ValueError as exc:
            raise invalid(
                "format", f"'{pattern}' is not a valid strftime pattern ({exc})."
            ) from None
    else:
        result = moment.isoformat()
    return DatesOutput(result=result, timestamp=moment.timestamp())


# -- data ---------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false"}.get(
        type(value), "a number"
    )


def _objects(
    value: Any, operation: str, each: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> Any:
    if isinstance(value, Mapping):
        return each(value)
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return [each(item) for item in value]
    raise invalid(
        "value", f"must be an object or a list of objects for {operation}; got {_describe(value)}."
    )


def _flatten_object(value: Mapping[str, Any], separator: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            flat.update(_flatten_object(item, separator, name))
        else:
            flat[name] = item
    return flat


def _flatten(inputs: DataInput) -> Any:
    if isinstance(inputs.value, Mapping):
        return _flatten_object(inputs.value, inputs.separator or ".")
    if isinstance(inputs.value, list):
        return [x for item in inputs.value for x in (item if isinstance(item, list) else [item])]
    raise invalid(
        "value", f"must be an object or a list for flatten; got {_describe(inputs.value)}."
    )


def _text_of(item: Any) -> str:
    if item is None:
        return ""
    if isinstance(item, dict | list):
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _list(inputs: DataInput) -> list[Any]:
    if not isinstance(inputs.value, list):
        raise invalid(
            "value", f"must be a list for {inputs.operation}; got {_describe(inputs.value)}."
        )
    return inputs.value


def _length(inputs: DataInput) -> int:
    if inputs.value is None:
        return 0
    if isinstance(inputs.value, list | dict | str):
        return len(inputs.value)
    raise invalid(
        "value", f"must be a list, an object or a text for length; got {_describe(inputs.value)}."
    )


def _parse_json(inputs: DataInput) -> Any:
    if not isinstance(inputs.value, str):
        return inputs.value  # already data: mapping often parses JSON for us
    try:
        return json.loads(inputs.value)
    except ValueError as exc:
        raise invalid("value", f"is not valid JSON ({exc}).") from None


def _pick(inputs: DataInput) -> Any:
    if not inputs.keys:
        raise invalid("keys", "is required for pick; list the keys to keep.")
    return _objects(inputs.value, "pick", lambda obj: {k: obj[k] for k in inputs.keys if k in obj})


def _rename(inputs: DataInput) -> Any:
    if not inputs.mapping:
        raise invalid("mapping", "is required for rename; give old key → new key pairs.")
    return _objects(
        inputs.value, "rename", lambda obj: {inputs.mapping.get(k, k): v for k, v in obj.items()}
    )


_DATA: dict[str, Callable[[DataInput], Any]] = {
    "pick": _pick,
    "rename": _rename,
    "flatten": _flatten,
    "join": lambda i: (", " if i.separator is None else i.separator).join(
        _text_of(x) for x in _list(i)
    ),
    "first": lambda i: _list(i)[0] if _list(i) else None,
    "last": lambda i: _list(i)[-1] if _list(i) else None,
    "length": _length,
    "parse_json": _parse_json,
    "to_json": lambda i: json.dumps(
        i.value, ensure_ascii=False, indent=2 if i.pretty else None, default=str
    ),
}


async def data(ctx: OperationContext, inputs: DataInput) -> ResultOutput:
    """Reshape JSON data: pick, rename, flatten, join, first, last, length, (de)serialise."""
    return ResultOutput(result=_DATA[inputs.operation](inputs))


# -- lookup -------------------------------------------------------------------------


async def lookup(ctx: OperationContext, inputs: LookupInput) -> LookupOutput:
    """Map a key to a value with a table, e.g. country codes to names."""
    if inputs.value in inputs.table:
        return LookupOutput(result=inputs.table[inputs.value], found=True)
    if not inputs.case_sensitive:
        wanted = inputs.value.casefold()
        for key, item in inputs.table.items():
            if key.casefold() == wanted:
                return LookupOutput(result=item, found=True)
    return LookupOutput(result=inputs.default, found=False)


__all__ = ["data", "dates", "lookup", "numbers", "set_fields", "text"]
