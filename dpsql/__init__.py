"""dpsql: a SQL transformation compiler for data products.

Parses every model with sqlglot, checks that products fit together, traces column lineage
across them, and builds the result into DuckDB.
"""

from __future__ import annotations

from dpsql.core import __version__

__all__ = ["__version__"]
