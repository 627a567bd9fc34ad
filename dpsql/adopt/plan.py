"""From a split to products with ports and inputs: every ref cut by the split becomes a port
of the producer and an input of the consumer; public and final models become ports too;
seeds and sources become file or table inputs of the products that read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dpsql.adopt.dbt_values import DbtProject, DbtSource
from dpsql.adopt.split import Proposal, Split, model_edges


@dataclass(frozen=True)
class Port:
    model: str
    why: str
    readers: tuple[str, ...] = ()  # products that read it


@dataclass(frozen=True)
class Input:
    name: str
    kind: str  # file | table | product
    file: Path | None = None  # the file in the dbt project (copied under data/)
    table: str | None = None
    product: str | None = None
    seed: bool = False
    column_types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""


@dataclass(frozen=True)
class PlannedProduct:
    proposal: Proposal
    ports: tuple[Port, ...]
    inputs: tuple[Input, ...]
    cut_in: tuple[tuple[str, str], ...]  # (upstream model elsewhere, model here)
    cut_out: tuple[tuple[str, str], ...]  # (model here, downstream model elsewhere)
    source_inputs: Mapping[tuple[str, str], str]  # (source, table) -> input name

    @property
    def name(self) -> str:
        return self.proposal.name


@dataclass(frozen=True)
class Plan:
    project: DbtProject
    split: Split
    products: tuple[PlannedProduct, ...]
    cut: tuple[tuple[str, str], ...]

    def product_of(self, model: str) -> PlannedProduct:
        return next(p for p in self.products if model in p.proposal.models)


def plan_products(project: DbtProject, split: Split) -> Plan:
    owner = {m: p.name for p in split.products for m in p.models}
    edges = model_edges(project)
    cut = tuple((a, b) for a, b in edges if owner[a] != owner[b])
    downstream = {a for a, _ in edges}
    planned = []
    for proposal in split.products:
        ports = []
        for name in proposal.models:
            model = project.model(name)
            assert model is not None
            readers = tuple(sorted({owner[b] for a, b in cut if a == name}))
            why = ("read by " + ", ".join(readers) if readers else
                   "public in dbt" if model.access == "public" else
                   "a final model (no model reads it)" if name not in downstream
                   and model.access != "private" else "")
            if why:
                ports.append(Port(name, why, readers))
        inputs, sources = _inputs(project, proposal, owner)
        planned.append(PlannedProduct(
            proposal, tuple(ports), inputs,
            tuple((a, b) for a, b in cut if owner[b] == proposal.name),
            tuple((a, b) for a, b in cut if owner[a] == proposal.name),
            MappingProxyType(sources)))
    return Plan(project, split, tuple(planned), cut)


def _inputs(project: DbtProject, proposal: Proposal, owner: Mapping[str, str]
            ) -> tuple[tuple[Input, ...], dict[tuple[str, str], str]]:
    inputs: dict[str, Input] = {}
    sources: dict[tuple[str, str], str] = {}
    for name in proposal.models:
        model = project.model(name)
        assert model is not None
        for ref in model.refs:
            seed = project.seed(ref)
            if seed is not None:
                inputs[ref] = Input(ref, "file", file=seed.path, seed=True,
                                    column_types=seed.column_types,
                                    description=seed.description)
            elif owner.get(ref, proposal.name) != proposal.name:
                inputs[ref] = Input(ref, "product", product=owner[ref])
        for pair in model.sources:
            if pair in sources:
                continue
            found = _source(project, pair)
            taken = {*inputs, *proposal.models}
            input_name = pair[1] if pair[1] not in taken else f"{pair[0]}__{pair[1]}"
            sources[pair] = input_name
            if found is not None and found.file is not None:
                inputs[input_name] = Input(input_name, "file", file=found.file,
                                           description=found.description)
            else:
                relation = found.relation if found is not None else f"{pair[0]}.{pair[1]}"
                inputs[input_name] = Input(input_name, "table", table=relation,
                                           description=found.description if found else "")
    return tuple(inputs.values()), sources


def _source(project: DbtProject, pair: tuple[str, str]) -> DbtSource | None:
    return next((s for s in project.sources if (s.source, s.table) == pair), None)
