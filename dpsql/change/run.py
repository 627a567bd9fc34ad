"""`dpsql diff` as a library call: the base materialised, both sides compiled, compared."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dpsql.change.base import materialise
from dpsql.change.compare import Change, compare, edited_products
from dpsql.change.impact import consumer_impacts
from dpsql.change.semver import ProductBump, bump_of, bumps
from dpsql.change.side import Side, open_side, share_schemas
from dpsql.compile.checks.deprecation import readers, replacement
from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.project import Project
from dpsql.load.targets import chosen, current_choice

log = logging.getLogger("dpsql")


@dataclass(frozen=True)
class DeprecatedPort:
    """A port on its way out, and who still reads it (for migrations to a versioned port)."""

    port: str  # product.port
    use: str | None  # the replacement, product.port
    sunset: str | None
    still_read_by: tuple[str, ...]
    replacement_read_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "use": self.use, "sunset": self.sunset,
                "still_read_by": list(self.still_read_by),
                "replacement_read_by": list(self.replacement_read_by)}


@dataclass(frozen=True)
class DiffResult:
    base: str
    root: Path
    products: tuple[ProductBump, ...]
    changes: tuple[Change, ...]
    deprecated: tuple[DeprecatedPort, ...] = ()

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.products)

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "ok": self.ok,
                "products": [p.to_dict() for p in self.products],
                "changes": [{**c.to_dict(), "bump": bump_of(c.kind)} for c in self.changes],
                "deprecated_ports": [d.to_dict() for d in self.deprecated]}


def diff(project_dir: Path, base: str | None = None) -> DiffResult:
    """Compare the workspace with its base. Bad input raises DpsqlError; a workspace that
    fails `dpsql check` is compared as far as it compiles."""
    root = project_dir.resolve()
    if not (root / "dpsql.yml").is_file():
        raise DpsqlError(error("DP006", f"{root} is not a workspace: it has no dpsql.yml",
                               Location(root), "run dpsql diff -p DIR on the workspace folder"))
    with materialise(root, base) as found:
        try:
            before = _open_base(found.root, found.label)
        except DpsqlError as exc:
            raise DpsqlError([error(
                "DP703", f"the base {found.label} does not load as a workspace "
                "(its problems follow)", None,
                "compare with a revision or a copy that loads (dpsql check on it)"),
                *exc.diagnostics]) from None
        after = open_side(root, use_cache=True)
        share_schemas(before, after)
        edited = edited_products(before, after)
        changes = compare(before, after, edited)
        for change in changes:
            change.consumers = consumer_impacts(before, after, change)
        products = bumps(before, after, changes, edited)
        return DiffResult(found.label, root, tuple(products), tuple(changes),
                          deprecated_ports(after.compiled.project))


def _open_base(root: Path, label: str) -> Side:
    """The base compiled on the chosen target; on its default target when the base does not
    declare the chosen one (a target added by the change being compared)."""
    try:
        return open_side(root, use_cache=False)
    except DpsqlError as exc:
        choice = current_choice()
        if choice.target is None or not any(d.code == "DP014" for d in exc.diagnostics):
            raise
    log.info("the base %s declares no target `%s`: it is compiled on its default target",
             label, choice.target)
    with chosen(replace(choice, target=None)):
        return open_side(root, use_cache=False)


def deprecated_ports(project: Project) -> tuple[DeprecatedPort, ...]:
    """Every deprecated port of the workspace, with the products still reading it and those
    already reading its replacement."""
    out = []
    for product in project.products:
        for port in product.spec.outputs:
            dep = port.deprecated
            if dep is None:
                continue
            use = replacement(product.name, dep)
            moved = readers(project, *use.split(".", 1)) if use else []
            out.append(DeprecatedPort(
                f"{product.name}.{port.name}", use, dep.sunset.isoformat() if dep.sunset else None,
                tuple(readers(project, product.name, port.name)), tuple(moved)))
    return tuple(out)
