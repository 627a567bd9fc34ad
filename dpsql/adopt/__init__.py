"""Adopting other tools\x27 projects: `dpsql import dbt`."""
