"""Transformations written more than once across products (`dpsql overlap`)."""
