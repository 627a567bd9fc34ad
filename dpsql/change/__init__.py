"""What a change to the workspace does: the comparison with a base (a git revision or another
copy), per port and column, its impact on every consumer, and the version bump it needs."""
