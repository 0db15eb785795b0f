"""How big a value is before it is turned into text, copied or recorded.

A list may hold the same big text many times at the cost of one pointer each:
``[t, t]`` doubles its size, ten nested literals multiply it by 1,024, and nothing is
allocated yet. The memory is spent when the value is turned into text (``~``,
``tojson``, ``{{ }}`` inside text), flattened, or copied into a cell's inputs, so those
are the places that measure it first. :func:`measure` walks each distinct container
once, so measuring costs about what building the value cost, however large its
*logical* size is.
"""

from __future__ import annotations

from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from typing import Any

MAX_ITEMS = 1_000_000
"""Longest list ``*``, ``+``, ``sum``, ``flatten``, ``batch`` or ``slice`` may produce."""
MAX_VALUE = 10_000_000
"""Largest list or object an expression may build, in characters of its size (about
its length as JSON: the texts' lengths plus a few characters per item and number)."""
MAX_MADE = 50_000_000
"""Characters of text and data one evaluation may build in all (text operations,
conversions of lists and objects to text): a loop cannot pile up copies that are each
under the limits above."""

_SMALL = 5  # null, true, false and objects of other kinds
_FLOAT = 24  # the longest repr of a float
_CONTAINERS = (Mapping, list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)


def measure(value: Any, memo: dict[int, int] | None = None) -> int:
    """About the length of ``value`` written as JSON, in characters.

    A container seen before in this walk (``memo``, by identity) costs its size again
    without being walked again: ``[t] * 1000`` is measured in two steps. Objects stay
    alive during the walk, so identities cannot be reused by other objects.
    """
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 2
    if value is None or isinstance(value, bool):
        return _SMALL
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, range):
        digits = max(abs(value.start), abs(value.stop)).bit_length() * 3 // 10 + 2
        return len(value) * (digits + 1) + 2
    if not isinstance(value, _CONTAINERS):
        return _SMALL  # generators and other lazy objects are measured when iterated
    if memo is None:
        memo = {}
    key = id(value)
    known = memo.get(key)
    if known is not None:
        return known
    total = 2
    if isinstance(value, Mapping):
        for name, item in value.items():
            total += measure(name, memo) + measure(item, memo) + 2
    else:
        for item in value:
            total += measure(item, memo) + 1
    memo[key] = total
    return total
