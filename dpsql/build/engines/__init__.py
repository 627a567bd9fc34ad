"""The boundary to the database a target builds into.

`base.Engine` is the interface (a typing.Protocol): build (connect, create the missing
schemas, write, audit and publish each model, record its fingerprint), run the data tests, run
a query, read the catalog, the published columns and the stored fingerprints, and name a
column's type. `registry.engine_for(config)` gives the engine of the chosen target by its
`type:`, from `registry.ENGINES`.

- DuckDB (`duckdb_engine.DuckDBEngine`): the connection and the catalog in `duckdb`; a build
  in `build/engine.py` and `build/materialize.py` (one transaction per model); the data tests
  in `build/testing.py`, a query in `build/readonly.py`; fingerprints in `build/state.py`.
- Spark (`spark_engine.SparkEngine`): the session and the registry in `spark`; a build in
  `sparkbuild` and `sparkwap` (a staging name, then the registry); the data tests and a query
  in `sparkread`; types through `compile/typing/sparktypes.to_spark`.

The rest of `build/` (selection, preflight, what to rebuild, fingerprints, which tests audit
which model, results) is shared, and each engine's build uses it.
"""
