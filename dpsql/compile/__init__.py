"""From a loaded project to a compiled one: a declared list of passes over one compile state."""
