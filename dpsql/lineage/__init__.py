"""Column lineage: tracing one query, the workspace graph, queries over it, and its exports."""
