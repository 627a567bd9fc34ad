"""From a split to products with ports and inputs: every ref cut by the split becomes a port
of the producer and an input of the consumer; public and final models become ports too;
seeds and sources become file or table inputs of the products that read them. A model that a
relationships test of another product points at becomes a port too, so the test can read it.
The tests on a seed or source go to the first product that reads it (its `home`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dpsql.adopt.checks import Holder, all_tests, relationship_parent
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
    # a seed or source -> the product whose input carries its tests (the first that reads it)
    homes: Mapping[Holder, str] = field(default_factory=lambda: MappingProxyType({}))

    def product_of(self, model: str) -> PlannedProduct:
        return next(p for p in self.products if model in p.proposal.models)


def plan_products(project: DbtProject, split: Split) -> Plan:
    owner = {m: p.name for p in split.products for m in p.models}
    edges = model_edges(project)
    cut = tuple((a, b) for a, b in edges if owner[a] != owner[b])
    downstream = {a for a, _ in edges}
    inputs_of = {p.name: _inputs(project, p, owner) for p in split.products}
    homes = _homes(inputs_of)
    checked = _checked(project, owner, homes)
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
                   and model.access != "private" else
                   "a relationships test of " + ", ".join(sorted(checked[name])) + " reads it"
                   if name in checked else "")
            if why:
                ports.append(Port(name, why, readers))
        inputs, sources = inputs_of[proposal.name]
        planned.append(PlannedProduct(
            proposal, tuple(ports), inputs,
            tuple((a, b) for a, b in cut if owner[b] == proposal.name),
            tuple((a, b) for a, b in cut if owner[a] == proposal.name),
            MappingProxyType(sources)))
    return Plan(project, split, tuple(planned), cut, MappingProxyType(homes))


Inputs = tuple[tuple[Input, ...], dict[tuple[str, str], str]]


def _homes(inputs_of: Mapping[str, Inputs]) -> dict[Holder, str]:
    """Each seed and source read by some product -> the first product that reads it."""
    homes: dict[Holder, str] = {}
    for product, (inputs, sources) in inputs_of.items():
        for spec in inputs:
            if spec.seed:
                homes.setdefault(("seed", spec.name), product)
        for pair in sources:
            homes.setdefault(("source", f"{pair[0]}.{pair[1]}"), product)
    return homes


def _checked(project: DbtProject, owner: Mapping[str, str], homes: Mapping[Holder, str]
             ) -> dict[str, set[str]]:
    """Model -> the other products whose relationships tests point at it."""
    out: dict[str, set[str]] = {}
    for holder, _, raw in all_tests(project):
        parent = relationship_parent(project, raw)
        if parent is None or parent[0] != "ref" or parent[1] not in owner:
            continue
        home = owner.get(holder[1]) if holder[0] == "model" else homes.get(holder)
        if home is not None and home != owner[parent[1]]:
            out.setdefault(parent[1], set()).add(home)
    return out


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
