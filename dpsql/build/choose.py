"""What decides that a model is rebuilt, whatever the engine: the kind of relation each
materialization is, and a relation whose columns are not what the model produces."""

from __future__ import annotations

from collections.abc import Sequence

from dpsql.core.project import Column, CompiledModel, Materialization

KIND = {Materialization.VIEW: "view", Materialization.TABLE: "table",
        Materialization.INCREMENTAL: "table"}  # what each materialization is in the warehouse


def drifted(model: CompiledModel, columns: Sequence[Column] | None) -> bool:
    """The relation's columns are not the ones the model produces (changed by hand).

    An incremental table may hold its columns in another order (INSERT BY NAME)."""
    if model.columns is None or columns is None:
        return False
    want = [c.name.casefold() for c in model.columns]
    have = [c.name.casefold() for c in columns]
    if model.config.materialized == Materialization.INCREMENTAL:
        return set(want) != set(have)
    return want != have
