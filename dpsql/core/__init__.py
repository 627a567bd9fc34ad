"""Values every stage shares: errors and locations, relations, specs, the project and compiled
values, lineage values, types, versions and graphs."""
