"""The boundary to the database a target builds into. Each engine gives the same operations
(DuckDB's, then Spark's):

- connect: `duckdb.connect` (the file lock: DP402); `spark.session` (DP414), `Warehouse.open`
- read the catalog: `duckdb.read_catalog`; `Warehouse.catalog` (from the registry)
- published columns, in DuckDB types: `duckdb.read_columns`; `Warehouse.columns`
- create a schema: `engine._Build._create_schemas`; `Warehouse.database`
- write, audit, publish one model: `materialize.materialize` (one transaction);
  `sparkwap.materialize` (a staging name, then the registry)
- fingerprints and state: `state` (the `_dpsql.fingerprints` table); `Warehouse.stored` and
  `Warehouse.record` (the registry)
- types: DuckDB's own; `compile/typing/sparktypes.to_spark`
- data tests, a query: `testing`, `readonly`; `sparkread`

`build/runner.py` picks the engine of the chosen target; the rest of `build/` (selection,
preflight, what to rebuild, fingerprints, which tests audit which model) is shared.
"""
