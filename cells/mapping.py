"""The mapping language: cell inputs that refer to earlier data.

A cell's inputs are JSON-like values whose strings may hold Jinja expressions over the
run context ``{"trigger": ..., "steps": {cell_id: output}, "execution": ...}``:

* ``"{{ trigger.body.count }}"`` — exactly one expression — gives the *native* value
  (a number stays a number, a list a list, None stays None);
* ``"Hello {{ trigger.name }}!"`` — anything else with ``{{``/``{%`` — renders to text;
* strings without template syntax, and non-string scalars, pass through untouched.

Templates compile once per source string (cached) in a sandboxed environment
(``cells._mapping_env``). Every failure is a :class:`MappingError` naming the cell, the
field, the expression and — for a missing path — what was available instead.

Expression work is CPU work: the engine renders with :func:`render_async`, which runs
anything beyond plain paths in a small pool of worker threads (``RENDER_THREADS``), so
the event loop keeps serving every other run and request meanwhile, and gives each
cell a :class:`CellBudget` of seconds drawn from its run's :class:`RunBudget`.
The user guide is docs/mapping.md.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Set,
    ValuesView,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, TypeVar

from jinja2 import Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Undefined
from markupsafe import Markup

from cells._mapping_budget import LIMITS_KEY, BudgetedContext, CellBudget, RunBudget
from cells._mapping_env import MappingEnvironment, UndefinedPathError
from cells._mapping_errors import explain_missing, field_path, quote_source
from cells._mapping_filters import ExpressionError
from cells._mapping_limits import MAX_STRING
from cells._mapping_sizes import MAX_VALUE, measure
from connectors.sdk.errors import MappingError

__all__ = [
    "MAX_STRING",
    "MAX_VALUE",
    "RENDER_THREADS",
    "CellBudget",
    "RunBudget",
    "check_syntax",
    "has_template",
    "in_worker",
    "is_light",
    "is_template",
    "referenced_steps",
    "render",
    "render_async",
    "render_template",
]

_ENV = MappingEnvironment()
_consume: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend
_PLAIN_DATA = frozenset({str, int, float, bool, type(None), dict, list})
_CACHE_SIZE = 4096
RENDER_THREADS = 2
"""Worker threads for expression work. Python runs one thread's bytecode at a time, so
more threads would not render faster; two keep one slow expression from queueing the
others while the event loop still gets the interpreter every few milliseconds."""
_WORKERS = ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="cellwright-mapping")
# Node types whose evaluation costs about nothing: paths, constants, comparisons. A
# template made only of these renders on the event loop; anything else (a loop, a
# filter, an operator, a call) goes to a worker thread.
_LIGHT_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Assign,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Const,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.CondExpr,
    # sizes are checked before anything is built (``_mapping_limits``: text and lists
    # repeated by ``*``, integer products), so arithmetic costs at most microseconds
    # and need not pay a thread hop; ``**`` stays heavy
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Neg,
    nodes.Pos,
)
#: filters and tests that cost at most one pass over a value the limits already bound
_LIGHT_FILTERS = frozenset(
    {
        "default",
        "d",
        "lower",
        "upper",
        "trim",
        "string",
        "int",
        "float",
        "length",
        "count",
        "abs",
        "round",
        "title",
        "capitalize",
        "first",
        "last",
    }
)
_LIGHT_TESTS = frozenset(
    {
        "defined",
        "undefined",
        "none",
        "number",
        "string",
        "mapping",
        "sequence",
        "boolean",
        "true",
        "false",
        "integer",
        "float",
    }
)


def _light_node(node: nodes.Node) -> bool:
    if isinstance(node, _LIGHT_NODES):
        return True
    if isinstance(node, nodes.Filter):  # "cellwright:…" filters are the budget's own clock
        return node.name in _LIGHT_FILTERS or node.name.startswith("cellwright:")
    return isinstance(node, nodes.Test) and node.name in _LIGHT_TESTS


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One compiled source string."""

    template: Template
    native: bool  # exactly one ``{{ expr }}``: evaluate to the value itself
    plain_path: bool  # the expression is a bare path: its value needs no cleaning
    steps: frozenset[str]  # ids referenced as steps.X / steps["X"]
    light: bool  # only paths, constants and comparisons: cheap enough for the event loop


def is_template(text: str) -> bool:
    """True when ``text`` contains ``{{`` or ``{%`` (and so is evaluated by Jinja)."""
    return "{{" in text or "{%" in text


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str) -> _Compiled:
    """Parse and compile ``source`` once; raises TemplateSyntaxError."""
    tree = _ENV.parse(source)
    steps = frozenset(_steps_in(tree))
    light = all(_light_node(node) for node in _all_nodes(tree))
    expr = _single_expression(tree)
    if expr is None:
        return _Compiled(_ENV.from_string(tree), False, False, steps, light)
    # What env.compile_expression builds, but from the already-parsed node.
    wrapper = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
    wrapper.set_environment(_ENV)
    return _Compiled(_ENV.from_string(wrapper), True, _is_plain_path(expr), steps, light)


def _all_nodes(tree: nodes.Node) -> Iterator[nodes.Node]:
    yield tree
    yield from tree.find_all(nodes.Node)


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a source that is exactly ``{{ expr }}`` plus whitespace."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    found: nodes.Expr | None = None
    for node in tree.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            if node.data.strip():
                return None
        elif found is not None:
            return None
        else:
            found = node
    return found


def _is_plain_path(expr: nodes.Node) -> bool:
    while True:
        if isinstance(expr, nodes.Getattr):
            expr = expr.node
        elif isinstance(expr, nodes.Getitem) and isinstance(expr.arg, nodes.Const):
            expr = expr.node
        else:
            return isinstance(expr, nodes.Name)


def _steps_in(tree: nodes.Node) -> Iterator[str]:
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    found: Iterator[nodes.Node] = tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call))
    for node in found:
        if isinstance(node, nodes.Call):
            # steps.get('x') reads step 'x' (when no step is called 'get').
            func = node.node
            if (
                isinstance(func, nodes.Getattr)
                and _is_steps(func.node)
                and func.attr == "get"
                and node.args
                and isinstance(node.args[0], nodes.Const)
                and isinstance(node.args[0].value, str)
            ):
                yield node.args[0].value
        elif isinstance(node, nodes.Getattr):
            if _is_steps(node.node) and id(node) not in called:
                yield node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and _is_steps(node.node)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            yield node.arg.value


def _is_steps(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "steps"


def _scope(context: Mapping[str, Any], limits: CellBudget | None) -> dict[str, Any]:
    # Contexts are built with shared=True (no per-call copy), so merge globals once
    # per render() call instead of once per expression. The cell's time budget rides
    # along under a key no template can name (see BudgetedContext.budget).
    scope = {**_ENV.globals, **context}
    if limits is not None:
        scope[LIMITS_KEY] = limits
    return scope


def _evaluate(compiled: _Compiled, scope: dict[str, Any]) -> Any:
    template = compiled.template
    ctx = template.new_context(scope, shared=True)
    try:
        return _run_template(compiled, template, ctx)
    finally:
        if isinstance(ctx, BudgetedContext):
            ctx.finish_budget()


def _run_template(compiled: _Compiled, template: Template, ctx: Any) -> Any:
    if compiled.native:
        _consume(template.root_render_func(ctx))  # runs the assignment to "result"
        result = ctx.vars["result"]
        if compiled.plain_path and type(result) in _PLAIN_DATA:
            # A path into the context returns its data as is: no copy of big payloads.
            return result
        if isinstance(result, Mapping | list | tuple):
            # Measured before the copy: [big] * 100 holds 100 references to one text,
            # but would be 100 copies in the cell's inputs and in the execution record.
            size = measure(result)
            if size > MAX_VALUE:
                raise ExpressionError(
                    f"the result would be about {size:,} characters of data"
                    f" (the limit is {MAX_VALUE:,})"
                )
        return _to_data(result)
    parts: list[str] = []
    total = 0
    for chunk in template.root_render_func(ctx):
        total += len(chunk)
        if total > MAX_STRING:
            raise ExpressionError(f"the text is longer than {MAX_STRING:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _to_data(value: Any) -> Any:
    """Turn what an expression built into plain data (lists, dicts, scalars)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ExpressionError(f"the result is longer than {MAX_STRING:,} characters")
        return str(value) if isinstance(value, Markup) else value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):
        return {key: _to_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_data(item) for item in value]
    if callable(value):
        name = getattr(value, "__name__", type(value).__name__)
        raise ExpressionError(
            f"the expression gives a function ({name!r}), not a value; call it with ()"
            " or check the name"
        )
    if type(value).__module__.startswith("jinja2."):
        raise ExpressionError(
            f"the expression gives a template object ({type(value).__name__}), not a value"
        )
    if isinstance(value, Iterator | range | Set | KeysView | ValuesView | ItemsView):
        # map(), select(), dict views, range(): lazy sequences and views become lists.
        return [_to_data(item) for item in value]
    return value


def _mapping_error(
    exc: Exception, source: str, context: Mapping[str, Any], cell_id: str | None, field: str
) -> MappingError:
    where = ", ".join(
        part
        for part in (
            f"Cell {cell_id!r}" if cell_id is not None else "",
            f"field {field!r}" if field else "",
        )
        if part
    )
    where = (where[:1].upper() + where[1:]) if where else "Mapping"
    details: dict[str, Any] = {"cell_id": cell_id, "field": field, "expression": source}
    if isinstance(exc, UndefinedPathError):
        problem, extra = explain_missing(exc, context, _parse_quietly(source))
        details.update(extra)
    elif isinstance(exc, TemplateSyntaxError):
        line = f" (line {exc.lineno})" if "\n" in source.strip() else ""
        problem = f"syntax error: {exc.message}{line}"
    elif isinstance(exc, SecurityError):
        problem = f"not allowed: {exc}"
    elif isinstance(exc, ExpressionError):
        problem = str(exc)
    elif isinstance(exc, RecursionError):
        # Macros and recursive loops stop at MAX_DEPTH first; this is data nested
        # deeper than Python can walk (e.g. from_json of '[[[[…').
        problem = "the data or the expression is nested too deeply to evaluate"
    else:
        problem = f"{type(exc).__name__}: {exc}"
    return MappingError(f"{where}: {quote_source(source)} — {problem}", **details)


def _parse_quietly(source: str) -> nodes.Template | None:
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError:  # pragma: no cover - the source compiled before failing
        return None


@dataclass(slots=True)
class _Run:
    """One render() call: the context and where errors are reported."""

    context: Mapping[str, Any]
    scope: dict[str, Any]
    cell_id: str
    field: str
    missing_as_none: bool

    def walk(self, value: Any, path: tuple[Any, ...]) -> Any:
        # ``path`` holds the keys below ``field``; it becomes text only on error, so
        # plain values cost one isinstance check and one substring test.
        if isinstance(value, str):
            if "{" not in value or not is_template(value):
                return value
            return self.render_string(value, path)
        if isinstance(value, Mapping):
            return {key: self.walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list | tuple):
            rendered = [self.walk(item, (*path, index)) for index, item in enumerate(value)]
            return rendered if isinstance(value, list) else tuple(rendered)
        return value

    def render_string(self, source: str, path: tuple[Any, ...]) -> Any:
        error: Exception
        try:
            return _evaluate(_compile(source), self.scope)
        except UndefinedPathError as exc:
            if self.missing_as_none:
                return None
            error = exc
        except Exception as exc:  # any evaluation failure becomes a MappingError
            error = exc
        field = self.field
        for key in path:
            field = field_path(field, key)
        raise _mapping_error(error, source, self.context, self.cell_id, field) from None


def render(
    value: Any,
    context: Mapping[str, Any],
    *,
    cell_id: str,
    field: str = "",
    missing_as_none: bool = False,
    limits: CellBudget | None = None,
) -> Any:
    """Render a cell's whole inputs structure against the run context.

    Dicts (values only, not keys) and lists are walked; each string is rendered as
    described in the module docstring; other values pass through. Returns a new
    structure and never mutates ``value``. ``field`` prefixes the field paths named in
    errors. With ``missing_as_none`` a string whose path does not resolve becomes None
    instead of failing (used by the ``exists``/``is_empty`` condition operators).
    ``limits``: the seconds of work left to the cell and its run (none: each
    evaluation still has its own second).

    Raises MappingError naming the cell, the field, the expression and the problem.
    """
    scope = _scope(context, limits)
    return _Run(context, scope, cell_id, field, missing_as_none).walk(value, ())


async def render_async(
    value: Any,
    context: Mapping[str, Any],
    *,
    cell_id: str,
    field: str = "",
    missing_as_none: bool = False,
    limits: CellBudget | None = None,
) -> Any:
    """:func:`render`, in a worker thread unless every template is light (:func:`is_light`).

    The event loop keeps running other runs and requests while a heavy cell renders.
    If the awaiting task is cancelled, the thread finishes the evaluation on its own,
    within the same budgets.
    """
    work = partial(
        render,
        value,
        context,
        cell_id=cell_id,
        field=field,
        missing_as_none=missing_as_none,
        limits=limits,
    )
    if is_light(value):
        return work()
    return await in_worker(work)


async def in_worker(work: Callable[[], _T]) -> _T:
    """Run ``work`` (mapping work: a render, a rule evaluation) in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_WORKERS, work)


def is_light(value: Any) -> bool:
    """True when every template in ``value`` is only paths, constants and comparisons.

    Such templates cost microseconds and render on the event loop; a loop, filter,
    operator or call anywhere makes the value heavy. A template with a syntax error
    counts as heavy (rendering it reports the error).
    """
    for _, source in _template_strings(value):
        try:
            if not _compile(source).light:
                return False
        except TemplateSyntaxError:
            return False
    return True


def render_template(
    source: str,
    context: Mapping[str, Any],
    *,
    cell_id: str,
    field: str,
    missing_as_none: bool = False,
    limits: CellBudget | None = None,
) -> Any:
    """Render one string: native value for ``{{ expr }}``, text for other templates.

    A string without template syntax is returned unchanged.
    """
    scope = _scope(context, limits)
    return _Run(context, scope, cell_id, field, missing_as_none).walk(source, ())


def _template_strings(value: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """Every (field path, template string) inside ``value``."""
    if isinstance(value, str):
        if is_template(value):
            yield field, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _template_strings(item, field_path(field, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _template_strings(item, field_path(field, index))


def has_template(value: Any) -> bool:
    """True if any string inside ``value`` contains ``{{`` or ``{%``."""
    return next(_template_strings(value), None) is not None


def check_syntax(value: Any, *, cell_id: str) -> None:
    """Compile every template string in ``value``; raise MappingError on the first error.

    Also catches unknown filters and tests (``{{ x | nosuchfilter }}``), which Jinja
    reports at compile time. Compiled templates are cached for the runs that follow.
    """
    for field, source in _template_strings(value):
        try:
            _compile(source)
        except TemplateSyntaxError as exc:
            raise _mapping_error(exc, source, {}, cell_id, field) from None


def referenced_steps(value: Any) -> set[str]:
    """Cell ids referenced as ``steps.X``, ``steps["X"]`` or ``steps.get("X")``.

    Found by walking the parsed templates, so text that merely looks like a reference
    (``"see steps.x"`` outside ``{{ }}``) does not count. Computed references
    (``steps[name]``) cannot be known and are not reported. Raises MappingError on a
    syntax error (call :func:`check_syntax` first to get the cell and field named).
    """
    found: set[str] = set()
    for field, source in _template_strings(value):
        try:
            found |= _compile(source).steps
        except TemplateSyntaxError as exc:
            raise _mapping_error(exc, source, {}, None, field) from None
    return found
