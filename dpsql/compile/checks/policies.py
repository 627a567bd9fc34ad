"""The policies pass: `policies:` of dpsql.yml checked against every product (DP8xx).

`require:` (owner, description, a contract on every port), `domains:` (which domains a
product may read), and the declarations the classification labels rely on: every domain and
label named exists, every `masked_by` name is a function. How labels flow is in `labels.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import duckdb
from sqlglot.dialects.duckdb import DuckDB

from dpsql.compile.state import CompileState
from dpsql.core.errors import Diagnostic, did_you_mean, error
from dpsql.core.project import Project
from dpsql.core.specs import ColumnSpec, Policies, ProductSpec


def check_policies(state: CompileState) -> None:
    """Pass: `require:` and `domains:` rules, and what `classifications:` names (DP801-DP807)."""
    project = state.project
    policies = project.config.policies
    state.diagnostics.extend(_unknown_domains(project, policies))
    state.diagnostics.extend(_undeclared_labels(project, policies))
    state.diagnostics.extend(_unknown_masks(policies))
    for product in project.products:
        state.diagnostics.extend(_required(product.spec, policies))
        state.diagnostics.extend(_reads(project, product.spec, policies))


def _unknown_domains(project: Project, policies: Policies) -> Iterator[Diagnostic]:
    known = {p.spec.domain for p in project.products}
    for domain, (where, allowed) in policies.domains.items():
        for name, at in ((domain, where), *allowed):
            if name not in known:
                yield error("DP802", f"`policies: domains:` names the domain `{name}`, which no "
                            "product has", at, f"domains of the products: "
                            f"{did_you_mean(name, known)}")


def labelled_columns(spec: ProductSpec) -> Iterator[tuple[str, ColumnSpec]]:
    """Every column of an input or port of the product that carries labels, with its owner."""
    for inp in spec.inputs:
        for col in inp.columns:
            if col.classifications:
                yield f"input `{inp.name}`", col
    for out in spec.outputs:
        for col in out.columns or ():
            if col.classifications:
                yield f"port `{out.name}`", col


def _undeclared_labels(project: Project, policies: Policies) -> Iterator[Diagnostic]:
    declared = policies.classifications
    for product in project.products:
        for owner, col in labelled_columns(product.spec):
            for label in col.classifications:
                if label not in declared:
                    yield error(
                        "DP803", f"column `{col.name}` of {owner} of `{product.name}` has "
                        f"`classification: {label}`, which `policies: classifications:` in "
                        "dpsql.yml does not declare", col.label_location or col.location,
                        f"declare it: `classifications: {{{label}: {{masked_by: [sha256]}}}}`; "
                        + did_you_mean(label, declared))


@lru_cache(maxsize=1)
def known_functions() -> frozenset[str]:
    """Every function name DuckDB knows (and sqlglot's DuckDB dialect), lower case."""
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute("select distinct function_name from duckdb_functions()").fetchall()
    finally:
        con.close()
    names = {str(r[0]).lower() for r in rows}
    names.update(name.lower() for name in DuckDB.Parser.FUNCTIONS)
    return frozenset(names)


def _unknown_masks(policies: Policies) -> Iterator[Diagnostic]:
    for label in policies.classifications.values():
        for name, where in label.masked_by:
            if name.lower() not in known_functions():
                yield error("DP804", f"`masked_by: {name}` of classification `{label.name}` is "
                            "not a function DuckDB knows", where,
                            "name a function such as sha256, md5 or hash; "
                            + did_you_mean(name, ("sha256", "md5", "hash", "sha1")))


def _required(spec: ProductSpec, policies: Policies) -> Iterator[Diagnostic]:
    for rule in ("owner", "description"):
        if policies.requires(rule) and not getattr(spec, rule).strip():
            yield error("DP805", f"product `{spec.name}` has no {rule}, which `policies: "
                        f"require:` asks of every product", spec.location,
                        f"add `{rule}: ...` to {spec.yml.name}")
    if policies.requires("contracts"):
        for out in spec.outputs:
            if out.columns is None:
                yield error("DP806", f"port `{spec.name}.{out.name}` has no contract, which "
                            "`policies: require:` asks of every output port", out.location,
                            "list the port's `columns:` with their types (`dpsql ls --columns` "
                            "shows what the model produces)")


def _reads(project: Project, spec: ProductSpec, policies: Policies) -> Iterator[Diagnostic]:
    rule = policies.domains.get(spec.domain)
    if rule is None:
        return
    allowed = {spec.domain} | {name for name, _ in rule[1]}
    for inp in spec.inputs:
        producer = project.product(inp.product) if inp.kind == "product" and inp.product else None
        if producer is not None and producer.spec.domain not in allowed:
            yield error(
                "DP807", f"input `{inp.name}` of `{spec.name}` (domain `{spec.domain}`) reads "
                f"`{producer.name}.{inp.port}` of domain `{producer.spec.domain}`, which "
                f"`policies: domains:` does not allow", inp.key_location("product"),
                f"a `{spec.domain}` product may read: {', '.join(sorted(allowed))}; add "
                f"`{producer.spec.domain}` to `domains: {spec.domain}` in dpsql.yml, or read "
                "another product")
