"""Secret input fields: which fields they are, and the reference that stands for a value.

An operation declares an input field secret the way the SDK declares every secret: a
pydantic ``SecretStr`` (JSON Schema ``format: password`` / ``writeOnly``), like the HTTP
action's ``bearer_token`` or the webhook trigger's ``secret``. A value typed into such a
field is kept in the credential vault; the scenario document holds a reference
``{"$secret": "<id>"}`` instead (``engine/secrets.py`` stores and resolves them). A
``{{ }}`` mapping in a secret field is a mapping, not a secret: it stays in the document.

Only top-level input fields are considered: that is where operations put them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, TypeGuard

from pydantic import BaseModel

from cells.mapping import is_template

__all__ = [
    "MASK",
    "REF_KEY",
    "is_mask",
    "is_plaintext",
    "is_ref",
    "masked",
    "placeholders",
    "ref",
    "ref_id",
    "refs_in",
    "secret_fields",
]

REF_KEY = "$secret"
#: what a secret looks like in records and answers (pydantic's own ``SecretStr`` mask)
MASK = "**********"
#: masks a client may send back meaning "unchanged": ours, and the workspace's dots
_MASKS = frozenset({MASK, "••••••", "••••••••"})


@lru_cache(maxsize=512)
def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """The top-level fields of ``model`` that hold secrets (``SecretStr``, ``writeOnly``
    or ``format: password``, also inside ``X | None``)."""
    properties = model.model_json_schema().get("properties", {})
    return frozenset(name for name, spec in properties.items() if _is_secret(spec))


def _is_secret(spec: Mapping[str, Any]) -> bool:
    if spec.get("format") == "password" or spec.get("writeOnly"):
        return True
    return any(
        _is_secret(option) for option in spec.get("anyOf", ()) if isinstance(option, Mapping)
    )


def ref(secret_id: str) -> dict[str, str]:
    """The reference a document holds in place of a stored secret."""
    return {REF_KEY: secret_id}


def is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(REF_KEY), str)


def ref_id(value: Any) -> str | None:
    """The secret id of a reference, or None for anything else."""
    return str(value[REF_KEY]) if is_ref(value) else None


def is_mask(value: Any) -> bool:
    """A masked value sent back unchanged (it means: keep the stored secret)."""
    return isinstance(value, str) and value in _MASKS


def is_plaintext(value: Any) -> TypeGuard[str]:
    """A value typed into a secret field that belongs in the vault: text that is not a
    ``{{ }}`` mapping, not a mask and not empty."""
    return isinstance(value, str) and value != "" and not is_template(value) and not is_mask(value)


def refs_in(inputs: Mapping[str, Any], fields: frozenset[str]) -> Iterator[tuple[str, str]]:
    """``(field, secret id)`` of every reference in the secret ``fields`` of ``inputs``."""
    for name in sorted(fields):
        secret_id = ref_id(inputs.get(name))
        if secret_id is not None:
            yield name, secret_id


def masked(inputs: Any, fields: frozenset[str]) -> Any:
    """``inputs`` with every set secret field shown as :data:`MASK` (for records)."""
    if not isinstance(inputs, Mapping) or not fields:
        return inputs
    return {k: (MASK if k in fields and v not in (None, "") else v) for k, v in inputs.items()}


def placeholders(inputs: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """``inputs`` with references replaced by a stand-in text, to validate the other
    fields without reading the vault (checks at save)."""
    return {k: (MASK if k in fields and is_ref(v) else v) for k, v in inputs.items()}
