"""The benchmark harness: synthetic meshes, peers (dbt, SQLMesh), the DuckDB floor, reports.

Run it with `python -m dpsql.bench --help`; nothing here is imported by the dpsql CLI.
"""
