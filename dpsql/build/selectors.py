"""dbt's node selection grammar over the compiled models (plan.select uses it).

A selector is one space-separated token; its comma-joined parts are intersected. A part is

    [@][N+]core[+N]        core with ancestors (`+`, N levels at most with `N+`), with
                           descendants (`+`, `+N`), or `@`: descendants and their ancestors
    core                   `name`, `method:value`; a value may hold `*` / `?` wildcards

Methods: product, model, domain, tag, path, config.<key>, result (the status in a previous
run's results) and state (against a previous target/ folder, given with --state). A part that
names nothing is a SelectionError, except `state:` and `result:`, for which nothing is a
normal answer (nothing was modified, nothing failed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from dpsql.build.previous import STATES, Previous
from dpsql.core.errors import closest
from dpsql.core.graph import distances, reverse
from dpsql.core.project import CompiledModel, CompiledProject

_PART = re.compile(r"^(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<core>[^+@]+?)(?:\+(?P<down>\d*))?$")
METHODS = ("product", "model", "domain", "tag", "path", "config.<key>", "result", "state")
CONFIG_KEYS = ("materialized", "tags", "unique_key")
_QUIET = ("state", "result")  # methods for which matching nothing is a normal answer


class SelectionError(ValueError):
    """A selector that names nothing, or is not written right; the CLI reports it as a usage
    error."""


@dataclass(frozen=True)
class Part:
    """One parsed part: what `core` matches, then the graph operators around it."""

    core: str
    up: int | None = None  # None: no ancestors; -1: all of them; n: n levels
    down: int | None = None
    at: bool = False


def parse_part(text: str) -> Part:
    found = _PART.match(text)
    if found is None:
        raise SelectionError(f"selector `{text}` is not written as dbt writes them: "
                             "[@][N+]name[+N], e.g. `orders+`, `2+orders.fct_orders`, "
                             "`@tag:daily`")
    at, up, core, down = found.group("at", "up", "core", "down")
    if at and (up is not None or down is not None):
        raise SelectionError(f"selector `{text}`: `@` cannot be combined with `+`")
    return Part(core, _depth(up), _depth(down), bool(at))


def _depth(text: str | None) -> int | None:
    if text is None:
        return None
    return int(text) if text else -1


class Matcher:
    """Answers which models each part selects, for one compiled project."""

    def __init__(self, compiled: CompiledProject, previous: Previous | None = None):
        self.compiled = compiled
        self.previous = previous
        self.edges = {mid: [d for d in m.depends_on if d in compiled.models]
                      for mid, m in compiled.models.items()}
        self.children = reverse(self.edges)

    def part(self, text: str) -> set[str]:
        part = parse_part(text)
        base = self.core(part.core)
        result = set(base)
        if part.at:
            down = self._walk(self.children, base, -1)
            result |= down | self._walk(self.edges, result, -1)
        if part.up is not None:
            result |= self._walk(self.edges, base, part.up)
        if part.down is not None:
            result |= self._walk(self.children, base, part.down)
        return result

    def _walk(self, edges: Mapping[str, list[str]], start: set[str], depth: int) -> set[str]:
        found: set[str] = set()
        for node in start:
            found.update(distances(node, edges, None if depth < 0 else depth))
        return found & set(self.compiled.models)

    def core(self, core: str) -> set[str]:
        method, _, value = core.partition(":") if ":" in core else ("", "", core)
        matches = self._method(method)(value)
        if not matches and method not in _QUIET:
            raise SelectionError(self._nothing(core))
        return matches

    def _method(self, method: str) -> Callable[[str], set[str]]:
        if method.startswith("config."):
            key = method.removeprefix("config.")
            if key not in CONFIG_KEYS:
                raise SelectionError(f"unknown config key `{key}` in `{method}:` (known: "
                                     + ", ".join(CONFIG_KEYS) + ")")
            return lambda value: self._where(lambda m: _config_matches(m, key, value))
        found = {"": self._name, "model": self._name, "product": self._product,
                 "domain": self._domain, "tag": self._tag, "path": self._path,
                 "result": self._result, "state": self._state}.get(method)
        if found is None:
            close = closest(method, [m.split(".")[0] for m in METHODS])
            hint = f"did you mean `{close}:`? " if close else ""
            raise SelectionError(f"unknown selector method `{method}:` ({hint}known: "
                                 + ", ".join(f"{m}:" for m in METHODS) + ")")
        return found

    def _where(self, keep: Callable[[CompiledModel], bool]) -> set[str]:
        return {mid for mid, model in self.compiled.models.items() if keep(model)}

    def _products(self, pattern: str) -> set[str]:
        return {p.name for p in self.compiled.project.products if fnmatchcase(p.name, pattern)}

    def _product(self, value: str) -> set[str]:
        names = self._products(value)
        return self._where(lambda m: m.product in names)

    def _domain(self, value: str) -> set[str]:
        names = {p.name for p in self.compiled.project.products
                 if fnmatchcase(p.spec.domain, value)}
        return self._where(lambda m: m.product in names)

    def _tag(self, value: str) -> set[str]:
        by_name = self.compiled.project.by_name
        return self._where(lambda m: any(fnmatchcase(t, value) for t in (
            *m.config.tags, *by_name[m.product].spec.tags)))

    def _name(self, value: str) -> set[str]:
        if value == "*":
            return set(self.compiled.models)
        if "." in value:
            product_name, _, name = value.partition(".")
            wanted: set[tuple[str, str]] = set()
            for product in self.compiled.project.products:
                if fnmatchcase(product.name, product_name):
                    port = product.spec.output(name)
                    wanted.add((product.name, port.model if port is not None
                                and name not in product.model_names else name))
            return self._where(lambda m: any(m.product == p and fnmatchcase(m.name, n)
                                             for p, n in wanted))
        products = self._products(value)
        if products and not _wild(value):
            return self._where(lambda m: m.product in products)
        return self._where(lambda m: m.product in products or fnmatchcase(m.name, value))

    def _path(self, value: str) -> set[str]:
        root = self.compiled.project.root
        given = Path(value)
        wanted = (given if given.is_absolute() else root / given).resolve() \
            if not _wild(value) else None

        def keep(model: CompiledModel) -> bool:
            path = model.source.path.resolve()
            if wanted is None:
                return fnmatchcase(_relative(path, root), value.rstrip("/"))
            return path == wanted or wanted in path.parents
        return self._where(keep)

    def _result(self, value: str) -> set[str]:
        previous = self.previous
        if previous is None or not previous.has_results:
            raise SelectionError(f"`result:{value}` needs the results of a previous run: there "
                                 "is no run_results.json in target/ (or in --state DIR)")
        return {mid for mid in self.compiled.models
                if value in previous.statuses(self.compiled, mid)}

    def _state(self, value: str) -> set[str]:
        previous = self.previous
        if value not in STATES:
            raise SelectionError(f"unknown state `state:{value}` (known: "
                                 + ", ".join(f"state:{s}" for s in STATES) + ")")
        if previous is None or not previous.has_manifest:
            where = f" ({previous.folder} has no readable manifest.json)" if (
                previous is not None and previous.folder is not None) else ""
            raise SelectionError(f"`state:{value}` compares with a previous run: give --state "
                                 f"DIR, the target/ folder of that run{where}")
        return previous.state(self.compiled, value)

    def _nothing(self, core: str) -> str:
        options = list(self.compiled.project.by_name) + list(self.compiled.models)
        close = closest(core.split(":")[-1], options, cutoff=0.6)
        hint = f"; did you mean `{close}`?" if close else ""
        return f"selector `{core}` matches no model{hint}"


def _wild(value: str) -> bool:
    return any(c in value for c in "*?[")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _config_matches(model: CompiledModel, key: str, value: str) -> bool:
    config = model.config
    if key == "materialized":
        return fnmatchcase(str(config.materialized), value)
    if key == "tags":
        return any(fnmatchcase(t, value) for t in config.tags)
    return any(fnmatchcase(k, value) for k in config.unique_key)
