"""The engines dpsql builds with, by the `type:` of a target: adding an engine is one entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from dpsql.build.engines.base import Engine
from dpsql.build.engines.duckdb_engine import DuckDBEngine
from dpsql.build.engines.spark_engine import SparkEngine
from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.specs import WorkspaceConfig

ENGINES: Mapping[str, Callable[[WorkspaceConfig], Engine]] = MappingProxyType({
    "duckdb": DuckDBEngine,
    "spark": SparkEngine,
})


def engine_for(config: WorkspaceConfig) -> Engine:
    """The engine of the workspace's chosen target (DP003 for a type no engine serves)."""
    make = ENGINES.get(config.engine)
    if make is None:
        target = config.target
        assert target is not None  # no target: the DuckDB file `warehouse`
        where = target.location or Location(config.root / "dpsql.yml")
        raise DpsqlError(error("DP003", f"target `{target.name}` has type `{target.type}`, "
                               "which dpsql does not support", where,
                               f"supported types: {', '.join(ENGINES)}"))
    return make(config)
