"""Data tests: each is a query that returns the rows breaking a rule; zero rows means it passes.

Built-in tests, declared on columns of ports, models and inputs in product.yml (where:
testdefs.py), each may carry `config: {where: ..., severity: warn}`:

    not_null                                   the column holds no NULL
    unique                                     no value appears twice (NULLs are ignored)
    {accepted_values: [a, b]}                  every non-NULL value is one of these
    {relationships: {to: customers.customers, field: customer_id}}
                                               every non-NULL value exists in that port's column

Singular tests are `<product>/tests/*.sql`, rendered and resolved like models. Queries are
built as sqlglot trees, never by pasting text; running one is a single query that returns
the count of failing rows and a sample.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import sqlglot
from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.compile.cache import digest
from dpsql.compile.testdefs import BUILTIN_TESTS, Entry
from dpsql.core.dtypes import canonical
from dpsql.core.errors import Diagnostic, Location, error
from dpsql.core.project import (
    CompiledModel,
    DataTest,
    Materialization,
    ModelId,
    Product,
    Project,
    model_id,
)
from dpsql.core.relations import Relation

COLUMN_TESTS = BUILTIN_TESTS
SAMPLE_ROWS = 5
_COUNT = "__dpsql_failures"


# --- definitions (compile time) -------------------------------------------------------------

Inline = Callable[[exp.Query], exp.Query]  # ephemeral models read by a test become CTEs


# (key, build) -> build(), or what it returned before for the same key (the compile cache)
Memo = Callable[[str, Callable[[], tuple[str, str]]], tuple[str, str]]


def builtin_test(project: Project, entry: Entry, models: Mapping[str, CompiledModel],
                 inline: Inline, memo: Memo | None = None
                 ) -> tuple[DataTest | None, Diagnostic | None]:
    """One of the four built-in tests, as a query (`where:` narrows the tested rows). With
    `memo`, the test's SQL comes from it when nothing it is made from changed."""
    target, column, kind, args = entry.target, entry.column, entry.kind, entry.args
    where = entry.location
    if column is None:
        return None, error("DP602", f"`{kind}` tests a column: declare it under a column of "
                           f"`{target.label}`", where, "move it to `columns: - name: ... "
                           f"tests: [{kind}]`")
    condition, problem = condition_of(entry)
    if problem is not None:
        return None, problem
    name = f"{kind}({target.label}.{column})"
    depends: list[str] = [target.model] if target.model else []
    parts: list[Any] = [kind, str(target.relation), column]  # what the SQL is made from
    make: Callable[[exp.Expr], exp.Query]
    if kind in ("not_null", "unique"):
        make = functools.partial(_not_null if kind == "not_null" else _unique, column=column)
    elif kind == "accepted_values":
        values = args.get("values") if isinstance(args, dict) else args
        problem = _bad_values(entry, column, values)
        if problem is not None or not isinstance(values, list):
            return None, problem
        make = functools.partial(_accepted_values, column=column, values=values)
        parts.append(json.dumps(values))
    else:
        found, problem = _relationship_target(project, target.product, args, column, where,
                                              models)
        if found is None:
            return None, problem
        parent, field, parent_model = found
        make = functools.partial(_relationships, column=column, parent=parent, field=field)
        parts += [str(parent), field]
        name = f"relationships({target.label}.{column} -> {parent}.{field})"
        if parent_model is not None and parent_model not in depends:
            depends.append(parent_model)
    if entry.where:
        name += f" where {entry.where}"

    def build() -> tuple[str, str]:
        tested = _source(target.relation, condition, "child" if kind == "relationships" else None)
        tree = inline(make(tested))
        return sqlmod.generate(tree), check_sql(tree, copy=False)
    # an ephemeral model the test reads is inlined: its SQL is part of the test's; a `where:`
    # may name any relation, so a test with one is built every time
    inlined = [m.sql for d in depends if (m := models.get(d)) is not None
               and m.config.materialized == Materialization.EPHEMERAL]
    if memo is not None and condition is None:
        sql, checked = memo(digest(*parts, *inlined), build)
    else:
        sql, checked = build()
    kwargs = dict(args) if isinstance(args, dict) else ({"values": args} if args else {})
    return DataTest(name, kind, target.product.name, sql, tuple(depends),
                    where, model=target.model, column=column, check_sql=checked,
                    severity=entry.severity, where=entry.where, input=target.input,
                    kwargs=MappingProxyType(kwargs)), None


def _bad_values(entry: Entry, column: str, values: Any) -> Diagnostic | None:
    """What is wrong with the values of an accepted_values test, if anything."""
    label, where = entry.target.label, entry.location
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, str | int | float | bool) for v in values)):
        return error("DP602", f"accepted_values on `{label}.{column}` needs a list of values",
                     where, "write `{accepted_values: [a, b, c]}`")
    if any(isinstance(v, bool) for v in values) and _is_text(entry.target.types.get(column)):
        return error("DP602", f"accepted_values on `{label}.{column}` holds a boolean, but the "
                     "column is text", where, "YAML reads unquoted yes/no/on/off/true/false "
                     "(and NO, the country) as booleans: quote them, e.g. ['NO', 'SE']")
    return None


def condition_of(entry: Entry) -> tuple[exp.Expr | None, Diagnostic | None]:
    """`where:` parsed as a DuckDB condition (None when there is none)."""
    if entry.where is None:
        return None, None
    try:
        return sqlglot.condition(entry.where, dialect=sqlmod.DIALECT), None
    except sqlglot.errors.ParseError:
        return None, error("DP602", f"`where: {entry.where}` of test `{entry.kind}` on "
                           f"`{entry.target.label}` is not a SQL condition", entry.location,
                           "write a condition on the tested relation's columns, e.g. "
                           "`where: \"status <> 'returned'\"`")


def restrict(tree: exp.Query, relation: Relation, condition: exp.Expr) -> exp.Query:
    """`tree` reading only the rows of `relation` that `condition` keeps (dbt's `where:`)."""
    def swap(node: exp.Expr) -> exp.Expr:
        if (isinstance(node, exp.Table) and node.name == relation.name
                and node.db == relation.schema):
            alias = node.alias or relation.name
            return _source(relation, condition, alias)
        return node
    found = tree.transform(swap)
    assert isinstance(found, exp.Query)
    return found


def _is_text(type_text: str | None) -> bool:
    if not type_text:
        return False
    try:
        return canonical(type_text) == "VARCHAR"
    except ValueError:
        return False


def _relationship_target(project: Project, product: Product, args: Any, column: str,
                         where: Location, models: Mapping[str, CompiledModel]
                         ) -> tuple[tuple[Relation, str, str | None] | None, Diagnostic | None]:
    """The relation, column and model a `relationships` test points at: a port or model of
    the product, one of its inputs, or any product's port (a test is no dependency, so a port
    downstream of the product is fine: no product cycle)."""
    to = args.get("to") if isinstance(args, dict) else None
    if not isinstance(to, str):
        return None, error("DP602", f"relationships on column `{column}` needs `to:`",
                           where, "write `{relationships: {to: customers.customers, "
                           "field: customer_id}}` (to: a port or model, or an input)")
    to = _unref(to)
    field = str(args.get("field") or column)
    owner, _, name = to.rpartition(".")
    spec = product.spec
    if owner in ("", product.name):
        if spec.output(name) is not None:
            mid = product.port_model_id(name)
            return (Relation(product.name, name), field, mid if mid in models else None), None
        if name in product.model_names and model_id(product.name, name) in models:
            mid = model_id(product.name, name)
            return (models[mid].relation, field, mid), None
        inp = spec.input(name)
        if inp is not None:
            feeder: ModelId | None = None
            if inp.kind == "product":
                producer = project.product(inp.product or "")
                feeder = producer.port_model_id(inp.port or "") if producer else None
            return (product.relation_of_input(inp), field,
                    feeder if feeder in models else None), None
    other = project.product(owner) if owner else None
    if other is not None and other.spec.output(name) is not None:
        mid = other.port_model_id(name)
        return (Relation(other.name, name), field, mid if mid in models else None), None
    return None, error(
        "DP603", f"relationships on column `{column}` points at `{to}`, which is neither a port "
        f"or model of `{product.name}`, one of its inputs, nor a port of another product", where,
        "name `product.port`, or one of: "
        + ", ".join([o.name for o in spec.outputs] + sorted(product.model_names)
                    + [i.name for i in spec.inputs]))


def _unref(to: str) -> str:
    """dbt's `to: ref('customers')` / `ref('customers', 'customers')` as dpsql's dotted name."""
    found = re.fullmatch(r"\s*ref\(\s*(['\"])(\w+)\1\s*(?:,\s*(['\"])(\w+)\3\s*)?\)\s*", to)
    if found is None:
        return to.strip()
    return f"{found.group(2)}.{found.group(4)}" if found.group(4) else found.group(2)


def _source(relation: Relation, condition: exp.Expr | None, alias: str | None = None
            ) -> exp.Expr:
    """The tested relation, or only its rows that `condition` keeps (a subquery)."""
    if condition is None:
        return _table(relation, alias)
    rows = exp.select("*").from_(_table(relation)).where(condition.copy())
    return exp.Subquery(this=rows, alias=exp.TableAlias(
        this=exp.to_identifier(alias or relation.name)))


def _table(relation: Relation, alias: str | None = None) -> exp.Table:
    table = exp.Table(this=exp.to_identifier(relation.name, quoted=True),
                      db=exp.to_identifier(relation.schema, quoted=True))
    if alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return table


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _counted(column: exp.Column) -> list[exp.Expr]:
    return [column, exp.alias_(exp.Count(this=exp.Star()), "n_records")]


# The queries are built in place (copy=False): every part is new, and sqlglot's default copy
# of the whole query at each step cost a third of the data tests pass.


def _not_null(tested: exp.Expr, column: str) -> exp.Select:
    return (exp.select(exp.Star(), copy=False).from_(tested, copy=False)
            .where(_col(column).is_(exp.null()), copy=False))


def _unique(tested: exp.Expr, column: str) -> exp.Select:
    return (exp.select(*_counted(_col(column)), copy=False).from_(tested, copy=False)
            .where(exp.not_(_col(column).is_(exp.null())), copy=False)
            .group_by(_col(column), copy=False)
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)),
                    copy=False))


def _accepted_values(tested: exp.Expr, column: str, values: Sequence[Any]) -> exp.Select:
    allowed = _col(column).isin(*[exp.convert(v) for v in values], copy=False)
    return (exp.select(*_counted(_col(column)), copy=False).from_(tested, copy=False)
            .where(exp.and_(exp.not_(_col(column).is_(exp.null())), exp.not_(allowed),
                            copy=False), copy=False)
            .group_by(_col(column), copy=False))


def _relationships(tested: exp.Expr, column: str, parent: Relation, field: str) -> exp.Select:
    child_col = _col(column, "child")
    match = (exp.select(exp.Literal.number(1), copy=False)
             .from_(_table(parent, "parent"), copy=False)
             .where(exp.EQ(this=_col(field, "parent"), expression=child_col.copy()),
                    copy=False))
    return (exp.select(*_counted(child_col), copy=False).from_(tested, copy=False)
            .where(exp.and_(exp.not_(child_col.copy().is_(exp.null())),
                            exp.not_(exp.Exists(this=match)), copy=False), copy=False)
            .group_by(child_col.copy(), copy=False))


def singular_test(compiled: CompiledModel, tree: exp.Query) -> DataTest:
    """A `tests/*.sql` file, compiled like a model (its tree with ephemeral models inlined)."""
    return DataTest(f"{compiled.product}.{compiled.name}", "singular", compiled.product,
                    sqlmod.generate(tree), compiled.depends_on, Location(compiled.source.path, 1),
                    check_sql=check_sql(tree))


def check_sql(query: exp.Query, *, copy: bool = True) -> str:
    """`SELECT *, count(*) OVER () FROM (<query>) LIMIT n`: a sample and the count, one pass.
    Without `copy` the query becomes part of the wrapper (for a caller that drops it)."""
    count = exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), _COUNT)
    # built and generated in place: the wrapper is new, and copies of it cost half the pass
    wrapped = (exp.select(exp.Star(), count, copy=False)
               .from_(exp.Subquery(this=query.copy() if copy else query,
                                   alias=exp.TableAlias(this=exp.to_identifier("__dpsql_test"))),
                      copy=False)
               .limit(SAMPLE_ROWS, copy=False))
    return wrapped.sql(dialect=sqlmod.DIALECT, copy=False)
