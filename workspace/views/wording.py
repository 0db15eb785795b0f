"""Words the workspace shows: counts with the right plural, field labels as people write them."""

from __future__ import annotations

from typing import Any

__all__ = ["counted", "field_label"]


def counted(count: int, word: str, plural: str | None = None) -> str:
    """``1 trigger``, ``2 triggers``, ``0 actions``."""
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


#: words people write their own way, not as pydantic's generated titles ("Api Key")
_WORDS = {
    "api": "API",
    "url": "URL",
    "urls": "URLs",
    "id": "ID",
    "ids": "IDs",
    "http": "HTTP",
    "json": "JSON",
    "oauth": "OAuth",
    "html": "HTML",
    "csv": "CSV",
    "sms": "SMS",
    "ssl": "SSL",
    "smtp": "SMTP",
    "utc": "UTC",
}


def field_label(name: str, spec: dict[str, Any]) -> str:
    """A field's label: the author's own title, else the name in sentence case
    (``api_key`` → ``API key``, ``base_url`` → ``Base URL``)."""
    title = spec.get("title")
    if title and title != name.replace("_", " ").title():  # pydantic's generated title
        return str(title)
    words = [_WORDS.get(w.lower(), w.lower()) for w in name.replace("_", " ").split()] or [name]
    first = words[0]
    words[0] = first if first in _WORDS.values() else first[:1].upper() + first[1:]
    return " ".join(words)
