"""Size limits of the mapping language.

Jinja's sandbox stops escapes to Python internals but not memory bombs: ``'x' * 10**9``,
``2 ** 10**9`` or ``'{:>999999999}'.format(1)`` each allocate gigabytes from a few
characters of source. These checks estimate a result's size *before* it is built and
raise :class:`ExpressionError` past the limits below (documented in docs/mapping.md).
They cover the operators, string methods and builtin filters that multiply their
input; everything else is bounded by the size of its input and by ``MAX_STRING`` on
the final result.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import filters as jinja_filters
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.utils import pass_environment, pass_eval_context

from cells._mapping_filters import ExpressionError, check_indent, ensure_defined

MAX_STRING = 1_000_000
"""Longest text a mapping may produce, in characters (also the widest padding)."""
MAX_ITEMS = 1_000_000
"""Longest list ``*``, ``batch`` or ``slice`` may produce."""
MAX_POWER_BITS = 100_000
#: ``wordwrap`` (Python's textwrap) takes seconds on a few hundred thousand characters
MAX_WRAP = 100_000
"""Largest integer ``**`` may produce, in bits (about 30,000 decimal digits)."""

# What follows ``%`` (and its mapping key) in printf-style formatting: flags, width,
# precision.
_PERCENT_SPEC = re.compile(r"[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")
_DIGITS = re.compile(r"\d+")


def check_size(size: int, what: str) -> None:
    """Raise when ``what`` would produce more than ``MAX_STRING`` characters."""
    if size > MAX_STRING:
        raise ExpressionError(
            f"{what} would produce {size:,} characters (the limit is {MAX_STRING:,})"
        )


def check_repeat(left: Any, right: Any) -> None:
    """Guard ``*``: text or list repeated past the limits."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            if isinstance(seq, str):
                check_size(len(seq) * times, "'*'")
            elif len(seq) * times > MAX_ITEMS:
                raise ExpressionError(
                    f"'*' would build a list of {len(seq) * times:,} items"
                    f" (the limit is {MAX_ITEMS:,})"
                )


def check_power(base: Any, exponent: Any) -> None:
    """Guard ``**``: integer powers with more than ``MAX_POWER_BITS`` bits."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if abs(base).bit_length() * exponent > MAX_POWER_BITS:
            raise ExpressionError(f"{base} ** {exponent} is too large to compute")


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


def check_replace(text: str, old: str, new: str, count: int | None = None) -> None:
    """Guard ``replace``: ``'aaa'.replace('', 'x' * 1000)`` multiplies the text."""
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)), "replace")


def bounded_join(items: Iterable[Any], separator: str, to_str: Callable[[Any], str]) -> str:
    """Join like ``str.join`` but stop as soon as the result passes ``MAX_STRING``."""
    parts: list[str] = []
    total = 0
    for item in items:
        text = to_str(item)
        total += len(text) + len(separator)
        check_size(total, "join")
        parts.append(text)
    return separator.join(parts)


def check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Guard the text methods that pad or multiply: ``'x'.ljust(10**9)`` and friends."""
    first = args[0] if args else None
    if name in ("ljust", "rjust", "center", "zfill"):
        width = first if first is not None else kwargs.get("width")
        if isinstance(width, int):
            check_size(width, name)
    elif name == "expandtabs":
        tabsize = first if first is not None else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            check_size(len(text) + text.count("\t") * tabsize, name)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count")
        if isinstance(old, str) and isinstance(new, str):
            check_replace(text, old, new, count if isinstance(count, int) else None)


def _soft_text(value: Any) -> str:
    return str(ensure_defined(value))


@pass_eval_context
def _join_filter(
    eval_ctx: EvalContext, value: Any, d: str = "", attribute: str | int | None = None
) -> str:
    items: Iterable[Any] = ensure_defined(value)
    if attribute is not None:
        getter = make_attrgetter(eval_ctx.environment, attribute)
        items = (getter(item) for item in items)
    return bounded_join(items, str(d), _soft_text)


@pass_eval_context
def _replace_filter(
    eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None
) -> str:
    text, old_text, new_text = _soft_text(s), _soft_text(old), _soft_text(new)
    check_replace(text, old_text, new_text, count)
    return jinja_filters.do_replace(eval_ctx, text, old_text, new_text, count)


def _center_filter(value: Any, width: int = 80) -> str:
    check_size(width, "center")
    return jinja_filters.do_center(value, width)


def _indent_filter(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = _soft_text(s)
    step = len(width) if isinstance(width, str) else width
    check_size(len(text) + (text.count("\n") + 1) * step, "indent")
    return jinja_filters.do_indent(text, width, first, blank)


@pass_environment
def _wordwrap_filter(
    environment: Any,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    text = _soft_text(s)
    if len(text) > MAX_WRAP:
        raise ExpressionError(f"wordwrap works on text up to {MAX_WRAP:,} characters (this one has {len(text):,})")
    separator = wrapstring if wrapstring is not None else environment.newline_sequence
    lines = len(text) // max(width, 1) + text.count("\n") + 1
    check_size(len(text) + lines * len(separator), "wordwrap")
    return jinja_filters.do_wordwrap(
        environment, text, width, break_long_words, wrapstring, break_on_hyphens
    )


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    check_percent_format(_soft_text(value))
    return jinja_filters.do_format(value, *args, **kwargs)


@pass_eval_context
def _tojson_filter(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    check_indent(indent)
    return jinja_filters.do_tojson(eval_ctx, value, indent)


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
    "batch": _count_guard("batch", jinja_filters.do_batch),
    "slice": _count_guard("slice", jinja_filters.sync_do_slice),
}
