"""The sqlglot boundary: parse rendered SQL, list the relations it reads, qualify them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

log = logging.getLogger("dpsql")

DIALECT = "duckdb"
_DUCKDB = Dialect.get_or_raise(DIALECT)  # made once: sqlglot makes one for each name it is given


@dataclass(frozen=True)
class SqlProblem(Exception):
    """A syntax problem in rendered SQL, at a rendered line and column (1-based)."""

    message: str
    line: int
    col: int
    token: str = ""  # the text at the position, to find it again in the template


@dataclass(frozen=True)
class TableRef:
    """A relation named in a query (not a CTE, not a table function)."""

    node: exp.Table
    db: str
    name: str
    catalog: str
    offset: int  # where the reference starts in the SQL text

    @property
    def text(self) -> str:
        return ".".join(p for p in (self.catalog, self.db, self.name) if p)


def parse_query(sql: str) -> exp.Query:
    """Parse one SELECT (CTEs, unions and DuckDB's FROM-first form welcome)."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=_DUCKDB) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        message = _readable(str(first.get("description") or exc).split(". Line")[0])
        line, col = int(first.get("line") or 1), int(first.get("col") or 1)
        highlight = str(first.get("highlight") or "")
        col = max(1, col - len(highlight) + 1) if highlight else col
        raise SqlProblem(f"SQL syntax error: {message}", line, col, highlight) from None
    except TokenError as exc:
        raise SqlProblem(f"SQL syntax error: {exc}", 1, 0) from None
    if len(statements) != 1:
        raise SqlProblem(f"a model holds one SELECT; found {len(statements)} statements", 1, 1)
    tree = statements[0]
    if isinstance(tree, exp.Pivot):  # DuckDB's bare PIVOT / UNPIVOT statement: a query too
        tree = exp.select("*").from_(exp.Subquery(this=tree))
    if not isinstance(tree, exp.Query):
        raise SqlProblem(f"a model holds one SELECT; found {tree.key.upper()}", 1, 1)
    return tree


_MISSING = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]+\.(\w+)'>")
_NAMES = {"Where": "WHERE clause", "Having": "HAVING clause", "Join": "JOIN", "Group": "GROUP BY",
          "Order": "ORDER BY", "Add": "`+` expression", "Sub": "`-` expression",
          "Mul": "`*` expression", "Div": "`/` expression", "EQ": "`=` comparison",
          "NEQ": "`<>` comparison", "GT": "`>` comparison", "LT": "`<` comparison",
          "GTE": "`>=` comparison", "LTE": "`<=` comparison", "And": "AND", "Or": "OR"}


def _readable(message: str) -> str:
    """sqlglot names its classes; say what is incomplete in SQL words instead."""
    match = _MISSING.search(message)
    if match:
        return f"incomplete {_NAMES.get(match.group(2), match.group(2))}: something is missing here"
    return message


def _is_cte(table: exp.Table) -> bool:
    if table.args.get("db"):
        return False
    name = table.name
    node: exp.Expr | None = table.parent
    while node is not None:
        for cte in getattr(node, "ctes", ()) or ():
            if cte.alias_or_name == name:
                return True
        node = node.parent
    return False


def _is_file_or_function(table: exp.Table) -> bool:
    this = table.this
    if not isinstance(this, exp.Identifier):
        return True  # read_csv(...), generate_series(...), a macro call
    # FROM 'data/orders.csv': DuckDB reads the file directly
    return bool(this.quoted and not table.args.get("db") and ("." in this.name or "/" in this.name))


def table_refs(tree: exp.Expr) -> list[TableRef]:
    refs: list[TableRef] = []
    for table in tree.find_all(exp.Table):
        if _is_file_or_function(table) or _is_cte(table):
            continue
        first = table.args.get("catalog") or table.args.get("db") or table.this
        offset = int(first.meta.get("start", 0)) if isinstance(first, exp.Expr) else 0
        refs.append(TableRef(table, table.db, table.name, table.catalog, offset))
    refs.sort(key=lambda r: r.offset)
    return refs


def qualify_table(ref: TableRef, schema: str, name: str) -> None:
    """Point a reference at `"schema"."name"`, in place (the tree belongs to the compiler)."""
    node = ref.node
    if name != ref.name and not node.alias:
        # keep `orig.col` qualifiers working: `from cust` becomes `from "p"."customers" as cust`
        node.set("alias", exp.TableAlias(this=exp.to_identifier(ref.name)))
    node.set("catalog", None)
    node.set("db", exp.to_identifier(schema, quoted=True))
    node.set("this", exp.to_identifier(name, quoted=True))


def qualify_columns(tree: exp.Query | None, schema: MappingSchema, *, copy: bool = True
                    ) -> exp.Query | None:
    """The tree with every column qualified by its source and `*` expanded (a copy, unless
    `copy` is false: then the tree itself is changed, which saves the copy's cost).

    Returns None when sqlglot cannot qualify the query (the model still builds; checks and
    lineage that need columns skip it and log why).
    """
    if tree is None:
        return None
    try:
        result = qualify(tree.copy() if copy else tree, schema=schema, dialect=_DUCKDB,
                         validate_qualify_columns=False, quote_identifiers=False,
                         identify=False)
    except Exception as exc:  # sqlglot raises several types; none is fatal here
        log.info("sqlglot could not qualify a query: %s", exc)
        return None
    return result if isinstance(result, exp.Query) else None


def generate(tree: exp.Expr, *, copy: bool = True) -> str:
    """The SQL of a tree; without `copy` sqlglot may change the tree while it generates, so
    only a caller that drops the tree afterwards passes copy=False (it saves a third)."""
    return tree.sql(dialect=_DUCKDB, pretty=True, copy=copy)
