"""`dpsql query`: exactly one read-only statement, run on the warehouse opened read-only.

    the text -> sqlglot (DuckDB dialect) splits it into statements and parses the one there is
    -> it must be a query (SELECT, FROM-first, WITH ... SELECT, VALUES, a set operation), or
       DESCRIBE / SHOW / SUMMARIZE / EXPLAIN [ANALYZE] of a relation or of such a query, with
       no statement nested in it; anything else (ATTACH, COPY, EXPORT, INSTALL, LOAD, SET,
       PRAGMA, CALL, DDL, DML, a second statement) is refused with DP412
    -> DuckDB's own parser must agree that it is one SELECT (or EXPLAIN of one)
    -> run on a read-only connection whose configuration is locked (so a table function such
       as enable_profiling() cannot change it); the rows are streamed and only `limit` (+1, to
       know whether there are more) are fetched, so memory does not grow with the result.

Where sqlglot cannot parse a query that DuckDB can (DuckDB syntax sqlglot lacks), DuckDB's
parser alone decides, and it admits only a single SELECT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from dpsql.build.engines import duckdb as engine
from dpsql.core.errors import Diagnostic, DpsqlError, Location, error
from dpsql.core.sourcemap import offset_position

DIALECT = "duckdb"
QUERY_FILE = Path("<query>")  # how a position in the query text is shown: <query>:line:col
ALLOWED = ("SELECT, FROM ..., WITH ... SELECT, VALUES, DESCRIBE, SHOW, SUMMARIZE, or EXPLAIN "
           "of one of these")
HINT = (f"`dpsql query` runs one read-only statement ({ALLOWED}); the warehouse changes only "
        "through `dpsql build`")

_QUERY_WORDS = {"SELECT", "FROM", "WITH", "VALUES", "TABLE", "("}
_DESCRIBING = {"DESCRIBE", "SHOW", "SUMMARIZE"}
_EXPLAIN_OPTIONS = re.compile(r"\s*(?:ANALY[SZ]E\b)?\s*(?:\(\s*(?:FORMAT|ANALY[SZ]E)\b[^)]*\))?",
                              re.IGNORECASE)
_WHY = {  # the first word of a refused statement -> what it would do
    **dict.fromkeys(("ATTACH", "DETACH", "USE"), "it would open or switch to another database"),
    **dict.fromkeys(("COPY", "EXPORT", "IMPORT"), "it copies data to or from files"),
    **dict.fromkeys(("INSTALL", "LOAD", "FORCE"), "it installs or loads a DuckDB extension"),
    **dict.fromkeys(("SET", "RESET", "PRAGMA", "CALL", "CHECKPOINT", "VACUUM", "ANALYZE"),
                    "it changes a setting or runs a procedure"),
    **dict.fromkeys(("BEGIN", "START", "COMMIT", "ROLLBACK", "ABORT", "END"),
                    "it controls transactions"),
    **dict.fromkeys(("PREPARE", "EXECUTE", "DEALLOCATE"), "it prepares or runs another statement"),
}
# nodes that are statements of their own: none may appear anywhere in a query's tree
_STATEMENTS = (exp.DDL, exp.DML, exp.Command, exp.Attach, exp.Detach, exp.Set, exp.Pragma,
               exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Alter, exp.Drop,
               exp.Install, exp.TruncateTable, exp.Export)


class NoStatement(ValueError):
    """The text holds no statement at all (empty, blanks, comments): a usage error."""


@dataclass(frozen=True)
class Statement:
    """One read-only statement, as sqlglot read it."""

    sql: str  # the whole text, run as given
    kind: str  # SELECT | EXPLAIN | DESCRIBE | SHOW | SUMMARIZE
    query: str | None  # the query it runs or describes (None: it names a relation)


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[list[str]]
    more: bool  # the result has more rows than were fetched


def run_query(warehouse: Path, sql: str, limit: int) -> Rows:
    """Check `sql` (DP412 if it is not one read-only statement) and fetch up to `limit` rows."""
    statement = check(sql)
    con = engine.connect(warehouse, read_only=True)
    try:
        engine.lock_configuration(con)
        _confirm(con, statement)
        columns, rows, more = engine.fetch(con, sql, limit)
    except engine.QueryFailed as exc:
        raise DpsqlError(_failed(sql, exc)) from None
    finally:
        con.close()
    shown = [["NULL" if v is None else str(v) for v in row] for row in rows]
    return Rows(columns, shown, more)


def check(sql: str) -> Statement:
    """The one read-only statement `sql` holds; DP412 for anything else."""
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except TokenError:  # sqlglot cannot read it: DuckDB's parser decides (see _confirm)
        if not sql.strip():
            raise NoStatement("no SQL statement given") from None
        return Statement(sql, "SELECT", sql)
    statements = _split(tokens)
    if not statements:
        raise NoStatement("no SQL statement given")
    if len(statements) > 1:
        words = ", ".join(_word(s[0]) for s in statements)
        raise _refuse(f"`dpsql query` runs one statement; this text holds {len(statements)} "
                      f"({words})", sql, statements[1][0].start,
                      "run them one at a time; " + HINT)
    first, last = statements[0][0], statements[0][-1]
    return _statement(sql, first.start, last.end + 1)


def _split(tokens: list[Token]) -> list[list[Token]]:
    """Tokens by statement (split at semicolons), without empty statements."""
    out: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            out.append([])
        else:
            out[-1].append(token)
    return [s for s in out if s]


def _word(token: Token) -> str:
    return "(" if token.token_type == TokenType.L_PAREN else token.text.upper()


def _statement(sql: str, start: int, end: int) -> Statement:
    """The statement at sql[start:end] (it has at least one token)."""
    tokens = sqlglot.tokenize(sql[start:end], read=DIALECT)
    word = _word(tokens[0])
    if word == "EXPLAIN":
        rest = start + tokens[0].end + 1
        options = _EXPLAIN_OPTIONS.match(sql, rest, end)
        rest = options.end() if options else rest
        inner = _statement(sql, rest, end) if sql[rest:end].strip() else None
        if inner is None:
            raise _refuse("EXPLAIN needs a query to explain", sql, start, HINT)
        return Statement(sql, "EXPLAIN", inner.query or sql[rest:end])
    if word in _DESCRIBING:
        if len(tokens) > 1 and _word(tokens[1]) in _QUERY_WORDS:
            inner = _statement(sql, start + tokens[1].start, end)
            return Statement(sql, word, inner.query)
        return Statement(sql, word, None)
    if word not in _QUERY_WORDS:
        why = _WHY.get(word, "it would change the warehouse" if word.isalpha() else
                       "it is not a query")
        raise _refuse(f"`dpsql query` runs read-only queries only; {word} is refused: {why}",
                      sql, start, _hint(word))
    return Statement(sql, "SELECT", _query(sql, start, end))


def _query(sql: str, start: int, end: int) -> str:
    """Check that sql[start:end] is a query with no statement nested in it."""
    text = sql[start:end]
    try:
        tree = sqlglot.parse_one(text, read=DIALECT)
    except (ParseError, TokenError):  # DuckDB syntax sqlglot lacks: DuckDB's parser decides
        return text
    if not isinstance(tree, exp.Query | exp.Values):
        raise _refuse(f"`dpsql query` runs read-only queries only; this is {tree.key.upper()}",
                      sql, start, HINT)
    nested = next((n for n in tree.walk() if isinstance(n, _STATEMENTS)), None)
    if nested is not None:
        raise _refuse(f"`dpsql query` runs read-only queries only; this query holds "
                      f"{nested.key.upper()}", sql, start, HINT)
    return text


def _hint(word: str) -> str:
    if word in ("PRAGMA", "CALL"):
        return ("query the table function instead, e.g. "
                "`dpsql query \"from pragma_table_info('sales.sales')\"`; " + HINT)
    if word in ("COPY", "EXPORT"):
        return "to keep the rows, redirect the output of `dpsql query` to a file; " + HINT
    return HINT


def _refuse(message: str, sql: str, offset: int, hint: str) -> DpsqlError:
    return DpsqlError(error("DP412", message, _where(sql, offset), hint))


def _where(sql: str, offset: int) -> Location:
    return Location(QUERY_FILE, *offset_position(sql, offset))


def _confirm(con: engine.Connection, statement: Statement) -> None:
    """DuckDB's own parser must see one SELECT (or EXPLAIN of one) too."""
    wanted = "EXPLAIN" if statement.kind == "EXPLAIN" else "SELECT"
    checks = [(statement.sql, wanted)]
    if statement.query is not None and statement.query != statement.sql:
        checks.append((statement.query, "SELECT"))
    for text, kind in checks:
        found = engine.statement_types(con, text)
        if found != [kind]:
            what = (f"{len(found)} statements" if len(found) != 1 else
                    "several statements (a PIVOT without an IN list?)" if found == ["MULTI"]
                    else f"a {found[0]} statement")
            raise _refuse(f"`dpsql query` runs read-only queries only; DuckDB reads this as "
                          f"{what}", statement.sql, 0, HINT)


def _failed(sql: str, exc: engine.QueryFailed) -> Diagnostic:
    location = _where(sql, 0) if exc.line is None else Location(QUERY_FILE, exc.line, exc.col)
    hint = "`dpsql ls --columns` lists every port and its columns"
    if exc.suggestion:
        hint = f"{exc.suggestion}; {hint}"
    return error("DP403", f"query failed: {exc.message}", location, hint)
