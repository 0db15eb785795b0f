"""The Jinja environment behind the mapping language.

``MappingEnvironment`` is Jinja's ``ImmutableSandboxedEnvironment`` with five changes:

* keys beat attributes: ``trigger.body.items`` (and ``attr('items')``) is the ``items``
  key of the body when it has one, not ``dict.items``;
* a missing path is a ``PathUndefined`` that fails with an ``UndefinedPathError``
  carrying the object that lacked the key, so the message can list what was there;
* ``+``, ``*``, ``**``, ``%``, ``~``, text methods and a few filters are size-checked
  first, and what they build is charged to the evaluation (see ``_mapping_limits``);
  text has no ``encode``, so no bytes (with their own unguarded methods) can be made;
* ``{{ }}`` inside text writes None as nothing, booleans as true/false and lists and
  dicts as JSON, instead of Python reprs;
* loops, list filters and macro calls count against a per-evaluation work budget
  (steps, nesting depth, time; see ``_mapping_budget``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.exceptions import UndefinedError
from jinja2.nodes import EvalContext
from jinja2.runtime import ChainableUndefined, Context, LoopContext, Macro, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, pass_context, pass_environment

from cells import _mapping_limits as limits
from cells._coerce import to_text
from cells._mapping_budget import (
    INTERNAL_FILTERS,
    LIGHT_FILTERS,
    BudgetedContext,
    charge_text,
    instrument,
)
from cells._mapping_filters import FILTERS, GLOBALS
from cells._mapping_sizes import measure


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


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    # Only ``{{ }}`` output inside text passes here; strings, the common case, skip
    # the conversion. An undefined value reaches ``str()`` and raises its error. A list
    # or object is measured before it becomes JSON text: it may hold one big text
    # many times.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        what = "writing a list or object into the text"
        size = limits.check_size(measure(value), what)
        if isinstance(context, BudgetedContext):
            context.budget.charge(size, what)
    return to_text(value)


class MappingEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed Jinja environment of the mapping language."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    context_class = BudgetedContext

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
        self.filters.update(INTERNAL_FILTERS)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # parse() and compile() both parse through here (jinja2 is pinned), so every
        # template of this environment is instrumented, whichever way it is loaded.
        return instrument(super()._parse(source, name, filename))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Resolve ``obj.attribute``, preferring a mapping's key over its methods."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's rules, and no ``encode``: bytes would bring methods of their own
        (``ljust``, ``replace``…) that no size check covers, and mappings need none."""
        if attr == "encode" and isinstance(obj, str):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Size-check ``+``, ``*``, ``**`` and ``%`` before running them."""
        if operator == "+":
            built = limits.check_add(left, right)
        elif operator == "*":
            built = limits.check_repeat(left, right)
        elif operator == "**":
            built = 0
            limits.check_power(left, right)
        else:
            built = limits.check_percent(left, right)
        if built:
            context.budget.charge(built, f"'{operator}'")  # type: ignore[attr-defined]
        return super().call_binop(context, operator, left, right)

    def call_filter(
        self,
        name: str,
        value: Any,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        context: Context | None = None,
        eval_ctx: EvalContext | None = None,
    ) -> Any:
        """Run a filter by name (``map('upper')`` does, per item) after a clock check;
        a filter that turns its input into text has the input's size charged first."""
        if isinstance(context, BudgetedContext):
            context.budget.check_clock()
            if name not in LIGHT_FILTERS:
                charge_text(context, value, name)
        return super().call_filter(name, value, args, kwargs, context, eval_ctx)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``obj`` from a template, size-checking the text methods that pad.

        Macro calls and ``loop(…)`` in recursive loops count against the work budget
        as a step and a level of nesting; the items of a recursive level are steps.
        """
        kind = type(obj)
        if kind is Macro or kind is LoopContext:
            budget = context.budget  # type: ignore[attr-defined]  # a BudgetedContext
            budget.enter()
            try:
                if kind is LoopContext and args:
                    args = (budget.iterate(args[0]), *args[1:])
                return super().call(context, obj, *args, **kwargs)
            finally:
                budget.leave()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str | bytes):
            name = getattr(obj, "__name__", "")
            budget = context.budget  # type: ignore[attr-defined]  # a BudgetedContext
            if name == "join" and args:
                items, separator = args[0], owner
                joined = limits.bounded_join(items, separator, _require_type(type(owner)))
                budget.charge(len(joined), "join")
                return joined
            budget.charge(limits.check_str_method(owner, name, args, kwargs), name)
        elif isinstance(owner, _FormatOwner):
            # '{}'.format(x): x is written into the text; a list is measured first.
            size = len(owner.template) + measure(args) + measure(kwargs)
            built = limits.check_size(size, "format()")
            context.budget.charge(built, "format()")  # type: ignore[attr-defined]
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``'...'.format`` as Jinja does, refusing huge field widths first."""
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            limits.check_str_format(value.__self__)
            # ``call`` finds the text through ``__self__``, as for other text methods.
            wrapper.__self__ = _FormatOwner(value.__self__)  # type: ignore[attr-defined]
        return wrapper


class _FormatOwner:
    """Marks the sandboxed ``format`` / ``format_map`` of a text, for ``call``."""

    __slots__ = ("template",)

    def __init__(self, template: str) -> None:
        self.template = template


@pass_environment
def _attr_filter(environment: MappingEnvironment, obj: Any, name: str) -> Any:
    # Jinja's attr never falls back to keys; here keys win everywhere, ``attr`` too.
    if isinstance(obj, Mapping) and name in obj:
        return obj[name]
    return jinja_filters.do_attr(environment, obj, name)


def _require_type(kind: type[Any]) -> Callable[[Any], Any]:
    def require(item: Any) -> Any:
        # str.join accepts only text (bytes.join only bytes); keep its error otherwise.
        if not isinstance(item, kind):
            raise TypeError(
                f"sequence item: expected {kind.__name__} instance, {type(item).__name__} found"
            )
        return item

    return require
