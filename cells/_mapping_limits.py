"""Size limits of the mapping language.

Jinja's sandbox stops escapes to Python internals but not memory bombs: ``'x' * 10**9``,
``2 ** 10**9`` or ``'{:>999999999}'.format(1)`` each allocate gigabytes from a few
characters of source. These checks estimate a result's size *before* it is built and
raise :class:`ExpressionError` past the limits below (documented in docs/mapping.md).
They cover the operators (``+``, ``*``, ``%``, ``**``; ``~`` is measured by
``_mapping_budget``), the text methods and the builtin filters that multiply their
input; everything else is bounded by the size of its input, by the evaluation's data
allowance (``MAX_MADE``) and by ``MAX_STRING`` / ``MAX_VALUE`` on the final result.

The guarded filters take the template context so that what they build is charged to
the evaluation's budget (``context.budget``, see ``_mapping_budget``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import filters as jinja_filters
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.utils import pass_context

from cells._mapping_filters import ExpressionError, check_indent, ensure_defined
from cells._mapping_sizes import MAX_ITEMS, MAX_VALUE, measure

__all__ = ["MAX_ITEMS", "MAX_POWER_BITS", "MAX_STRING", "MAX_VALUE", "MAX_WRAP"]

MAX_STRING = 1_000_000
"""Longest text (or bytes) a mapping may produce, in characters (also the widest padding)."""
MAX_POWER_BITS = 100_000
"""Largest integer ``**`` may produce, in bits (about 30,000 decimal digits)."""
MAX_WRAP = 100_000
"""Longest text ``wordwrap`` takes: Python's textwrap takes seconds on a few hundred
thousand characters."""

# What follows ``%`` (and its mapping key) in printf-style formatting: flags, width,
# precision.
_PERCENT_SPEC = re.compile(r"[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")
_DIGITS = re.compile(r"\d+")
_TEXT = (str, bytes)


def check_size(size: int, what: str) -> int:
    """Raise when ``what`` would produce more than ``MAX_STRING`` characters; else ``size``."""
    if size > MAX_STRING:
        raise ExpressionError(
            f"{what} would produce {size:,} characters (the limit is {MAX_STRING:,})"
        )
    return size


def check_items(count: int, what: str) -> None:
    """Raise when ``what`` would build a list of more than ``MAX_ITEMS`` items."""
    if count > MAX_ITEMS:
        raise ExpressionError(
            f"{what} would build a list of {count:,} items (the limit is {MAX_ITEMS:,})"
        )


def check_value(size: int, what: str) -> None:
    """Raise when ``what`` would build a list or object larger than ``MAX_VALUE``."""
    if size > MAX_VALUE:
        raise ExpressionError(
            f"{what} would build a value of about {size:,} characters (the limit is {MAX_VALUE:,})"
        )


def check_repeat(left: Any, right: Any) -> int:
    """Guard ``*``: text, bytes or a list repeated past the limits, and integer
    products past ``MAX_POWER_BITS`` (``{% set n = n * n %}`` twenty times over would
    square its way to billions of digits). Returns the size of text built (0 for lists:
    they hold references, measured when turned into text)."""
    if _integer(left) and _integer(right):
        bits = abs(left).bit_length() + abs(right).bit_length()
        if bits > MAX_POWER_BITS:
            raise ExpressionError(
                f"a product of about {bits:,} bits is too large to compute"
                f" (at most {MAX_POWER_BITS:,})"
            )
        return 0
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, bool) or not isinstance(times, int):
            continue
        if isinstance(seq, _TEXT):
            return check_size(len(seq) * times, "'*'")
        if isinstance(seq, list | tuple):
            check_items(len(seq) * times, "'*'")
            # [big] * 100 costs 100 references, but becomes 100 copies of big as text,
            # as JSON in the recorded inputs, or through flatten.
            check_value((measure(seq) - 2) * times + 2, "'*'")
    return 0


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_add(left: Any, right: Any) -> int:
    """Guard ``+`` on text, bytes and lists. Returns the size of text built."""
    if isinstance(left, _TEXT) and isinstance(right, _TEXT):
        return check_size(len(left) + len(right), "'+'")
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        check_items(len(left) + len(right), "'+'")
    return 0


def check_power(base: Any, exponent: Any) -> None:
    """Guard ``**``: integer powers with more than ``MAX_POWER_BITS`` bits."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if abs(base).bit_length() * exponent > MAX_POWER_BITS:
            raise ExpressionError(f"{base} ** {exponent} is too large to compute")


def check_percent(template: Any, values: Any) -> int:
    """Guard ``'%10s' % x``: widths, and the size of the values written into the text."""
    if not isinstance(template, _TEXT):
        return 0
    if isinstance(template, str):
        check_percent_format(template)
    return check_size(len(template) + measure(values), "'%' formatting")


def check_percent_format(template: str) -> None:
    """Guard ``'%10s' % x`` and the ``format`` filter against huge widths."""
    for width, precision in _percent_specs(template):
        _check_widths((width, precision), "'%' formatting")


def _percent_specs(template: str) -> Iterable[tuple[str, str]]:
    """(width, precision) of every conversion, read the way Python reads them.

    A mapping key may hold balanced parentheses (``'%(a(b))5s'`` has the key ``a(b)``).
    One pass over the text: a regular expression with an optional ``(key)`` would
    rescan the rest of the text at every ``%(`` that is never closed.
    """
    pos = template.find("%")
    while pos != -1:
        pos += 1
        if template.startswith("(", pos):
            depth, pos = 1, pos + 1
            while depth:
                close = template.find(")", pos)
                if close == -1:
                    return  # Python refuses the text: "incomplete format key"
                depth += template.count("(", pos, close) - 1
                pos = close + 1
        spec = _PERCENT_SPEC.match(template, pos)
        if spec is None:  # pragma: no cover - every part of the pattern is optional
            return
        yield spec.group(1) or "", spec.group(2) or ""
        # The character after the spec is the conversion (``s``, ``d``, or ``%`` in
        # ``%%``), never the start of the next one.
        pos = template.find("%", spec.end() + 1)


def check_str_format(template: str) -> None:
    """Guard ``'{:>10}'.format(x)`` against huge or computed widths."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # the call itself reports the malformed format string
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise ExpressionError("format(): computed widths such as '{:{w}}' are not supported")
        _check_widths(_DIGITS.findall(spec or ""), "format()")


def _check_widths(widths: Iterable[str], what: str) -> None:
    for width in widths:
        if width == "*":
            raise ExpressionError(f"{what}: '*' widths are not supported")
        if width and int(width) > MAX_STRING:
            raise ExpressionError(f"{what}: width {width} is larger than {MAX_STRING:,}")


def check_replace(text: str | bytes, old: Any, new: Any, count: int | None = None) -> int:
    """Guard ``replace``: ``'aaa'.replace('', 'x' * 1000)`` multiplies the text."""
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return check_size(len(text) + hits * (len(new) - len(old)), "replace")


def bounded_join(items: Iterable[Any], separator: Any, to_str: Callable[[Any], Any]) -> Any:
    """Join like ``str.join`` but stop before the result passes ``MAX_STRING``.

    An item that is not text is measured before ``to_str`` turns it into text: a list
    that holds one big text many times is refused before its text is built.
    """
    parts: list[Any] = []
    total = 0
    for item in items:
        if not isinstance(item, _TEXT):
            check_size(total + measure(item), "join")
        text = to_str(item)
        total += len(text) + len(separator)
        check_size(total, "join")
        parts.append(text)
    return separator.join(parts)


_PADDING = ("ljust", "rjust", "center", "zfill")


def check_str_method(
    text: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> int:
    """Guard the text (and bytes) methods that pad or multiply: ``'x'.ljust(10**9)``.

    Returns about how many characters the call builds (the text's length for the
    methods that keep it about as long).
    """
    first = args[0] if args else None
    if name in _PADDING:
        width = first if first is not None else kwargs.get("width")
        if isinstance(width, int):
            return check_size(max(width, len(text)), name)
    elif name == "expandtabs":
        tabsize = first if first is not None else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            tab = "\t" if isinstance(text, str) else b"\t"
            return check_size(len(text) + text.count(tab) * tabsize, name)  # type: ignore[arg-type]
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count")
        if isinstance(old, type(text)) and isinstance(new, type(text)):
            return check_replace(text, old, new, count if isinstance(count, int) else None)
    elif name == "translate" and isinstance(text, str) and args:
        # {97: 'x' * 1000} turns every 'a' into a thousand characters
        table = args[0]
        longest = max(
            (len(v) for v in getattr(table, "values", list)() if isinstance(v, str)), default=1
        )
        return check_size(len(text) * max(longest, 1), name)
    return len(text)


def _soft_text(value: Any) -> str:
    return str(ensure_defined(value))


def _charge(context: Context, size: int, what: str) -> None:
    budget = getattr(context, "budget", None)  # a BudgetedContext (see _mapping_budget)
    if budget is not None:
        budget.charge(size, what)


@pass_context
def _join_filter(
    context: Context, value: Any, d: str = "", attribute: str | int | None = None
) -> str:
    items: Iterable[Any] = ensure_defined(value)
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = (getter(item) for item in items)
    text: str = bounded_join(items, str(d), _soft_text)
    _charge(context, len(text), "join")
    return text


@pass_context
def _replace_filter(context: Context, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = _soft_text(s), _soft_text(old), _soft_text(new)
    _charge(context, check_replace(text, old_text, new_text, count), "replace")
    return jinja_filters.do_replace(context.eval_ctx, text, old_text, new_text, count)


@pass_context
def _center_filter(context: Context, value: Any, width: int = 80) -> str:
    _charge(context, check_size(width, "center"), "center")
    return jinja_filters.do_center(value, width)


@pass_context
def _indent_filter(
    context: Context, s: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    text = _soft_text(s)
    step = len(width) if isinstance(width, str) else width
    size = check_size(len(text) + (text.count("\n") + 1) * step, "indent")
    _charge(context, size, "indent")
    return jinja_filters.do_indent(text, width, first, blank)


@pass_context
def _wordwrap_filter(
    context: Context,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    environment = context.environment
    text = _soft_text(s)
    if len(text) > MAX_WRAP:
        raise ExpressionError(
            f"wordwrap works on text up to {MAX_WRAP:,} characters (this one has {len(text):,})"
        )
    separator = wrapstring if wrapstring is not None else environment.newline_sequence
    lines = len(text) // max(width, 1) + text.count("\n") + 1
    _charge(context, check_size(len(text) + lines * len(separator), "wordwrap"), "wordwrap")
    return jinja_filters.do_wordwrap(
        environment, text, width, break_long_words, wrapstring, break_on_hyphens
    )


@pass_context
def _format_filter(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
    template = _soft_text(value)
    check_percent_format(template)
    size = check_size(len(template) + measure(args) + measure(kwargs), "format")
    _charge(context, size, "format")
    return jinja_filters.do_format(value, *args, **kwargs)


@pass_context
def _tojson_filter(context: Context, value: Any, indent: int | None = None) -> Any:
    check_indent(indent)
    return jinja_filters.do_tojson(context.eval_ctx, value, indent)


@pass_context
def _sum_filter(
    context: Context, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """``sum`` that stops before adding up texts or lists past the limits."""
    getter = make_attrgetter(context.environment, attribute) if attribute is not None else None
    total = start
    for item in iterable:
        value = getter(item) if getter is not None else item
        if isinstance(total, _TEXT) and isinstance(value, _TEXT):
            _charge(context, check_add(total, value), "sum")
        elif isinstance(total, list | tuple) and isinstance(value, list | tuple):
            check_add(total, value)
        total = total + value
    return total


def _count_guard(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(value: Any, count: int, fill_with: Any = None) -> Any:
        if isinstance(count, int) and count > MAX_ITEMS:
            raise ExpressionError(f"{name}: {count:,} is larger than {MAX_ITEMS:,}")
        return original(value, count, fill_with)

    return guarded


# Builtin filters replaced by guarded versions with the same signatures.
GUARDED_FILTERS: dict[str, Callable[..., Any]] = {
    "join": _join_filter,
    "replace": _replace_filter,
    "center": _center_filter,
    "indent": _indent_filter,
    "wordwrap": _wordwrap_filter,
    "format": _format_filter,
    "tojson": _tojson_filter,
    "sum": _sum_filter,
    "batch": _count_guard("batch", jinja_filters.do_batch),
    "slice": _count_guard("slice", jinja_filters.sync_do_slice),
}
