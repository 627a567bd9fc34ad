"""The rules for names that become schemas and relations in the warehouse.

DuckDB compares identifiers ignoring case, so dpsql does too: two names that differ only in case
would be one schema or one relation in the warehouse, and the second build would overwrite the
first. A product's name is a schema (its ports), and `<name>_internal` another (its models and
file inputs); neither may be a schema that DuckDB or dpsql itself uses, nor the name of the
warehouse's catalog (a schema named like the catalog makes every `name.relation` ambiguous).
"""

from __future__ import annotations

from pathlib import Path

from dpsql.core.relations import INTERNAL_SUFFIX

STATE_SCHEMA = "_dpsql"  # where the build keeps its fingerprints (dpsql/build/state.py)
# schemas DuckDB has in every database, and catalogs it attaches to every connection
DUCKDB_SCHEMAS = frozenset({"main", "information_schema", "pg_catalog"})
DUCKDB_CATALOGS = frozenset({"temp", "system"})
RESERVED_PREFIX = "__dpsql"  # dpsql's staging tables and CTEs (`__dpsql_new_<name>`)


def folded(name: str) -> str:
    """A name as DuckDB compares it."""
    return name.casefold()


def catalog_name(warehouse: Path) -> str:
    """The catalog DuckDB names a database file by: the file name up to its first dot."""
    if str(warehouse) == ":memory:":
        return "memory"
    return warehouse.name.lstrip(".").split(".", 1)[0]


def reserved_product_name(name: str, catalog: str) -> str | None:
    """Why a product may not have this name (None if it may)."""
    key = folded(name)
    if key == STATE_SCHEMA:
        return f"`{name}` is the schema where dpsql keeps its build state"
    if key in DUCKDB_SCHEMAS:
        return f"`{name}` is a schema DuckDB keeps in every database"
    if key in DUCKDB_CATALOGS:
        return f"`{name}` is a database DuckDB attaches to every connection"
    if key.endswith(INTERNAL_SUFFIX):
        return (f"names ending in `{INTERNAL_SUFFIX}` are reserved for the schema of a product's "
                f"internal models (`{name}` is that of product `{name[:-len(INTERNAL_SUFFIX)]}`)")
    if catalog and key == folded(catalog):
        return (f"`{name}` is the name DuckDB gives the warehouse file, so `{name}.<relation>` "
                "would be ambiguous")
    return None


def reserved_relation_name(name: str) -> str | None:
    """Why a product, model, port or input may not have this name (None if it may)."""
    if folded(name).startswith(RESERVED_PREFIX):
        return f"names starting with `{RESERVED_PREFIX}` are reserved for dpsql's own relations"
    return None
