"""dbt's column tests in the imported workspace: on a port's column they join its contract
(`not_null`, `unique`, `accepted_values`); elsewhere, and for `relationships`, they become
singular tests (`<product>/tests/*.sql`) that select the failing rows, as dbt's do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpsql.core.relations import quote


@dataclass(frozen=True)
class SingularTest:
    file_name: str
    sql: str


def test_kind(raw: Any) -> tuple[str, dict[str, Any]]:
    """(`unique`, {}) or (`accepted_values`, {values: [...]}), dbt's newer `arguments:` read."""
    if isinstance(raw, str):
        return raw, {}
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, args),) = raw.items()
        args = args if isinstance(args, dict) else {}
        return str(kind), {**args, **(args.get("arguments") or {})}
    return repr(raw), {}


def contract_test(raw: Any) -> Any | None:
    """The test as a port contract's column test, or None when it is not one."""
    kind, args = test_kind(raw)
    if args.get("where") or args.get("severity") or args.get("config"):
        return None
    if kind in ("not_null", "unique"):
        return kind
    if kind == "accepted_values" and isinstance(args.get("values"), list):
        return {"accepted_values": list(args["values"])}
    return None


def _literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def singular_test(model: str, column: str, raw: Any, parent: str | None) -> SingularTest | None:
    """A singular test for one column test of `model`; `parent` is the model a relationships
    test points at (when it can be read from the model's product). None: not carried over."""
    kind, args = test_kind(raw)
    if str(args.get("severity") or (args.get("config") or {}).get("severity") or "").lower() \
            == "warn":
        return None
    col = quote(column)
    source = f"{{{{ ref('{model}') }}}}"
    where = args.get("where") or (args.get("config") or {}).get("where")
    if where:
        source = f"(select * from {source} where {where})"
    if kind == "not_null":
        sql = f"select * from {source} where {col} is null"
    elif kind == "unique":
        sql = (f"select {col}, count(*) as n from {source} where {col} is not null "
               f"group by {col} having count(*) > 1")
    elif kind == "accepted_values" and isinstance(args.get("values"), list):
        values = ", ".join(_literal(v) for v in args["values"])
        sql = f"select * from {source} where {col} is not null and {col}::varchar not in ({values})"
    elif kind == "relationships" and parent is not None and args.get("field"):
        field = quote(str(args["field"]))
        sql = (f"select * from {source} as child where child.{col} is not null and child.{col} "
               f"not in (select {field} from {{{{ ref('{parent}') }}}} where {field} is not null)")
    else:
        return None
    return SingularTest(f"{model}__{column}__{kind}.sql", sql + "\n")
