"""Secret input fields: which fields they are, and the reference that stands for a value.

An operation declares an input field secret the way the SDK declares every secret: a
pydantic ``SecretStr`` (JSON Schema ``format: password`` / ``writeOnly``), like the HTTP
action's ``bearer_token`` or the webhook trigger's ``secret``. A value typed into such a
field is kept in the credential vault; the scenario document holds a reference
``{"$secret": "<id>"}`` instead (``engine/secrets.py`` stores and resolves them). A
``{{ }}`` mapping in a secret field is a mapping, not a secret: it stays in the document.

Only top-level input fields are considered: that is where operations put them.

**Credential headers.** Whatever the operation, a value under a key named
``Authorization``, ``Proxy-Authorization``, ``Cookie`` or ``X-Api-Key`` (any case) in a
mapping field of a cell's inputs — the HTTP action's ``headers`` — is a secret too: it
is sealed like a secret field (:func:`secret_slots` lists both), and such keys are
masked at any depth in execution records and trigger data (:func:`scrub`), so an echoed
request header is masked in an output as well. :func:`scrub` also replaces every
occurrence of the values known to be secret for a run (resolved secret fields,
credential headers, the connection's secret credentials) in records and errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, TypeGuard

from pydantic import BaseModel

from cells.mapping import is_template

__all__ = [
    "CREDENTIAL_KEYS",
    "MASK",
    "MIN_SCRUBBED_LENGTH",
    "REF_KEY",
    "is_credential_key",
    "is_mask",
    "is_plaintext",
    "is_ref",
    "masked",
    "placeholders",
    "ref",
    "ref_id",
    "refs_in",
    "scrub",
    "scrub_error",
    "secret_fields",
    "secret_slots",
    "secret_values",
    "slot_value",
    "with_slot",
]

REF_KEY = "$secret"
#: what a secret looks like in records and answers (pydantic's own ``SecretStr`` mask)
MASK = "**********"
#: masks a client may send back meaning "unchanged": ours, and the workspace's dots
_MASKS = frozenset({MASK, "••••••", "••••••••"})
#: keys whose values carry credentials wherever they appear (compared lower-cased)
CREDENTIAL_KEYS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
#: shorter known secrets are not searched for inside other text (they would mask
#: ordinary words and numbers); keys still mask them
MIN_SCRUBBED_LENGTH = 6

#: where a secret sits in a cell's inputs: ``(field,)`` or ``(field, key)``
Slot = tuple[str] | tuple[str, str]


def is_credential_key(name: Any) -> bool:
    """Whether a mapping key names a credential (``Authorization``, ``Cookie``…)."""
    return isinstance(name, str) and name.lower() in CREDENTIAL_KEYS


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


def secret_slots(inputs: Mapping[str, Any], fields: frozenset[str]) -> Iterator[Slot]:
    """Every place of ``inputs`` that holds a secret: the secret ``fields`` (set or
    not), then each credential key of a mapping field (``("headers", "Authorization")``)."""
    for name in sorted(fields):
        yield (name,)
    for name, value in inputs.items():
        if name not in fields and isinstance(value, Mapping):
            for key in value:
                if is_credential_key(key):
                    yield (name, key)


def slot_value(inputs: Mapping[str, Any], slot: Slot) -> Any:
    """The value at ``slot`` (None when absent)."""
    value = inputs.get(slot[0])
    if len(slot) == 1:
        return value
    return value.get(slot[1]) if isinstance(value, Mapping) else None


def with_slot(inputs: Mapping[str, Any], slot: Slot, value: Any) -> dict[str, Any]:
    """A copy of ``inputs`` with ``value`` at ``slot`` (nested mappings copied too)."""
    out = dict(inputs)
    if len(slot) == 1:
        out[slot[0]] = value
    else:
        out[slot[0]] = {**out[slot[0]], slot[1]: value}
    return out


def refs_in(inputs: Mapping[str, Any], fields: frozenset[str]) -> Iterator[tuple[Slot, str]]:
    """``(slot, secret id)`` of every reference in the secret slots of ``inputs``."""
    for slot in secret_slots(inputs, fields):
        secret_id = ref_id(slot_value(inputs, slot))
        if secret_id is not None:
            yield slot, secret_id


def secret_values(inputs: Any, fields: frozenset[str]) -> set[str]:
    """The plain text held in the secret slots of resolved ``inputs`` (for :func:`scrub`);
    for a credential header, also the value without its scheme (``Bearer x`` → ``x``)."""
    found: set[str] = set()
    if not isinstance(inputs, Mapping):
        return found
    for slot in secret_slots(inputs, fields):
        value = slot_value(inputs, slot)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, str) and value and not is_ref(value):
            found.add(value)
            scheme, _, rest = value.partition(" ")
            if rest.strip() and scheme.isalpha():
                found.add(rest.strip())
    return found


def masked(inputs: Any, fields: frozenset[str]) -> Any:
    """``inputs`` with every set secret field and credential header shown as :data:`MASK`
    (for records)."""
    if not isinstance(inputs, Mapping):
        return inputs
    out = {k: (MASK if k in fields and v not in (None, "") else v) for k, v in inputs.items()}
    return scrub(out)


def placeholders(inputs: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """``inputs`` with references replaced by a stand-in text, to validate the other
    fields without reading the vault (checks at save)."""
    out = dict(inputs)
    for slot, _ in list(refs_in(inputs, fields)):
        out = with_slot(out, slot, MASK)
    return out


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like data) with credential keys' values masked at any depth and
    every occurrence of ``secrets`` (at least :data:`MIN_SCRUBBED_LENGTH` long) in text
    replaced by :data:`MASK`. Returns ``value`` itself when nothing changes."""
    needles = sorted({s for s in secrets if len(s) >= MIN_SCRUBBED_LENGTH}, key=len, reverse=True)
    return _scrub(value, needles)


_SCALARS = (int, float, bool, type(None))


def _scrub(value: Any, needles: list[str]) -> Any:
    # on every cell result of every run: exact type checks first (an ABC isinstance
    # costs more than the rest), and nothing is copied unless something changes
    kind = type(value)
    if kind is str:
        for needle in needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return value
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        items = None
        for i, item in enumerate(value):
            new = _scrub(item, needles)
            if new is not item:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    if kind is dict or isinstance(value, Mapping):
        out = None
        for key, item in value.items():
            if type(key) is str and key.lower() in CREDENTIAL_KEYS and item not in (None, ""):
                new = MASK
            else:
                new = _scrub(item, needles)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        if out is None:
            return value if kind is dict else dict(value)
        return out
    return value


def scrub_error(error: Any, secrets: Iterable[str]) -> Any:
    """A ``CellwrightError`` with ``secrets`` masked in its message and details (in
    place; returned for chaining)."""
    needles = sorted({s for s in secrets if len(s) >= MIN_SCRUBBED_LENGTH}, key=len, reverse=True)
    message = _scrub(error.message, needles)
    if message is not error.message:
        error.message = message
        error.args = (message,)
    details = _scrub(error.details, needles)
    if details is not error.details:
        error.details = details
        if hasattr(error, "body") and isinstance(details, Mapping):
            error.body = details.get("body")
    return error
