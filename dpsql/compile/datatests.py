"""Data tests: each is a query that returns the rows breaking a rule; zero rows means it passes.

Column tests come from the contracts in product.yml (`tests:` under a port's column):

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

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.core.dtypes import canonical
from dpsql.core.errors import Diagnostic, Location, closest, error
from dpsql.core.project import CompiledModel, DataTest, ModelId, Product, Project
from dpsql.core.relations import Relation
from dpsql.core.specs import ColumnSpec, OutputSpec

COLUMN_TESTS = ("not_null", "unique", "accepted_values", "relationships")
SAMPLE_ROWS = 5
_COUNT = "__dpsql_failures"


# --- definitions (compile time) -------------------------------------------------------------


def column_tests(project: Project, product: Product, models: Mapping[str, CompiledModel]
                 ) -> tuple[list[DataTest], list[Diagnostic]]:
    """The tests declared on the columns of a product's output ports."""
    tests: list[DataTest] = []
    problems: list[Diagnostic] = []
    for port in product.spec.outputs:
        model_id = product.port_model_id(port.name)
        if model_id is None or model_id not in models:
            continue  # the model did not compile; its own diagnostic says why
        for column in port.columns or ():
            for raw in column.tests:
                test, problem = _column_test(project, product, port, column, raw, model_id, models)
                if test is not None:
                    tests.append(test)
                if problem is not None:
                    problems.append(problem)
    return tests, problems


def _column_test(project: Project, product: Product, port: OutputSpec, column: ColumnSpec,
                 raw: Any, model_id: str, models: Mapping[str, CompiledModel]
                 ) -> tuple[DataTest | None, Diagnostic | None]:
    where = column.location or port.location
    kind, args = _kind_and_args(raw)
    if kind not in COLUMN_TESTS:
        close = closest(str(kind), COLUMN_TESTS)
        hint = f"did you mean `{close}`?" if close else "known tests: " + ", ".join(COLUMN_TESTS)
        return None, error("DP601", f"unknown test `{kind}` on column `{column.name}` of port "
                           f"`{product.name}.{port.name}`", where, hint)
    relation = Relation(product.name, port.name)
    name = f"{kind}({relation}.{column.name})"
    depends = [model_id]
    if kind in ("not_null", "unique"):
        query = _not_null(relation, column.name) if kind == "not_null" else _unique(
            relation, column.name)
    elif kind == "accepted_values":
        values = args.get("values") if isinstance(args, dict) else args
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, str | int | float | bool) for v in values)):
            return None, error("DP602", f"accepted_values on `{product.name}.{port.name}."
                               f"{column.name}` needs a list of values", where,
                               "write `{accepted_values: [a, b, c]}`")
        if any(isinstance(v, bool) for v in values) and _is_text(column.type):
            return None, error("DP602", f"accepted_values on `{product.name}.{port.name}."
                               f"{column.name}` holds a boolean, but the column is text",
                               where, "YAML reads unquoted yes/no/on/off/true/false (and NO, "
                               "the country) as booleans: quote them, e.g. ['NO', 'SE']")
        query = _accepted_values(relation, column.name, values)
    else:
        target, problem = _relationship_target(project, product, args, column, where, models)
        if target is None:
            return None, problem
        parent, field, parent_model = target
        query = _relationships(relation, column.name, parent, field)
        name = f"relationships({relation}.{column.name} -> {parent}.{field})"
        if parent_model is not None and parent_model not in depends:
            depends.append(parent_model)
    return DataTest(name, kind, product.name, sqlmod.generate(query), tuple(depends), where,
                    model=model_id, column=column.name, check_sql=_check_sql(query)), None


def _is_text(type_text: str | None) -> bool:
    if not type_text:
        return False
    try:
        return canonical(type_text) == "VARCHAR"
    except ValueError:
        return False


def _kind_and_args(raw: Any) -> tuple[str, Any]:
    if isinstance(raw, str):
        return raw, None
    if isinstance(raw, dict) and len(raw) == 1:
        (kind, args), = raw.items()
        return str(kind), args
    return repr(raw), None


def _relationship_target(project: Project, product: Product, args: Any, column: ColumnSpec,
                         where: Location, models: Mapping[str, CompiledModel]
                         ) -> tuple[tuple[Relation, str, str | None] | None, Diagnostic | None]:
    """The relation, column and model a `relationships` test points at."""
    if not isinstance(args, dict) or not isinstance(args.get("to"), str):
        return None, error("DP602", f"relationships on column `{column.name}` needs `to:`",
                           where, "write `{relationships: {to: customers.customers, "
                           "field: customer_id}}` (to: a port of this product or a declared input)")
    to = str(args["to"])
    field = str(args.get("field") or column.name)
    owner, _, port_name = to.rpartition(".")
    spec = product.spec
    if owner in ("", product.name) and spec.output(port_name) is not None:
        model_id = product.port_model_id(port_name)
        return (Relation(product.name, port_name), field,
                model_id if model_id in models else None), None
    for inp in spec.inputs:
        hit = (inp.name == to) if not owner else (
            inp.kind == "product" and inp.product == owner and inp.port == port_name)
        if hit:
            feeder: ModelId | None = None
            if inp.kind == "product":
                producer = project.product(inp.product or "")
                feeder = producer.port_model_id(inp.port or "") if producer else None
            return (product.relation_of_input(inp), field,
                    feeder if feeder in models else None), None
    return None, error(
        "DP603", f"relationships on column `{column.name}` points at `{to}`, which is neither "
        f"an output port of `{product.name}` nor one of its inputs", where,
        f"declare it under `inputs:` in {product.name}/product.yml (`product: {owner or to}`, "
        f"`port: {port_name}`), or point at one of: "
        + ", ".join([o.name for o in spec.outputs] + [i.name for i in spec.inputs]))


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


def _not_null(relation: Relation, column: str) -> exp.Select:
    return exp.select("*").from_(_table(relation)).where(_col(column).is_(exp.null()))


def _unique(relation: Relation, column: str) -> exp.Select:
    return (exp.select(*_counted(_col(column))).from_(_table(relation))
            .where(exp.not_(_col(column).is_(exp.null())))
            .group_by(_col(column))
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))))


def _accepted_values(relation: Relation, column: str, values: Sequence[Any]) -> exp.Select:
    allowed = _col(column).isin(*[exp.convert(v) for v in values])
    return (exp.select(*_counted(_col(column))).from_(_table(relation))
            .where(exp.and_(exp.not_(_col(column).is_(exp.null())), exp.not_(allowed)))
            .group_by(_col(column)))


def _relationships(relation: Relation, column: str, parent: Relation, field: str) -> exp.Select:
    child_col = _col(column, "child")
    match = exp.select(exp.Literal.number(1)).from_(_table(parent, "parent")).where(
        exp.EQ(this=_col(field, "parent"), expression=child_col.copy()))
    return (exp.select(*_counted(child_col)).from_(_table(relation, "child"))
            .where(exp.and_(exp.not_(child_col.copy().is_(exp.null())),
                            exp.not_(exp.Exists(this=match))))
            .group_by(child_col.copy()))


def singular_test(compiled: CompiledModel, tree: exp.Query) -> DataTest:
    """A `tests/*.sql` file, compiled like a model (its tree with ephemeral models inlined)."""
    return DataTest(f"{compiled.product}.{compiled.name}", "singular", compiled.product,
                    sqlmod.generate(tree), compiled.depends_on, Location(compiled.source.path, 1),
                    check_sql=_check_sql(tree))


def _check_sql(query: exp.Query) -> str:
    """`SELECT *, count(*) OVER () FROM (<query>) LIMIT n`: a sample and the count, one pass."""
    count = exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), _COUNT)
    wrapped = (exp.select(exp.Star(), count)
               .from_(exp.Subquery(this=query.copy(), alias=exp.TableAlias(
                   this=exp.to_identifier("__dpsql_test"))))
               .limit(SAMPLE_ROWS))
    return wrapped.sql(dialect=sqlmod.DIALECT)
