"""The Jinja environment behind the mapping language.

``MappingEnvironment`` is Jinja's ``ImmutableSandboxedEnvironment`` with four changes:

* keys beat attributes: ``trigger.body.items`` (and ``attr('items')``) is the ``items``
  key of the body when it has one, not ``dict.items``;
* a missing path is a ``PathUndefined`` that fails with an ``UndefinedPathError``
  carrying the object that lacked the key, so the message can list what was there;
* ``*``, ``**``, ``%``, string methods and a few filters are size-checked first
  (see ``_mapping_limits``);
* ``{{ }}`` inside text writes None as nothing, booleans as true/false and lists and
  dicts as JSON, instead of Python reprs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from jinja2 import filters as jinja_filters
from jinja2.exceptions import UndefinedError
from jinja2.runtime import ChainableUndefined, Context, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, pass_environment

from cells import _mapping_limits as limits
from cells._coerce import to_text
from cells._mapping_filters import FILTERS, GLOBALS


class UndefinedPathError(UndefinedError):
    """A path did not resolve; ``obj`` is the value that lacked ``name``."""

    def __init__(self, message: str, *, obj: Any, name: Any, hint: str | None) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name
        self.hint = hint


class PathUndefined(ChainableUndefined, StrictUndefined):
    """Strict about use (printing, comparing, iterating fail) but chainable on lookup.

    Chaining keeps the *first* missing step, so ``trigger.a.b.c`` with no ``a`` reports
    ``'trigger' has no 'a'``, and ``trigger.a.b | default('x')`` works.
    """

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Any] = UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        if exc is UndefinedError:
            # Jinja raises ``self._undefined_exception(message)`` from many dunder
            # methods bound at class creation; a partial is the one hook that reaches
            # all of them. Security failures (exc=SecurityError) are left untouched.
            self._undefined_exception = partial(  # type: ignore[assignment]
                UndefinedPathError, obj=obj, name=name, hint=hint
            )


def _finalize(value: Any) -> Any:
    # Only ``{{ }}`` output inside text passes here; strings, the common case, skip
    # the conversion. An undefined value reaches ``str()`` and raises its error.
    return value if isinstance(value, str) else to_text(value)


class MappingEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed Jinja environment of the mapping language."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=PathUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        # lipsum(n=10**6) is a memory bomb and of no use in a scenario.
        self.globals.pop("lipsum", None)
        self.globals.update(GLOBALS)
        self.filters.update(limits.GUARDED_FILTERS)
        self.filters.update(FILTERS)
        self.filters["attr"] = _attr_filter

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Resolve ``obj.attribute``, preferring a mapping's key over its methods."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Size-check ``*``, ``**`` and ``%`` before running them."""
        if operator == "*":
            limits.check_repeat(left, right)
        elif operator == "**":
            limits.check_power(left, right)
        elif isinstance(left, str):
            limits.check_percent_format(left)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``obj`` from a template, size-checking the text methods that pad."""
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(obj, "__name__", "")
            if name == "join" and args:
                items, separator = args[0], owner
                return limits.bounded_join(items, separator, _require_str)
            limits.check_str_method(owner, name, args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``'...'.format`` as Jinja does, refusing huge field widths first."""
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            limits.check_str_format(value.__self__)
        return wrapper


@pass_environment
def _attr_filter(environment: MappingEnvironment, obj: Any, name: str) -> Any:
    # Jinja's attr never falls back to keys; here keys win everywhere, ``attr`` too.
    if isinstance(obj, Mapping) and name in obj:
        return obj[name]
    return jinja_filters.do_attr(environment, obj, name)


def _require_str(item: Any) -> str:
    # str.join accepts only text; keep its error for anything else.
    if not isinstance(item, str):
        raise TypeError(f"sequence item: expected str instance, {type(item).__name__} found")
    return item
