"""Values every stage shares: errors and locations, relations, specs, the project and compiled
values, lineage values, types, versions and graphs."""

__version__ = "0.1.0"  # dpsql's own version (written into artifacts and caches)
