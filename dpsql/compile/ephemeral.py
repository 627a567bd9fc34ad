"""Compile-time side of materializations: ephemeral models inlined as CTEs, config checks.

An ephemeral model has no relation in the warehouse. Every model (and data test) that reads it
carries its query as a CTE named `__dpsql_ephemeral_<name>`, put in front of its own CTEs. The
rewrite works on sqlglot trees (table nodes replaced, a WITH clause extended), never on SQL text.
An ephemeral model that reads another one hands that one up: the consumer holds both CTEs, each
once, in dependency order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.core.errors import Diagnostic, error, warning
from dpsql.core.project import CompiledModel, CompiledProject, Materialization
from dpsql.core.relations import Relation

EPHEMERAL_PREFIX = "__dpsql_ephemeral_"


def check_config(models: Mapping[str, CompiledModel]) -> list[Diagnostic]:
    """Materialization settings that cannot work, found before anything is built."""
    out: list[Diagnostic] = []
    for model in models.values():
        config = model.config
        if config.materialized == Materialization.EPHEMERAL and model.port:
            out.append(error(
                "DP404", f"model `{model.id}` feeds output port `{model.port}` but is ephemeral",
                model.template_map.config("materialized"),
                "a port is a relation in the warehouse: use 'table', 'view' or 'incremental'"))
        if config.unique_key and config.materialized != Materialization.INCREMENTAL:
            out.append(warning(
                "DP405", f"model `{model.id}` sets unique_key but is materialized as "
                f"'{config.materialized}'; the key is ignored", model.template_map.config("unique_key"),
                "add materialized='incremental', or remove unique_key"))
        if config.unique_key and model.columns is not None:
            names = {c.name for c in model.columns}
            missing = [k for k in config.unique_key if k not in names]
            if missing:
                out.append(error(
                    "DP406", f"unique_key of `{model.id}` names "
                    + ", ".join(f"`{k}`" for k in missing) + ", which the model does not produce",
                    model.template_map.config("unique_key"),
                    "produced columns: " + ", ".join(c.name for c in model.columns)))
    return out


class Inliner:
    """Rewrites trees that read ephemeral models so that they carry them as CTEs."""

    def __init__(self, models: Mapping[str, CompiledModel], order: Iterable[str],
                 tree_of: Callable[[CompiledModel], exp.Query]):
        self._relations: dict[Relation, str] = {}  # ephemeral relation -> model id
        self._trees: dict[str, exp.Query] = {}  # ephemeral id -> its tree, itself inlined
        self._models = models
        for mid in order:
            model = models.get(mid)
            if model is None or model.config.materialized != Materialization.EPHEMERAL:
                continue
            self._trees[mid] = self.apply(tree_of(model))
            self._relations[model.relation] = mid

    @property
    def active(self) -> bool:
        return bool(self._relations)

    def apply(self, tree: exp.Query) -> exp.Query:
        """A copy of `tree` where every ephemeral relation read is a CTE (the input is untouched)."""
        used: list[str] = []

        def swap(node: exp.Expr) -> exp.Expr:
            if not isinstance(node, exp.Table) or node.args.get("catalog"):
                return node
            mid = self._relations.get(Relation(node.db, node.name))
            if mid is None:
                return node
            if mid not in used:
                used.append(mid)
            new = node.copy()
            new.set("db", None)
            new.set("this", exp.to_identifier(cte_name(self._models[mid])))
            if not node.alias:
                new.set("alias", exp.TableAlias(this=exp.to_identifier(node.name)))
            return new

        if not self._relations:
            return tree
        out = tree.transform(swap)
        assert isinstance(out, exp.Query)
        if not used:
            return out
        ctes: dict[str, exp.CTE] = {}
        for mid in used:
            body = self._trees[mid].copy()
            hoisted, kept = _split_with(body)
            for cte in hoisted:
                ctes.setdefault(cte.alias_or_name, cte)
            body.set("with_", exp.With(expressions=kept) if kept else None)
            name = cte_name(self._models[mid])
            ctes.setdefault(name, exp.CTE(this=body, alias=exp.TableAlias(
                this=exp.to_identifier(name))))
        own = out.args.get("with_")
        existing = list(own.expressions) if isinstance(own, exp.With) else []
        recursive = bool(own.args.get("recursive")) if isinstance(own, exp.With) else False
        out.set("with_", exp.With(expressions=[*ctes.values(), *existing], recursive=recursive))
        return out


def cte_name(model: CompiledModel) -> str:
    return EPHEMERAL_PREFIX + model.name


def _split_with(tree: exp.Query) -> tuple[list[exp.CTE], list[exp.CTE]]:
    """The tree's CTEs that are inlined ephemeral models, and its own."""
    own = tree.args.get("with_")
    if not isinstance(own, exp.With):
        return [], []
    hoisted = [c for c in own.expressions if c.alias_or_name.startswith(EPHEMERAL_PREFIX)]
    kept = [c for c in own.expressions if not c.alias_or_name.startswith(EPHEMERAL_PREFIX)]
    return hoisted, kept


def reads_through(compiled: CompiledProject, deps: Sequence[str], product: str,
                  inputs: Sequence[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """The models with a relation, and the (product, input) ports, read through `deps` and
    `inputs`, looking through ephemeral models (which are inlined in their readers)."""
    models: set[str] = set()
    ports = {(product, i) for i in inputs}
    stack = list(deps)
    seen: set[str] = set()
    while stack:
        mid = stack.pop()
        model = compiled.models.get(mid)
        if mid in seen or model is None:
            continue
        seen.add(mid)
        if model.config.materialized == Materialization.EPHEMERAL:
            stack.extend(model.depends_on)
            ports.update((model.product, i) for i in model.inputs)
        else:
            models.add(mid)
    return models, ports


def inline_ephemerals(models: Mapping[str, CompiledModel], order: Iterable[str],
                      tree_of: Callable[[CompiledModel], exp.Query]
                      ) -> tuple[dict[str, CompiledModel], Inliner]:
    """Every model that reads an ephemeral model gets SQL that carries it as a CTE.

    The model's tree stays as written (relations qualified) for checks and lineage; its `sql`
    and `incremental_sql`, which are what runs, change.
    """
    inliner = Inliner(models, order, tree_of)
    out = dict(models)
    if not inliner.active:
        return out, inliner
    for mid, model in models.items():
        if not any(models[d].config.materialized == Materialization.EPHEMERAL
                   for d in model.depends_on if d in models):
            continue
        sql = sqlmod.generate(inliner.apply(tree_of(model)))
        incremental_sql = model.incremental_sql
        if incremental_sql is not None:
            incremental_sql = sqlmod.generate(inliner.apply(sqlmod.parse_query(incremental_sql)))
        out[mid] = replace(model, sql=sql, incremental_sql=incremental_sql)
    return out, inliner
