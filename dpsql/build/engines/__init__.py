"""The warehouse engine: DuckDB connections, catalog reads and per-thread cursors."""
