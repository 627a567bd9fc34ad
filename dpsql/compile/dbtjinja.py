"""What dbt's Jinja context offers beyond ref/source/config/var, for templates written for dbt:
`return()`, `log()`, `exceptions`, `target`, `invocation_id`, `run_started_at`,
`adapter.dispatch`, `modules.datetime`, and macros of packages by namespace
(`dbt_utils.generate_surrogate_key`).

Every value here is plain data or a small object whose public attributes are all a template
may reach: the sandbox still refuses `_` attributes, and `modules.datetime` is a namespace of
the datetime classes, not the `datetime` module (which would hand out `sys`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jinja2.runtime import Macro

from dpsql.compile.dbtmacros import DbtMacros
from dpsql.compile.sandbox import TemplateRefused
from dpsql.core.specs import InputSpec

log = logging.getLogger("dpsql")

ADAPTER_TYPE = "duckdb"


class MacroReturn(Exception):
    """Raised by `return(value)` inside a macro; the macro call gives `value`."""

    def __init__(self, value: Any):
        super().__init__("return() outside a macro")
        self.value = value


class ReturningMacro(Macro):
    """A macro whose body may end with `{{ return(value) }}` (dbt's way of returning data)."""

    def _invoke(self, arguments: list[Any], autoescape: bool) -> Any:
        try:
            return super()._invoke(arguments, autoescape)
        except MacroReturn as returned:
            return returned.value


def _return(value: Any = None) -> Any:
    raise MacroReturn(value)


def _log(message: Any = "", info: bool = False) -> str:
    (log.info if info else log.debug)("%s", message)
    return ""


class Exceptions:
    """`exceptions.raise_compiler_error(msg)` stops the render with DP115; `warn` logs."""

    @staticmethod
    def raise_compiler_error(message: Any = "", node: Any = None) -> None:
        raise TemplateRefused("DP115", f"the template raised an error: {message}",
                              "the project's own check failed: read its message")

    @staticmethod
    def warn(message: Any = "", node: Any = None) -> str:
        log.warning("%s", message)
        return ""


@dataclass(frozen=True)
class Target:
    """dbt's `target`: where the build goes. One DuckDB target until targets are declared."""

    name: str = "dev"
    schema: str = "main"
    type: str = ADAPTER_TYPE
    database: str = "warehouse"
    threads: int = 1
    profile_name: str = "dpsql"


def target_of(threads: int, database: str) -> Target:
    """The target templates see: today always the workspace's DuckDB warehouse."""
    return Target(threads=threads, database=database)


@dataclass(frozen=True)
class DatetimeModule:
    """`modules.datetime`: the classes of Python's datetime, without the module's imports."""

    datetime: type = _dt.datetime
    date: type = _dt.date
    time: type = _dt.time
    timedelta: type = _dt.timedelta
    timezone: type = _dt.timezone


@dataclass(frozen=True)
class Modules:
    datetime: DatetimeModule = DatetimeModule()


class Namespace:
    """A package's macros by name: `dbt_utils.generate_surrogate_key(...)`."""

    def __init__(self, name: str, macros: Mapping[str, Any]):
        self._name = name
        self._macros = MappingProxyType(dict(macros))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._macros[name]
        except KeyError:
            raise TemplateRefused(
                "DP103", f"package `{self._name}` has no macro `{name}`",
                f"its macros: {', '.join(sorted(self._macros)) or '(none)'}") from None


class Adapter:
    """dbt's `adapter`, as far as SQL-writing macros use it: `dispatch` and `quote`."""

    type = ADAPTER_TYPE

    def __init__(self, lookup: Callable[[str | None, str], Any]):
        self._lookup = lookup  # (namespace or None for the workspace, macro name) -> macro

    def dispatch(self, macro_name: str, macro_namespace: str | None = None) -> Any:
        """The `duckdb__name` implementation, else `default__name` (dbt's search order)."""
        for prefix in (ADAPTER_TYPE, "default"):
            candidate = f"{prefix}__{macro_name}"
            for namespace in (None, macro_namespace) if macro_namespace else (None,):
                found = self._lookup(namespace, candidate)
                if found is not None:
                    return found
        where = f" in package `{macro_namespace}`" if macro_namespace else ""
        raise TemplateRefused(
            "DP103", f"adapter.dispatch('{macro_name}'){where} finds neither "
            f"`{ADAPTER_TYPE}__{macro_name}` nor `default__{macro_name}`",
            f"define a macro `default__{macro_name}` (or `{ADAPTER_TYPE}__{macro_name}`)")

    @staticmethod
    def quote(identifier: Any) -> str:
        return '"' + str(identifier).replace('"', '""') + '"'


@dataclass(frozen=True)
class RunInfo:
    """What is fixed for one dpsql process: dbt's `invocation_id` and `run_started_at`."""

    invocation_id: str
    run_started_at: _dt.datetime


_RUN = RunInfo(str(uuid.uuid4()), _dt.datetime.now(_dt.UTC))


def dbt_globals(target: Target, adapter: Adapter) -> dict[str, Any]:
    """The names a dbt template may use besides dpsql's own template functions."""
    return {
        "return": _return,
        "log": _log,
        "exceptions": Exceptions(),
        "target": target,
        "invocation_id": _RUN.invocation_id,
        "run_started_at": _RUN.run_started_at,
        "modules": Modules(),
        "adapter": adapter,
        "dbt": DbtMacros(),
    }


def versioned_name(name: str, version: Any, names: tuple[str, ...] | list[str]) -> str:
    """The model or input `ref(name, v=version)` reads: `name_v<version>`; without a version,
    `name` itself, else its latest version (the highest `name_v<N>`, as dbt's latest_version)."""
    if version is not None:
        return f"{name}_v{version}"
    if name in names:
        return name
    prefix = f"{name}_v"
    versions = [n[len(prefix):] for n in names if n.startswith(prefix)]
    numbered = sorted((int(v), v) for v in versions if v.isdigit())
    return f"{prefix}{numbered[-1][1]}" if numbered else name


def package_of(path: Any, root: Any) -> str | None:
    """The package a macro file belongs to: `packages/<name>/macros/...` of the workspace."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if len(parts) > 3 and parts[0] == "packages" and parts[2] == "macros":
        return str(parts[1])
    return None


def macro_in(globals_: Mapping[str, Any], namespaces: Mapping[str, Mapping[str, Any]],
             package: str | None, name: str) -> Any:
    """A macro by name, of the workspace (package None) or of one package; None if absent."""
    found = globals_.get(name) if package is None else namespaces.get(package, {}).get(name)
    return found if isinstance(found, Macro) else None


def source_input(source: str, table: str, inputs: Sequence[InputSpec]) -> InputSpec | None:
    """The input dbt's source('jaffle', 'orders') reads: the one reading table `jaffle.orders`,
    else the input named `jaffle__orders`, else `orders`."""
    wanted = f"{source}.{table}".lower()
    found = next((i for i in inputs if i.table and i.table.replace('"', "").lower() == wanted),
                 None)
    by_name = {i.name: i for i in inputs}
    return found or by_name.get(f"{source}__{table}") or by_name.get(table)
