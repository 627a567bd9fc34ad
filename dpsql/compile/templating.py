"""Render model templates: sandboxed Jinja with ref/input/config/var/env_var/this and macros.

Functions called from templates never raise for a user mistake: they record a diagnostic at
the template's file and line and return a placeholder, so one render reports every mistake.
Their arguments are checked before they run, so a wrong call gets dpsql's words, not Python's.
What a template may load and how much work it may do is the sandbox's (`sandbox.py`).
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError

from dpsql.compile import simple_templates
from dpsql.compile.dbtjinja import (
    Adapter,
    Namespace,
    ReturningMacro,
    dbt_globals,
    macro_in,
    package_of,
    source_input,
    target_of,
    versioned_name,
)
from dpsql.compile.sandbox import (
    SANDBOX_HINT,
    MacroLoader,
    MeteredEnvironment,
    TemplateRefused,
    metered,
)
from dpsql.compile.testblocks import TestBlocks
from dpsql.compile.usage import Usage, shown
from dpsql.core.errors import Diagnostic, Location, did_you_mean, error, warning
from dpsql.core.project import (
    MATERIALIZATIONS,
    Materialization,
    ModelConfig,
    ModelSource,
    Product,
    Project,
)
from dpsql.core.relations import RenderedRelation as Rel

_CONFIG_KEYS = {"materialized", "tags", "unique_key", "description"}


@dataclass
class _RenderState:
    """What one render collects; lives in a context variable while the template runs."""

    model: ModelSource
    product: Product
    project: Project
    incremental: bool
    config: dict[str, Any] = field(default_factory=dict)
    config_lines: dict[str, int] = field(default_factory=dict)  # key -> line of its config() call
    diagnostics: list[Diagnostic] = field(default_factory=list)
    env_read: dict[str, str | None] = field(default_factory=dict)  # for the compile cache

    def here(self) -> Location:
        """The template line being rendered: the model's own line, else a macro's."""
        frame = sys._getframe(2)
        fallback: Location | None = None
        while frame is not None:
            template = frame.f_globals.get("__jinja_template__")
            if template is not None:
                loc = Location(Path(template.filename),
                               template.get_corresponding_lineno(frame.f_lineno))
                if template.filename == str(self.model.path):
                    return loc
                fallback = fallback or loc
            frame = frame.f_back  # type: ignore[assignment]
        return fallback or Location(self.model.path, 1)

    def warn(self, code: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(warning(code, message, self.here(), hint))

    def fail(self, code: str, message: str, hint: str | None = None) -> str:
        self.diagnostics.append(error(code, message, self.here(), hint))
        return "__dpsql_unresolved__"


_STATE: contextvars.ContextVar[_RenderState] = contextvars.ContextVar("dpsql_render")


@dataclass(frozen=True)
class Rendered:
    sql: str
    config: dict[str, Any]
    line_map: tuple[int, ...]
    diagnostics: tuple[Diagnostic, ...]
    config_lines: Mapping[str, int] = field(default_factory=dict)  # for the source map


def _ref(*args: str, v: Any = None, version: Any = None) -> Any:
    state = _STATE.get()
    product = state.product
    if len(args) == 1:
        name = versioned_name(args[0], v if v is not None else version,
                              (*product.model_names, *(i.name for i in product.spec.inputs)))
        if name in product.model_names:
            relation = product.relation_of_model(name)
            return Rel(relation.schema, relation.name)
        if product.spec.input(name) is not None:
            return _input(name)
        return state.fail("DP103", f"ref('{name}'): product `{product.name}` has no model "
                          f"`{name}`", did_you_mean(name, sorted(product.model_names)))
    other_name, port = args
    if v is not None or version is not None:
        port = f"{port}_v{v if v is not None else version}"
    if other_name == product.name:
        return _ref(port)
    other = state.project.product(other_name)
    if other is None:
        return state.fail("DP103", f"ref('{other_name}', '{port}'): no product "
                          f"`{other_name}` in the workspace",
                          did_you_mean(other_name, list(state.project.by_name)))
    if other.spec.output(port) is None:
        return state.fail("DP103", f"ref('{other_name}', '{port}'): product `{other_name}` "
                          f"has no output port `{port}`",
                          did_you_mean(port, [o.name for o in other.spec.outputs]))
    declared = any(i.product == other_name and i.port == port for i in product.spec.inputs)
    if not declared:
        return state.fail(
            "DP205", f"ref('{other_name}', '{port}') reads a port that product "
            f"`{product.name}` does not declare as an input",
            f"add to {product.name}'s product.yml inputs: "
            f"`- {{name: {port}, product: {other_name}, port: {port}}}`")
    return Rel(other_name, port)


def _input(name: str) -> Any:
    state = _STATE.get()
    spec = state.product.spec.input(name)
    if spec is None:
        return state.fail("DP104", f"input('{name}'): product `{state.product.name}` declares no "
                          f"input `{name}`",
                          did_you_mean(name, [i.name for i in state.product.spec.inputs]))
    relation = state.product.relation_of_input(spec)
    return Rel(relation.schema, relation.name)


def _source(*args: str) -> Any:
    """source('raw_orders'), or dbt's source('jaffle', 'orders'): the input that reads table
    `jaffle.orders`, else the input named `jaffle__orders`, else `orders`."""
    if len(args) == 1:
        return _input(args[0])
    state = _STATE.get()
    source, table = args
    found = source_input(source, table, state.product.spec.inputs)
    if found is None:
        return state.fail("DP104", f"source('{source}', '{table}'): product "
                          f"`{state.product.name}` declares no input for it",
                          f"declare an input `{table}` (or `{source}__{table}`) with "
                          f"`table: {source}.{table}` in product.yml")
    return _input(found.name)


def _config(**kwargs: Any) -> str:
    state = _STATE.get()
    for key, value in kwargs.items():
        if key not in _CONFIG_KEYS:
            state.warn("DP116", f"config() option `{key}` is not used by dpsql; it is ignored",
                       did_you_mean(key, sorted(_CONFIG_KEYS)) or
                       f"dpsql uses: {', '.join(sorted(_CONFIG_KEYS))}")
            continue
        problem = _config_problem(key, value)
        if problem is not None:
            state.fail("DP106", *problem)
            continue
        state.config[key] = value
        where = state.here()
        if where.path == state.model.path:
            state.config_lines[key] = where.line
    return ""


def _config_problem(key: str, value: Any) -> tuple[str, str] | None:
    """What is wrong with one config() option's value: (message, hint), or None."""
    if key == "materialized" and (not isinstance(value, str) or value not in MATERIALIZATIONS):
        return (f"materialized={shown(value)} is not a materialization",
                f"use one of: {', '.join(MATERIALIZATIONS)}")
    names = isinstance(value, str) or (isinstance(value, (list, tuple))
                                       and all(isinstance(v, str) for v in value))
    if key in ("tags", "unique_key") and not names:
        return (f"{key}={shown(value)} is not a name or a list of names",
                f"write config({key}='name') or config({key}=['one', 'two'])")
    if key == "description" and not isinstance(value, str):
        return (f"description={shown(value)} is not text",
                "write config(description='what the model holds')")
    return None


_MISSING = object()


def _var(name: str, default: Any = _MISSING) -> Any:
    state = _STATE.get()
    variables = state.project.config.vars
    if name in variables:
        return variables[name]
    if default is not _MISSING:
        return default
    return state.fail("DP105", f"var('{name}') is not set", f"add `{name}` under `vars:` in "
                      f"dpsql.yml, or pass a default: var('{name}', ...)")


def _env_var(name: str, default: Any = _MISSING) -> Any:
    state = _STATE.get()
    env = state.project.config.env
    state.env_read[name] = env.get(name)
    if name in env:
        return env[name]
    if default is not _MISSING:
        return default
    return state.fail("DP105", f"env_var('{name}') is not set",
                      f"set the environment variable {name}, or pass a default")


def _is_incremental() -> bool:
    return _STATE.get().incremental


_REF = ("ref('stg_orders') for a model of this product, or ref('customers', 'customers') for "
        "an output port of another product")
_USAGES: dict[str, Usage] = {
    "ref": Usage((1, 2), 2, ("v", "version"), _REF),
    "input": Usage((1,), 1, (), "input('raw_orders'), naming an input of product.yml"),
    "source": Usage((1, 2), 2, (), "source('raw_orders'), naming an input of product.yml, or "
                     "source('jaffle', 'orders') for an input reading table jaffle.orders"),
    "config": Usage((0,), 0, None, "config(materialized='table', tags=['daily'])"),
    "var": Usage((1, 2), 1, ("default",), "var('start_date') or var('start_date', "
                  "'2024-01-01')"),
    "env_var": Usage((1, 2), 1, ("default",), "env_var('USER') or env_var('USER', 'nobody')"),
    "is_incremental": Usage((0,), 0, (), "{% if is_incremental() %}"),
}


def _argument_checked(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as templates see it: its arguments checked, a problem reported in dpsql's words."""
    usage = _USAGES[name]

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        state = _STATE.get(None)
        if state is None:  # at the top of a macro file, outside any macro
            raise TemplateRefused("DP107", f"{name}() is called outside a model",
                                  f"call {name}() from a model, or inside a macro's body")
        problem = usage.problem(name, args, kwargs)
        if problem is not None:
            hint = f"write {usage.example}"
            return state.fail("DP107", problem, hint)
        return func(*args, **kwargs)
    return call


_GLOBALS: dict[str, Callable[..., Any]] = {
    name: _argument_checked(name, func) for name, func in (
        ("ref", _ref), ("input", _input), ("source", _source), ("config", _config),
        ("var", _var), ("env_var", _env_var), ("is_incremental", _is_incremental))
}


class Renderer:
    """One sandboxed Jinja environment per product: workspace macros, then product macros."""

    def __init__(self, project: Project):
        self.project = project
        self._envs: dict[str, tuple[MeteredEnvironment, tuple[Diagnostic, ...]]] = {}
        # environment variables each template read, with their values (None: not set)
        self.env_read: dict[Path, dict[str, str | None]] = {}

    def environment(self, product: Product) -> tuple[MeteredEnvironment, tuple[Diagnostic, ...]]:
        cached = self._envs.get(product.name)
        if cached is None:
            cached = self._envs[product.name] = self._build(product)
        return cached

    def _build(self, product: Product) -> tuple[MeteredEnvironment, tuple[Diagnostic, ...]]:
        root = self.project.root
        packaged = [p for p in self.project.macro_files if package_of(p, root)]
        files = (*packaged, *(p for p in self.project.macro_files if p not in packaged),
                 *product.macro_files)
        env = MeteredEnvironment(
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            loader=MacroLoader((product.spec.path, root), files),
            extensions=["jinja2.ext.do"],
        )
        env.macro_class = ReturningMacro
        env.globals.update(_GLOBALS)
        namespaces: dict[str, dict[str, Any]] = {}
        env.globals.update(dbt_globals(target_of(self.project.config.threads,
                                                 self.project.config.warehouse.stem),
                                       Adapter(functools.partial(macro_in, env.globals, namespaces))))
        env.add_extension(TestBlocks)  # `{% test %}` blocks: custom generic tests
        diagnostics: list[Diagnostic] = []
        for path in files:
            try:
                with metered():
                    module = _macro_module(env, path)
            except jinja2.TemplateSyntaxError as exc:
                diagnostics.append(_syntax_error(exc, path))
                continue
            except Exception as exc:
                diagnostics.append(_render_error(exc, path))
                continue
            package = package_of(path, root)
            for name in dir(module):
                value = getattr(module, name)
                if isinstance(value, jinja2.runtime.Macro):
                    env.globals[name] = value
                    if package is not None:
                        namespaces.setdefault(package, {})[name] = value
        for package, macros in namespaces.items():
            env.globals[package] = Namespace(package, macros)
        return env, tuple(diagnostics)

    def render(self, product: Product, model: ModelSource, incremental: bool = False) -> Rendered:
        env, macro_errors = self.environment(product)
        state = _RenderState(model, product, self.project, incremental)
        token = _STATE.set(state)
        try:  # without Jinja when the template needs none (its calls are the same functions)
            simple = simple_templates.render(model.text, functools.partial(_call, env, state),
                                             product.relation_of_model(model.name).sql,
                                             env.dpsql_emit)
        finally:
            _STATE.reset(token)
        if simple is not None:
            state.config_lines.update(simple[1])
            return Rendered(simple[0], state.config, line_map(model.text, simple[0]),
                            macro_errors, state.config_lines)
        state = _RenderState(model, product, self.project, incremental)
        token = _STATE.set(state)
        try:
            with metered():
                code = env.compile(model.text, str(model.path), str(model.path))
                template = env.template_class.from_code(env, code, env.make_globals(None))
                this = product.relation_of_model(model.name)
                sql = template.render(this=Rel(this.schema, this.name))
        except jinja2.TemplateSyntaxError as exc:
            return Rendered("", {}, (), (*macro_errors, _syntax_error(exc, model.path)))
        except Exception as exc:
            return Rendered("", {}, (), (*macro_errors, _render_error(exc, model.path)))
        finally:
            _STATE.reset(token)
            if state.env_read:
                self.env_read.setdefault(model.path, {}).update(state.env_read)
        diagnostics = (*macro_errors, *state.diagnostics)
        return Rendered(sql, state.config, line_map(model.text, sql), diagnostics,
                        state.config_lines)


def _call(env: MeteredEnvironment, state: _RenderState, name: str, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    """A simple template's call, as Jinja would make it; NOT_SIMPLE if Jinja must (a macro of
    that name, or a problem to report with its location)."""
    if env.globals.get(name) is not _GLOBALS[name]:
        return simple_templates.NOT_SIMPLE
    value = _GLOBALS[name](*args, **kwargs)
    return simple_templates.NOT_SIMPLE if state.diagnostics else value


def _macro_module(env: MeteredEnvironment, path: Path) -> Any:
    """A macro file, run once for its macros; an error points at the macro file's line."""
    template = env.get_template(str(path))
    try:
        return template.module
    except Exception:
        env.handle_exception()  # re-raises, with the traceback in template lines


def _syntax_error(exc: jinja2.TemplateSyntaxError, path: Path) -> Diagnostic:
    where = Path(exc.filename) if exc.filename and exc.filename != "<template>" else path
    return error("DP101", f"Jinja syntax error: {exc.message}", Location(where, exc.lineno or 0),
                 "check the {{ }} and {% %} tags on this line; every block needs its end tag")


def _render_error(exc: BaseException, path: Path) -> Diagnostic:
    line = 0
    where = path
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".sql") or frame.filename == str(path):
            line, where = frame.lineno or 0, Path(frame.filename)
            break
    at = Location(where, line)
    if isinstance(exc, TemplateRefused):
        return error(exc.code, exc.message, Location(*exc.where) if exc.where else at, exc.hint)
    if isinstance(exc, jinja2.UndefinedError):
        return error("DP102", f"template error: {exc.message}", at,
                     "define it (a macro in macros/, a var in dpsql.yml) or fix the spelling")
    if isinstance(exc, SecurityError):
        return error("DP109", f"the template sandbox refuses this: {exc}", at,
                     "a template cannot reach Python's internals; use the template functions, "
                     f"filters and macros; {SANDBOX_HINT}")
    if isinstance(exc, RecursionError):
        return error("DP109", "macros call each other too deeply (over Python's limit)", at,
                     "give a macro that calls itself a case where it stops")
    if isinstance(exc, MemoryError):
        return error("DP109", "the template ran out of memory", at,
                     f"build smaller values; {SANDBOX_HINT}")
    return error("DP102", f"template error: {type(exc).__name__}: {exc}", at,
                 "fix the expression on this line")


def line_map(template: str, rendered: str) -> tuple[int, ...]:
    """For each line of the rendered SQL, the template line (1-based) it most likely came from."""
    t_lines = template.splitlines()
    r_lines = rendered.splitlines()
    if len(t_lines) == len(r_lines) and "{%" not in template:
        return tuple(range(1, len(r_lines) + 1))
    out: list[int] = [1] * len(r_lines)
    matcher = difflib.SequenceMatcher(None, t_lines, r_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if tag == "equal":
                out[j] = i1 + (j - j1) + 1
            elif tag == "replace":
                out[j] = i1 + min(j - j1, i2 - i1 - 1) + 1
            else:  # lines produced by a block or macro: point at the template line before
                out[j] = max(i1, 1)
    return tuple(out)


def model_config(raw: dict[str, Any], is_port: bool) -> ModelConfig:
    """Turn what config() collected into a ModelConfig with the defaults filled in."""
    default = Materialization.TABLE if is_port else Materialization.VIEW
    materialized = Materialization(raw.get("materialized") or default)
    tags = raw.get("tags") or ()
    key = raw.get("unique_key") or ()
    return ModelConfig(
        materialized=materialized,
        tags=(tags,) if isinstance(tags, str) else tuple(str(t) for t in tags),
        unique_key=(key,) if isinstance(key, str) else tuple(str(k) for k in key),
        description=str(raw.get("description") or ""),
    )
