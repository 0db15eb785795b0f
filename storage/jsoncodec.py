"""How JSON columns are written and read: never a value that cannot be sent back out.

Ingress refuses non-standard JSON (``connectors.sdk.jsontext``), but values reach the
store by other ways too: an upstream API's answer, a YAML scenario file, a mapping's
result, rows written before ingress refused them. Two kinds would break every page and
API answer that shows them:

- a string holding half of a UTF-16 surrogate pair (``"\\ud800"``) cannot be encoded as
  UTF-8: it is written and read back with U+FFFD (�) in its place;
- ``NaN`` and ``±Infinity`` are not JSON (PostgreSQL refuses them, JSON answers fail):
  they are written as ``null``, as ``JSON.stringify`` does.

Both are rare, so the common path costs one ``json.dumps`` / ``json.loads`` and a
regular-expression scan.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_HALF = re.compile("[\ud800-\udfff]")
# a surrogate escape that is not part of a pair (old rows were written ASCII-escaped);
# an escaped backslash before "ud800" may match too: the walk then finds nothing to fix
_HALF_ESCAPE = re.compile(
    r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}",
    re.IGNORECASE,
)


# one encoder for every call: json.dumps with options builds a new one each time
_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_ENCODE_FINITE = json.JSONEncoder(ensure_ascii=False).encode


def dumps(value: Any) -> str:
    """The column text for ``value`` (UTF-8 text; no half surrogates, no NaN)."""
    try:
        text = _ENCODE(value)
    except ValueError:  # NaN or Infinity somewhere
        text = _ENCODE_FINITE(_finite(value))
    if not text.isascii():
        text = _HALF.sub("\ufffd", text)
    return text


def loads(text: str | bytes) -> Any:
    """The value of a column (half surrogates in old rows replaced)."""
    value = json.loads(text)
    raw = text.decode() if isinstance(text, bytes) else text
    if _HALF_ESCAPE.search(raw) or (not raw.isascii() and _HALF.search(raw)):
        value = _scrub(value)
    return value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _HALF.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


__all__ = ["dumps", "loads"]
