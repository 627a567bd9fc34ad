"""Typing: every model's columns and DuckDB types, with no data read."""
