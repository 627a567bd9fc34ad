"""The Jinja sandbox templates render in: what a template may load, and how much work it may do.

- A template loads (`include`, `import`, `from ... import`, `extends`) only the macro files of
  its workspace and of its product, named from the product's folder or from the workspace
  root; any other name is refused (DP108), whether a file of that name exists or not.
- Work is metered. A loop iteration, a call (function, macro, method, filter, test) and an
  operator on text, lists or numbers each cost a step, plus one per SIZE_PER_STEP characters or
  items they handle. A render has a budget of steps, of characters written (macro bodies and
  `{% set %}` blocks included) and of wall-clock time; one value may not grow past MAX_VALUE,
  and operations that could make a huge value (`'x' * n`, `2 ** n`, `center(n)`, wide format
  specs, `replace`, `join`, printing nested lists) are refused before they run. Going over any
  limit stops the render with DP109 at the template line.
- Jinja's sandbox keeps Python internals out of reach (`__class__`, `__globals__`, ...);
  `lipsum` is gone and `range` is capped.

The meter is written into the generated code by a code generator: loop iterables, `~` and
every piece of output pass through the environment's `dpsql_loop`, `dpsql_concat`,
`dpsql_printable` and `dpsql_emit`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Macro
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

MAX_STEPS = 500_000  # loop iterations, calls and operations, weighted by size
SIZE_PER_STEP = 100  # characters or items handled that cost one more step
MAX_OUTPUT = 10_000_000  # characters written by one render (macros and blocks included)
MAX_VALUE = 1_000_000  # characters of one text, items of one list
MAX_INT_BITS = 65_536  # bits of one integer
MAX_RANGE = 100_000  # numbers in one range()
MAX_SECONDS = 30.0  # wall-clock time of one render

SANDBOX_HINT = "see docs/security.md for what a template may do"


class TemplateRefused(Exception):
    """A template did something the sandbox does not allow; dpsql's own words for it."""

    def __init__(self, code: str, message: str, hint: str, where: tuple[Path, int] | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
        self.where = where  # the file and line, when not the template line being rendered


def _limit(message: str, hint: str) -> TemplateRefused:
    return TemplateRefused("DP109", message, hint)


# ----------------------------------------------------------------------------------- budget

@dataclass
class _Budget:
    steps: int = 0
    output: int = 0
    started: float = field(default_factory=time.monotonic)


_BUDGET: contextvars.ContextVar[_Budget] = contextvars.ContextVar("dpsql_template_budget")


@contextlib.contextmanager
def metered() -> Iterator[None]:
    """Run one render (or one macro file's load) with a fresh budget."""
    token = _BUDGET.set(_Budget())
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _charge(size: int = 0) -> None:
    """One step, plus one per SIZE_PER_STEP characters or items handled."""
    budget = _BUDGET.get()
    budget.steps += 1 + size // SIZE_PER_STEP
    if budget.steps > MAX_STEPS:
        raise _limit(f"the template does too much work: over {MAX_STEPS:,} steps (loop "
                     "iterations, calls and operations, weighted by the size of what they "
                     "handle) in one render",
                     "loop over fewer items, and do not nest large loops; a template writes "
                     "SQL, and the SQL does the work on the data")
    if time.monotonic() - budget.started > MAX_SECONDS:
        raise _limit(f"the template has been rendering for over {MAX_SECONDS:g} seconds",
                     "loop over fewer items, and do not nest large loops")


_TEXT = (str, bytes, range)
_COLLECTION = (list, tuple, set, frozenset, dict)


def _size(value: Any) -> int:
    """Characters of a text, items of a collection (not what they hold): costs nothing."""
    return len(value) if isinstance(value, (*_TEXT, *_COLLECTION)) else 0


def _sizes(values: Iterable[Any]) -> int:
    return sum(_size(v) for v in values)


def _too_large(size: int | str) -> TemplateRefused:
    return _limit(f"the template makes a value of {size} characters or items, over the limit "
                  f"of {MAX_VALUE:,}", "build smaller values; generate SQL that does the work "
                  "instead")


def _check_printable(value: Any) -> None:
    """A collection about to become text (printed, joined, formatted) may not hold more than the
    value limit, counted through nested collections, a shared part as often as it is printed.
    Counting costs a step per ten items and stops past the limit."""
    if not isinstance(value, _COLLECTION):
        return
    total, seen = 0, 0
    todo = [value]
    while todo:
        item = todo.pop()
        seen += 1
        if seen % 10 == 0:
            _charge()
        if isinstance(item, _TEXT):
            total += len(item)
        elif isinstance(item, _COLLECTION):
            total += len(item)
            todo.extend(item.items() if isinstance(item, dict) else item)
        if total > MAX_VALUE:
            raise _too_large(f"over {MAX_VALUE:,}")


def _checked(value: Any) -> Any:
    """Charge for a value the template made, and refuse it if it is too large."""
    size = _size(value)
    if size > MAX_VALUE:
        raise _too_large(f"{size:,}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_big_number()
    _charge(size)
    return value


def _too_big_number() -> TemplateRefused:
    return _limit(f"the template computes a number of over {MAX_INT_BITS:,} bits",
                  "use smaller numbers")


# ---------------------------------------------------------------- checks before an operation

_WIDTH = re.compile(r"%[-#0 +]*(\d+)?(?:\.(\d+))?|\{[^{}]*:[^{}]*?(\d+)(?:\.(\d+))?[^{}\d]*\}")


def _check_format(text: str, args: Iterable[Any]) -> None:
    """A format string (`%` or `.format`) may not ask for widths over the value limit, nor
    print a collection over it."""
    args = tuple(args)
    for arg in args:
        _check_printable(arg)
    widths = [int(d) for match in _WIDTH.findall(text) for d in match if d]
    numbers = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    if any(n > MAX_VALUE for n in (*widths, *numbers)):
        raise _limit(f"the template formats text wider than the limit of {MAX_VALUE:,} "
                     "characters", "use a smaller width")


def _check_binop(op: str, left: Any, right: Any) -> None:
    ints = all(isinstance(v, int) for v in (left, right))
    if op == "**" and ints and abs(left) > 1 and right > 0:
        if left.bit_length() * right > MAX_INT_BITS:
            raise _too_big_number()
    elif op == "*" and ints:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _too_big_number()
    elif op == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(times, int) and times > 1 and _size(seq) * times > MAX_VALUE:
                raise _limit(f"the template repeats a value {times:,} times, which makes it "
                             f"longer than the limit of {MAX_VALUE:,}", "repeat it less")
    elif op == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


# methods whose work does not grow with the object they are called on
_CHEAP_METHODS = {"append", "pop", "get", "add", "keys", "values", "items", "setdefault"}
_GROWING = {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join"}


def _check_method(obj: Any, args: Sequence[Any]) -> None:
    """String methods that can make long text: bound their result before they run."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str) or name not in _GROWING:
        return
    _check_format("", args)  # widths: center(10**9)
    if name == "join" and args:
        _check_join(owner, args[0])
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        old, new = args[0], args[1]
        most = len(owner) + (len(owner) + 1) * len(new) // max(len(old), 1)
        if most > MAX_VALUE and (not old or old in owner):
            raise _limit(f"the template's replace() could make text longer than the limit of "
                         f"{MAX_VALUE:,} characters", "replace in shorter text")


def _check_join(separator: Any, items: Any) -> None:
    if not isinstance(items, (*_TEXT, *_COLLECTION)):
        return  # an iterator: join takes it as a list (see `_listed`)
    if len(str(separator)) * len(items) > MAX_VALUE:
        raise _limit(f"the template's join() would make text longer than the limit of "
                     f"{MAX_VALUE:,} characters", "join fewer or shorter items")
    _check_printable(items)


def _listed(value: Any) -> Any:
    """An iterator made into a list, charged per item, so that its length can be checked."""
    if isinstance(value, (*_TEXT, *_COLLECTION)) or not hasattr(value, "__iter__"):
        return value
    items = []
    for item in value:
        _charge()
        items.append(item)
    return items


# ------------------------------------------------------------------------------- the loader

class MacroLoader(BaseLoader):
    """Loads only the given macro files, by path relative to a product folder or the root."""

    def __init__(self, bases: Sequence[Path], files: Iterable[Path]):
        self.bases = tuple(bases)
        self.files = {os.path.normpath(p): p for p in files}

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        path = self.resolve(template)
        try:
            return path.read_text(encoding="utf-8"), str(path), lambda: True
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1
            raise TemplateRefused("DP102", f"the macro file is not UTF-8 text: byte "
                                  f"0x{exc.object[exc.start]:02x} on line {line}",
                                  "save the file as UTF-8", (path, line)) from None

    def resolve(self, name: Any) -> Path:
        """The macro file `name` stands for; names are looked up, never opened as given."""
        if isinstance(name, str):
            for base in self.bases:
                path = self.files.get(os.path.normpath(base / name))
                if path is not None:
                    return path
        names = sorted({self.display(p) for p in self.files.values()})
        shown = f"`{name}`" if isinstance(name, str) else "a value that is not a name"
        hint = ("macros in macros/*.sql (workspace) and <product>/macros/*.sql are there in "
                "every model without an import")
        hint += (f"; to import one, name it from the workspace root: {', '.join(names)}"
                 if names else "; this workspace has none yet")
        raise TemplateRefused(
            "DP108", f"a template may load only macro files (macros/*.sql of the workspace or "
                     f"of its product), not {shown}", hint)

    def display(self, path: Path) -> str:
        return os.path.relpath(path, self.bases[-1])


# ------------------------------------------------------------------- the metered environment

class _MeteredCodeGenerator(CodeGenerator):
    """Jinja's code generator, with loop iterables and all output passed through the meter."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.dpsql_loop(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.dpsql_concat((")
        for item in node.nodes:
            self.visit(item, frame)
            self.write(", ")
        self.write("))")

    def macro_def(self, macro_ref: Any, frame: Frame) -> None:
        """Macros are made by the environment's `macro_class` (dbt's `return()` needs its own)."""
        arg_tuple = ", ".join(repr(x.name) for x in macro_ref.node.args)
        if len(macro_ref.node.args) == 1:
            arg_tuple += ","
        name = getattr(macro_ref.node, "name", None)
        self.write(f"environment.macro_class(environment, macro, {name!r}, ({arg_tuple}),"
                   f" {macro_ref.accesses_kwargs!r}, {macro_ref.accesses_varargs!r},"
                   f" {macro_ref.accesses_caller!r}, context.eval_ctx.autoescape)")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.dpsql_emit({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.dpsql_emit(")
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.dpsql_printable(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")
        super()._output_child_post(node, frame, finalize)
        self.write(")")


_WIDTH_FILTERS = {"center", "indent", "batch", "slice"}  # whose number argument sizes the result


@functools.cache  # every environment wraps the same filters: once a process
def _metered_filter(name: str, func: Any) -> Any:
    passes = _PassArg.from_obj(func) is not None  # the first argument is Jinja's, not the value

    @functools.wraps(func)
    def filtered(*args: Any, **kwargs: Any) -> Any:
        head, args = args[:passes], args[passes:]
        if name == "join" and args:
            args = (_listed(args[0]), *args[1:])
            _check_join(args[1] if len(args) > 1 else kwargs.get("d", ""), args[0])
        _charge(_sizes(args) + _sizes(kwargs.values()))
        if args:
            _check_printable(args[0])  # most filters make text of their value
        rest = (*args[1:], *kwargs.values())
        if name == "format" and args and isinstance(args[0], str):
            _check_format(args[0], rest)
        if name in _WIDTH_FILTERS:
            _check_format("", rest)
        return _checked(func(*head, *args, **kwargs))
    return filtered


def _range(*args: Any) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _limit(f"range() of {len(numbers):,} numbers is over the limit of {MAX_RANGE:,}",
                     "loop over fewer numbers; a template writes SQL, and the SQL does the "
                     "work on the data (DuckDB's own range() is there for that)")
    return numbers


class MeteredEnvironment(SandboxedEnvironment):
    """Jinja's sandbox with every loop, call, operator and output charged to a budget."""

    code_generator_class = _MeteredCodeGenerator
    macro_class: type[Macro] = Macro
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        del self.globals["lipsum"]
        self.globals["range"] = _range
        self.filters = {name: _metered_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: _metered_filter(name, t) for name, t in self.tests.items()}

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        if isinstance(__obj, Macro) or name in _CHEAP_METHODS:
            _charge()  # arguments are passed by reference: no work
        else:
            if name == "join" and args:
                args = (_listed(args[0]), *args[1:])
            _charge(_size(getattr(__obj, "__self__", None)) + _sizes(args)
                    + _sizes(kwargs.values()))
            _check_method(__obj, args)
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        text = value.__self__

        def format_checked(*args: Any, **kwargs: Any) -> str:
            mappings = [v for a in args if isinstance(a, dict) for v in a.values()]
            _check_format(text, (*args, *kwargs.values(), *mappings))
            return sandboxed(*args, **kwargs)
        return format_checked

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        _check_binop(operator_, left, right)
        return _checked(super().call_binop(context, operator_, left, right))

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        return _checked(value) if isinstance(argument, slice) else value

    @staticmethod
    def dpsql_loop(iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _charge()
            yield item

    @staticmethod
    def dpsql_concat(items: tuple[Any, ...]) -> str:
        for item in items:
            _check_printable(item)
        return _checked("".join(map(str, items)))

    @staticmethod
    def dpsql_printable(value: Any) -> Any:
        _check_printable(value)
        return value

    @staticmethod
    def dpsql_emit(text: Any) -> Any:
        budget = _BUDGET.get()
        budget.output += len(text)
        if budget.output > MAX_OUTPUT:
            raise _limit(f"the template writes over {MAX_OUTPUT:,} characters",
                         "generate less SQL: loop over fewer items")
        _charge()
        return text

