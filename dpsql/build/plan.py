"""Selection (dbt's grammar) and the build plan.

A selection is a list of selectors, unioned. A selector joins parts with commas (intersection).
A part is `[+]method:value[+]` or `[+]name[+]`:

    orders                  every model of product `orders`
    orders.fct_orders       one model (`product.port` names the port's model)
    fct_orders              every model of that name, in any product
    domain:sales            every model of every product in the domain
    tag:daily               models tagged in config(tags=...) or in product.yml `tags:`
    product:orders  model:orders.fct_orders
    +x  x+  +x+             with ancestors, with descendants, with both
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpsql.core.errors import closest
from dpsql.core.graph import ancestors, reverse
from dpsql.core.project import CompiledProject, ModelId


class SelectionError(ValueError):
    """A selector that names nothing; the CLI reports it as a usage error."""


@dataclass(frozen=True)
class Plan:
    """What to build, in dependency order."""

    models: tuple[ModelId, ...]

    def __len__(self) -> int:
        return len(self.models)


def select(compiled: CompiledProject, selectors: Sequence[str] = (),
           excludes: Sequence[str] = ()) -> Plan:
    every = [m for m in compiled.order if m in compiled.models]
    chosen = set(every) if not _tokens(selectors) else _union(compiled, selectors)
    chosen -= _union(compiled, excludes)
    return Plan(tuple(ModelId(m) for m in every if m in chosen))


def _tokens(values: Iterable[str]) -> list[str]:
    return [t for value in values for t in value.split() if t]


def _union(compiled: CompiledProject, values: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for token in _tokens(values):
        parts = [p for p in token.split(",") if p]
        sets = [_part(compiled, p) for p in parts]
        if sets:
            out |= set.intersection(*sets)
    return out


def _part(compiled: CompiledProject, part: str) -> set[str]:
    up = part.startswith("+")
    down = part.endswith("+")
    core = part.strip("+")
    base = _match(compiled, core)
    if not base:
        raise SelectionError(_nothing(compiled, core))
    edges = {mid: list(m.depends_on) for mid, m in compiled.models.items()}
    result = set(base)
    if up:
        result |= ancestors(edges, base) & set(compiled.models)
    if down:
        result |= ancestors(reverse(edges), base) & set(compiled.models)
    return result


def _match(compiled: CompiledProject, core: str) -> set[str]:
    project = compiled.project
    models = compiled.models
    method, _, value = core.partition(":") if ":" in core else ("", "", core)
    if method == "domain":
        names = {p.name for p in project.products if p.spec.domain == value}
        return {m for m, cm in models.items() if cm.product in names}
    if method == "tag":
        return {m for m, cm in models.items()
                if value in cm.config.tags or value in project.by_name[cm.product].spec.tags}
    if method == "product":
        return {m for m, cm in models.items() if cm.product == value}
    if method not in ("", "model"):
        raise SelectionError(f"unknown selector method `{method}:` (use domain:, tag:, "
                             "product: or model:)")
    if "." in value:
        product_name, _, name = value.partition(".")
        product = project.product(product_name)
        if product is None:
            return set()
        port = product.spec.output(name)
        model = port.model if port is not None and name not in product.model_names else name
        mid = f"{product_name}.{model}"
        return {mid} if mid in models else set()
    if method == "" and project.product(value) is not None:
        return {m for m, cm in models.items() if cm.product == value}
    return {m for m, cm in models.items() if cm.name == value}


def _nothing(compiled: CompiledProject, core: str) -> str:
    options = list(compiled.project.by_name) + list(compiled.models)
    close = closest(core.split(":")[-1], options, cutoff=0.6)
    hint = f"; did you mean `{close}`?" if close else ""
    return f"selector `{core}` matches no model{hint}"
