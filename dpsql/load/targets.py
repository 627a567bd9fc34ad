"""`target:` and `targets:` in dpsql.yml: where a workspace is built, and the choice of one.

    target: dev                          # the default (else the first of `targets:`)
    targets:
      dev:  {type: duckdb, path: warehouse.duckdb}
      prod: {type: spark, master: "local[*]", warehouse_dir: spark-warehouse}

`warehouse: FILE` alone (no `targets:`) is one DuckDB target named `default`. Every value of
the chosen target (and `target:` and `warehouse:`) may use `{{ env_var('NAME', 'default') }}`;
only the chosen target's values are rendered, so a variable that another target needs may be
unset. The command line's choice (`--target`, `--vars`) reaches the loader through `chosen()`,
a context the CLI sets around each command.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Diagnostic, DpsqlError, closest, error
from dpsql.core.specs import Target
from dpsql.load.yamlfile import YamlDoc

TYPES = ("duckdb", "spark")
IMPLICIT = "default"  # the name of the target `warehouse:` alone declares
RESERVED = frozenset({"cache", "compiled", "docs", "logs"})  # entries of target/ itself
_KEYS = {"duckdb": {"type", "path"},
         "spark": {"type", "master", "remote", "warehouse_dir", "conf"}}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Choice:
    """What the command line chose: a target name (None: the default) and vars that override
    `vars:` in dpsql.yml."""

    target: str | None = None
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


_CHOICE: ContextVar[Choice | None] = ContextVar("dpsql_target_choice", default=None)


@contextlib.contextmanager
def chosen(choice: Choice) -> Iterator[None]:
    """Within the block, every workspace loaded uses this target and these vars."""
    token = _CHOICE.set(choice)
    try:
        yield
    finally:
        _CHOICE.reset(token)


def current_choice() -> Choice:
    return _CHOICE.get() or Choice()


@dataclass
class Found:
    """The chosen target, where its outputs go, and what it read of the environment."""

    target: Target
    target_dir: Path
    env_read: dict[str, str | None]


class _Render:
    """`{{ env_var('X', 'default') }}` in a value of dpsql.yml, in a sandbox with nothing else."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.read: dict[str, str | None] = {}
        self._jinja: Any = None  # made for the first value with a tag (most have none)

    def env_var(self, name: str, default: Any = None) -> str:
        self.read[name] = self.env.get(name)
        if name in self.env:
            return self.env[name]
        if default is None:
            raise LookupError(f"env_var('{name}') is not set")
        return str(default)

    def value(self, text: str) -> str:
        """The rendered value; RenderError if it cannot be rendered."""
        if "{" not in text:
            return text
        import jinja2  # not imported by the commands that read no templated value
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if self._jinja is None:
            self._jinja = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
        try:
            return str(self._jinja.from_string(text).render(env_var=self.env_var))
        except jinja2.TemplateError as exc:
            raise RenderError(str(exc)) from None


class RenderError(Exception):
    """A value of dpsql.yml whose template cannot be rendered (jinja's message)."""


def read_target(doc: YamlDoc, data: Mapping[str, Any], root: Path, env: Mapping[str, str],
                diagnostics: list[Diagnostic]) -> Found | None:
    """The target chosen (`--target`, else `target:`, else the first of `targets:`)."""
    render = _Render(env)
    choice = current_choice()
    targets = data.get("targets")
    default = _text(render, doc, data, "target", (), diagnostics)
    if targets is None:
        return _implicit(render, doc, data, root, choice, default, diagnostics)
    if data.get("warehouse") is not None:
        diagnostics.append(error("DP003", "`warehouse:` and `targets:` are both set",
                                 doc.loc("warehouse"), "declare the DuckDB file as a target: "
                                 "`dev: {type: duckdb, path: warehouse.duckdb}`, and remove "
                                 "`warehouse:`"))
    if not isinstance(targets, dict) or not targets:
        diagnostics.append(error("DP003", "`targets` must be a mapping of names to targets",
                                 doc.loc("targets"), "e.g. `dev: {type: duckdb, path: "
                                 "warehouse.duckdb}` under `targets:`"))
        return None
    names = [str(n) for n in targets]
    for name in names:
        _check_name(doc, name, diagnostics)
    default = default or names[0]
    if default not in targets:
        diagnostics.append(_unknown(doc, default, names, ("target",), "`target:`"))
        return None
    name = choice.target or default
    if name not in targets:
        diagnostics.append(_unknown(doc, name, names, ("targets",), "--target"))
        return None
    target = _entry(render, doc, name, targets[name], root, diagnostics)
    if target is None:
        return None
    folder = root / "target" if name == default else root / "target" / name
    return Found(target, folder, render.read)


def _implicit(render: _Render, doc: YamlDoc, data: Mapping[str, Any], root: Path,
              choice: Choice, default: str, diagnostics: list[Diagnostic]) -> Found | None:
    """`warehouse:` alone: one DuckDB target named `default`."""
    for name, keys in ((default, ("target",)), (choice.target, ("targets",))):
        if name and name != IMPLICIT:
            diagnostics.append(_unknown(doc, name, [IMPLICIT], keys,
                                        "--target" if keys == ("targets",) else "`target:`"))
            return None
    warehouse = _text(render, doc, data, "warehouse", (), diagnostics) or "warehouse.duckdb"
    if not warehouse.strip():
        diagnostics.append(error("DP003", "`warehouse` is empty", doc.loc("warehouse"),
                                 "name the DuckDB file to build into, e.g. "
                                 "`warehouse: warehouse.duckdb`"))
        return None
    if _remote_database(doc, warehouse, ("warehouse",), diagnostics):
        return None
    path = root / warehouse if warehouse != ":memory:" else Path(warehouse)
    return Found(Target(IMPLICIT, "duckdb", doc.loc("warehouse"), path=path),
                 root / "target", render.read)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\\)")  # md:db, s3://..., not C:\


def _remote_database(doc: YamlDoc, path: str, keys: tuple[str, ...],
                     diagnostics: list[Diagnostic]) -> bool:
    """`md:bank` (MotherDuck) or a URL is not a file: refused rather than created as one."""
    if path == ":memory:" or not _SCHEME.match(path):
        return False
    diagnostics.append(error("DP003", f"`{path}` is not a DuckDB file on this machine (a "
                             "MotherDuck database or a URL), which dpsql does not build into",
                             doc.loc(*keys), "give a file path, e.g. `warehouse.duckdb`"))
    return True


def _entry(render: _Render, doc: YamlDoc, name: str, raw: Any, root: Path,
           diagnostics: list[Diagnostic]) -> Target | None:
    keys = ("targets", name)
    if not isinstance(raw, dict):
        diagnostics.append(error("DP003", f"target `{name}` must be a mapping", doc.loc(*keys),
                                 f"e.g. `{name}: {{type: duckdb, path: warehouse.duckdb}}`"))
        return None
    kind = str(raw.get("type") or "")
    if kind not in TYPES:
        diagnostics.append(error(
            "DP003", f"target `{name}` has type `{kind}`, which dpsql does not support"
            if kind else f"target `{name}` has no `type`", doc.loc(*keys, "type"),
            f"supported types: {', '.join(TYPES)}"))
        return None
    unknown = [k for k in raw if k not in _KEYS[kind]]
    for key in unknown:
        diagnostics.append(error("DP002", f"unknown key `{key}` in {kind} target `{name}`",
                                 doc.loc(*keys, key, key=True),
                                 f"valid keys: {', '.join(sorted(_KEYS[kind]))}"))
    values = {k: _text(render, doc, raw, k, keys, diagnostics) for k in _KEYS[kind] - {"conf"}}
    where = doc.loc(*keys)
    if kind == "duckdb":
        path = values.get("path") or "warehouse.duckdb"
        if _remote_database(doc, path, (*keys, "path"), diagnostics):
            return None
        return Target(name, kind, where, path=root / path if path != ":memory:" else Path(path))
    conf = _conf(render, doc, raw.get("conf"), keys, diagnostics)
    if values.get("master") and values.get("remote"):
        diagnostics.append(error("DP003", f"spark target `{name}` sets both `master` and "
                                 "`remote`", doc.loc(*keys, "remote"), "keep `master: local[*]` "
                                 "for local mode, or `remote: sc://host:15002` for Spark Connect"))
        return None
    remote = values.get("remote") or None
    if remote is not None and not remote.startswith("sc://"):
        diagnostics.append(error("DP003", f"`remote: {remote}` is not a Spark Connect address",
                                 doc.loc(*keys, "remote"), "write `remote: sc://host:15002`"))
        return None
    folder = values.get("warehouse_dir") or "spark-warehouse"
    return Target(name, kind, where, master=None if remote else values.get("master") or "local[*]",
                  remote=remote, warehouse_dir=root / folder, conf=conf)


def _conf(render: _Render, doc: YamlDoc, raw: Any, keys: tuple[str, ...],
          diagnostics: list[Diagnostic]) -> Mapping[str, str]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        diagnostics.append(error("DP003", "`conf` must be a mapping of Spark settings",
                                 doc.loc(*keys, "conf"),
                                 "e.g. `conf: {spark.sql.shuffle.partitions: 8}`"))
        return MappingProxyType({})
    return MappingProxyType({str(k): _text(render, doc, raw, str(k), (*keys, "conf"), diagnostics)
                             for k in raw})


def _text(render: _Render, doc: YamlDoc, data: Mapping[str, Any], key: str,
          keys: tuple[str, ...], diagnostics: list[Diagnostic]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        diagnostics.append(error("DP003", f"`{key}` must be a plain value", doc.loc(*keys, key),
                                 f"write `{key}:` followed by text"))
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        return render.value(text)
    except (RenderError, LookupError, TypeError) as exc:
        diagnostics.append(error("DP003", f"`{key}: {text}` cannot be rendered: {exc}",
                                 doc.loc(*keys, key), "set the environment variable, or give "
                                 "env_var() a default: `{{ env_var('NAME', 'default') }}`"))
        return ""


def _check_name(doc: YamlDoc, name: str, diagnostics: list[Diagnostic]) -> None:
    if not _NAME.match(name) or name in RESERVED:
        diagnostics.append(error(
            "DP003", f"`{name}` cannot be a target's name", doc.loc("targets", name, key=True),
            "use letters, digits, `_` and `-`, starting with a letter; not "
            + ", ".join(sorted(RESERVED)) + " (folders of target/)"))


def _unknown(doc: YamlDoc, name: str, names: list[str], keys: tuple[str, ...], how: str
             ) -> Diagnostic:
    close = closest(name, names)
    return error("DP014", f"{how} names target `{name}`, which dpsql.yml does not declare",
                 doc.loc(*keys), (f"did you mean `{close}`? " if close else "")
                 + f"declared targets: {', '.join(names)}")


def parse_vars(text: str) -> dict[str, Any]:
    """`--vars '{key: value}'` (YAML); ValueError when it is not a mapping."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {str(exc).splitlines()[0]}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("give a YAML mapping, e.g. --vars '{start_date: 2024-06-01}'")
    return {str(k): v for k, v in value.items()}


def require(found: Found | None, diagnostics: list[Diagnostic]) -> Found:
    if found is None or diagnostics:
        raise DpsqlError(diagnostics)
    return found
