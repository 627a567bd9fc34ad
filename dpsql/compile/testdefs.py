"""Where data tests are declared in product.yml, and what one test entry says.

Tests may sit where dbt users put them:

    outputs: - columns: - tests: [...]        a port's columns (its contract)
    models:  - name: stg_orders               any model of the product (internal or a port's):
               tests: [...]                     on the whole model
               columns: - tests: [...]          on a column
    inputs:  - name: raw_orders               an input (a file, a table, another product's port):
               tests: [...]  columns: - tests: [...]

An entry is `not_null`, or `{kind: args}` where args may carry `config: {severity: warn,
where: "...", enabled: false}` (or `severity:` / `where:` directly, dbt's older spelling).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Diagnostic, Location, did_you_mean, error
from dpsql.core.project import CompiledModel, ModelId, Product, Project, model_id
from dpsql.core.relations import Relation
from dpsql.core.specs import ColumnSpec

BUILTIN_TESTS = ("not_null", "unique", "accepted_values", "relationships")
SEVERITIES = ("error", "warn")
_CONFIG = ("severity", "where", "enabled")


@dataclass(frozen=True)
class Target:
    """What a test is declared on: a port, a model or an input of `product`."""

    product: Product
    relation: Relation
    label: str  # `orders.orders`, `orders.stg_orders`, `orders.raw_orders` (for messages)
    template: str  # how a template names it: ref('stg_orders'), input('raw_orders')
    model: ModelId | None = None  # the model whose relation is tested
    input: str | None = None  # the input tested
    types: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Entry:
    """One test as written: its kind, arguments and config."""

    target: Target
    column: str | None
    kind: str
    args: Any  # a mapping (or a list: accepted_values' short form), without `config`
    location: Location
    severity: str = "error"
    where: str | None = None


def declared(project: Project, product: Product, models: Mapping[str, CompiledModel]
             ) -> tuple[list[Entry], list[Diagnostic]]:
    """Every enabled test entry of a product, and the problems in how they are written."""
    entries: list[Entry] = []
    problems: list[Diagnostic] = []
    for target, column, raw, where in _raw_tests(project, product, models, problems):
        entry, problem = _entry(target, column, raw, where)
        if problem is not None:
            problems.append(problem)
        elif entry is not None:
            entries.append(entry)
    return entries, problems


def _raw_tests(project: Project, product: Product, models: Mapping[str, CompiledModel],
               problems: list[Diagnostic]) -> Iterator[tuple[Target, str | None, Any, Location]]:
    spec = product.spec
    for port in spec.outputs:
        mid = product.port_model_id(port.name)
        if mid is None or mid not in models:
            continue  # the model did not compile; its own diagnostic says why
        target = Target(product, Relation(product.name, port.name), f"{product.name}.{port.name}",
                        f"ref('{port.model}')", mid, types=_types(port.columns or ()))
        yield from _column_tests(target, port.columns or (), port.location)
    for entry in spec.models:
        if entry.name not in product.model_names:
            problems.append(error(
                "DP013", f"`models:` names `{entry.name}`, which is not a model of "
                f"`{product.name}`", entry.location,
                did_you_mean(entry.name, sorted(product.model_names))
                or f"add models/{entry.name}.sql, or fix the name"))
            continue
        mid = model_id(product.name, entry.name)
        if mid not in models:
            continue
        compiled = models[mid]
        types = {c.name: c.type for c in compiled.columns or ()}
        types.update({c.name: c.type for c in entry.columns if c.type})
        target = Target(product, compiled.relation, mid, f"ref('{entry.name}')", mid,
                        types=MappingProxyType(types))
        yield from ((target, None, raw, entry.location) for raw in entry.tests)
        yield from _column_tests(target, entry.columns, entry.location)
    for inp in spec.inputs:
        feeder = None
        if inp.kind == "product":
            producer = project.product(inp.product or "")
            feeder = producer.port_model_id(inp.port or "") if producer else None
            if feeder is None or feeder not in models:
                continue
        target = Target(product, product.relation_of_input(inp), f"{product.name}.{inp.name}",
                        f"input('{inp.name}')", feeder, inp.name, _types(inp.columns))
        yield from ((target, None, raw, inp.location) for raw in inp.tests)
        yield from _column_tests(target, inp.columns, inp.location)


def _types(columns: tuple[ColumnSpec, ...]) -> Mapping[str, str | None]:
    return MappingProxyType({c.name: c.type for c in columns})


def _column_tests(target: Target, columns: tuple[ColumnSpec, ...], fallback: Location
                  ) -> Iterator[tuple[Target, str | None, Any, Location]]:
    for column in columns:
        for raw in column.tests:
            yield target, column.name, raw, column.location or fallback


def _entry(target: Target, column: str | None, raw: Any, where: Location
           ) -> tuple[Entry | None, Diagnostic | None]:
    if isinstance(raw, str):
        return Entry(target, column, raw, None, where), None
    if not isinstance(raw, dict) or len(raw) != 1:
        return None, error("DP602", f"a test on `{target.label}` is written as {raw!r}", where,
                           "write a test's name (`- not_null`) or one `name: {arguments}` "
                           "mapping (`- accepted_values: {values: [a, b]}`)")
    (kind, args), = raw.items()
    kind = str(kind)
    if not isinstance(args, dict):
        return Entry(target, column, kind, args, where), None
    args = dict(args)
    config = args.pop("config", None) or {}
    if not isinstance(config, dict):
        return None, error("DP602", f"`config` of test `{kind}` on `{target.label}` must be a "
                           "mapping", where, "write `config: {severity: warn, where: \"...\"}`")
    for key in _CONFIG:  # dbt's older spelling: the config keys next to the arguments
        if key in args and key not in config:
            config[key] = args.pop(key)
    if config.get("enabled") is False:
        return None, None
    severity = str(config.get("severity") or "error").lower()
    if severity not in SEVERITIES:
        return None, error("DP602", f"severity `{config.get('severity')}` of test `{kind}` on "
                           f"`{target.label}` is not error or warn", where,
                           "write `config: {severity: warn}` (or error, the default)")
    condition = config.get("where")
    if condition is not None and not isinstance(condition, str):
        return None, error("DP602", f"`where` of test `{kind}` on `{target.label}` must be a "
                           "SQL condition in quotes", where, "write `where: \"status <> 'x'\"`")
    return Entry(target, column, kind, args, where, severity, condition or None), None
