"""Selection (dbt's grammar) and the build plan.

A selection is a list of selectors, unioned (space-separated, or several --select flags). A
selector joins parts with commas (intersection). A part is `[@][N+]core[+N]`:

    orders                  every model of product `orders`
    orders.fct_orders       one model (`product.port` names the port's model)
    fct_orders              every model of that name, in any product
    *  orders.*  stg_*      wildcards (fnmatch) on products and models
    product:orders  model:orders.fct_orders  domain:sales  tag:daily
    path:sales/orders       models whose file is under this path (relative to the workspace)
    config.materialized:incremental  config.tags:daily  config.unique_key:order_id
    result:error            the model's (or a test on it's) status in the previous run results
    state:modified          against --state DIR: new, old, modified[.body|.configs|.contract],
                            unmodified
    +x  x+  +x+  2+x  x+1   with ancestors / descendants (at most N levels)
    @x                      x, its descendants, and the ancestors of those

The grammar and the matching live in selectors.py; `select` returns the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpsql.build.previous import Previous
from dpsql.build.selectors import Matcher, SelectionError
from dpsql.core.project import CompiledProject, ModelId

__all__ = ["Plan", "SelectionError", "select"]


@dataclass(frozen=True)
class Plan:
    """What to build, in dependency order."""

    models: tuple[ModelId, ...]

    def __len__(self) -> int:
        return len(self.models)


def select(compiled: CompiledProject, selectors: Sequence[str] = (),
           excludes: Sequence[str] = (), previous: Previous | None = None) -> Plan:
    """The models `selectors` name (every model when there are none) minus `excludes`."""
    matcher = Matcher(compiled, previous)
    every = [m for m in compiled.order if m in compiled.models]
    chosen = set(every) if not _tokens(selectors) else _union(matcher, selectors)
    chosen -= _union(matcher, excludes)
    return Plan(tuple(ModelId(m) for m in every if m in chosen))


def _tokens(values: Iterable[str]) -> list[str]:
    return [t for value in values for t in value.split() if t]


def _union(matcher: Matcher, values: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for token in _tokens(values):
        parts = [p for p in token.split(",") if p]
        sets = [matcher.part(p) for p in parts]
        if sets:
            out |= set.intersection(*sets)
    return out
