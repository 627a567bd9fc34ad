"""What an import proposes, in words: printed by `dpsql import dbt` and written as IMPORT.md."""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path

from dpsql.adopt.plan import Input, Plan, PlannedProduct
from dpsql.adopt.testmap import TestKey, known_tests, product_tests, test_counts, without
from dpsql.adopt.write import data_path
from dpsql.core.errors import Diagnostic


def import_report(plan: Plan, notes: Sequence[str], problems: Sequence[Diagnostic],
                  src: Path, dest: Path, drop: Set[TestKey] = frozenset()) -> str:
    split = plan.split
    ports = sum(len(p.ports) for p in plan.products)
    quality = f", modularity {split.modularity:.2f}" if split.modularity is not None else ""
    if split.resolution is not None:
        quality += f" (Louvain at resolution {split.resolution:g})"
    lines = [
        f"# Import of dbt project `{plan.project.name}`", "",
        f"From {src} into {dest}.", "",
        f"Split `{split.mode}`: {len(plan.products)} product"
        f"{'s' if len(plan.products) != 1 else ''} from {len(plan.project.models)} models, "
        f"{ports} port{'s' if ports != 1 else ''}, {len(plan.cut)} ref"
        f"{'s' if len(plan.cut) != 1 else ''} cut{quality}.",
    ]
    known = known_tests(plan)
    for planned in plan.products:
        lines += ["", *_product(planned), *_tests(plan, planned, known, dest, drop)]
    if notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in notes)]
    if problems:
        lines += ["", "## Problems found when the ports were typed", "",
                  "Fix these in the workspace before `dpsql build` (ports whose model did not "
                  "compile have no contract yet):", "",
                  *(f"- {p.location.render(dest) + ': ' if p.location else ''}{p.code}: "
                    f"{p.message}" for p in problems)]
    lines += ["", "## Next", "", f"    dpsql build -p {dest}",
              "", "Ports carry contracts typed from the SQL; check the proposed products, "
              "domains and owners, and move models between product folders as you see fit "
              "(`dpsql check` says what each move breaks)."]
    return "\n".join(lines) + "\n"


def _product(planned: PlannedProduct) -> list[str]:
    proposal = planned.proposal
    owner = f", owner {proposal.owner}" if proposal.owner else ""
    lines = [f"## Product `{proposal.name}` (domain `{proposal.domain}`{owner})", ""]
    lines += [f"Why: {'; '.join(proposal.reasons) or 'the whole project'}.", ""]
    lines.append(f"Models ({len(proposal.models)}): {', '.join(proposal.models)}")
    lines.append("")
    lines.append("Ports:" if planned.ports else "Ports: none")
    lines += [f"- `{p.model}`: {p.why}" for p in planned.ports]
    if planned.inputs:
        lines += ["", "Inputs:", *(f"- `{i.name}`: {_input(i)}" for i in planned.inputs)]
    cut = [f"{a} -> {b}" for a, b in (*planned.cut_in, *planned.cut_out)]
    lines += ["", f"Refs cut: {', '.join(cut) if cut else 'none'}"]
    return lines


def _tests(plan: Plan, planned: PlannedProduct, known: set[str], dest: Path,
           drop: Set[TestKey]) -> list[str]:
    """How many of dbt's tests the product runs, and where they are."""
    tests = without(planned.name, product_tests(plan, planned, known), drop)
    counts = test_counts(plan, planned, tests)
    files = len(list((dest / planned.name / "tests").glob("*.sql")))
    parts = [(counts["contract"], "in port contracts"), (counts["models"], "under `models:`"),
             (counts["inputs"], "on inputs"), (files, "singular")]
    total = sum(n for n, _ in parts)
    where = ", ".join(f"{n} {label}" for n, label in parts if n)
    return ["", f"Tests: {total}" + (f" ({where})" if where else "")]


def _input(spec: Input) -> str:
    if spec.kind == "product":
        return f"port `{spec.name}` of product `{spec.product}`"
    if spec.kind == "table":
        return f"table `{spec.table}` (a dbt source; it must exist in the warehouse)"
    kind = "seed" if spec.seed else "source file"
    return f"{kind} {data_path(spec)}"
