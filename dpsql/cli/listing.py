"""What `dpsql ls` adds under its table (deprecated ports and who still reads them), and all of
it as one JSON document (`--format json`)."""

from __future__ import annotations

from typing import Any

from dpsql.cli.console import Console
from dpsql.compile.checks.deprecation import readers, replacement
from dpsql.core.project import Project
from dpsql.core.specs import InputSpec


def deprecated_ports(project: Project) -> list[dict[str, Any]]:
    """Each deprecated port with its `since`, `sunset`, replacement, the products that still
    read it, and those that read its replacement (moved over, or new)."""
    found = []
    for product in sorted(project.products, key=lambda p: p.name):
        for port in product.spec.outputs:
            dep = port.deprecated
            if dep is None:
                continue
            use = replacement(product.name, dep)
            owner, _, new = (use or "").partition(".")
            found.append({
                "port": f"{product.name}.{port.name}",
                "since": str(dep.since) if dep.since is not None else None,
                "sunset": dep.sunset.isoformat() if dep.sunset is not None else None,
                "use": use,
                "still_read_by": readers(project, product.name, port.name),
                "replacement_read_by": readers(project, owner, new) if use else [],
            })
    return found


def deprecation_lines(project: Project) -> list[str]:
    """`orders.orders: deprecated since 1.4.0, sunset 2027-06-30, use orders.orders_v2` and,
    below it, `still read by: finance, revenue` and the products reading the replacement."""
    lines = []
    for port in deprecated_ports(project):
        what = ", ".join(
            part for part in (
                f"since {port['since']}" if port["since"] else "",
                f"sunset {port['sunset']}" if port["sunset"] else "no sunset date",
                f"use {port['use']}" if port["use"] else "no replacement") if part)
        lines.append(f"{port['port']}: deprecated {what}")
        lines.append("  still read by: " + (", ".join(port["still_read_by"]) or "nobody"))
        if port["use"]:
            lines.append(f"  {port['use']} read by: "
                         + (", ".join(port["replacement_read_by"]) or "nobody yet"))
    return lines


def _input(spec: InputSpec) -> dict[str, Any]:
    found: dict[str, Any] = {"name": spec.name, "kind": spec.kind}
    if spec.kind == "product":
        found.update(product=spec.product, port=spec.port)
    return found


def as_json(project: Project) -> dict[str, Any]:
    """`dpsql ls --format json`: the products, their ports, and the deprecated ports."""
    products = []
    for product in sorted(project.products, key=lambda p: (p.spec.domain, p.name)):
        spec = product.spec
        products.append({
            "name": spec.name, "domain": spec.domain, "owner": spec.owner,
            "version": str(spec.version),
            "outputs": [{"name": o.name, "relation": f"{spec.name}.{o.name}",
                         "deprecated": o.deprecated is not None,
                         "columns": None if o.columns is None
                         else [{"name": c.name, "type": c.type,
                                "classifications": list(c.classifications)} for c in o.columns]}
                        for o in spec.outputs],
            "inputs": [_input(i) for i in spec.inputs],
        })
    return {"workspace": project.config.name, "products": products,
            "deprecated_ports": deprecated_ports(project)}


def print_products(console: Console, project: Project, columns: bool) -> None:
    """The table of products `dpsql ls` prints, its deprecated ports, and with `columns` each
    port's columns."""
    rows = []
    for product in sorted(project.products, key=lambda p: (p.spec.domain, p.name)):
        spec = product.spec
        inputs = ", ".join(
            f"{i.product}.{i.port}" if i.kind == "product" else f"{i.name} ({i.kind})"
            for i in spec.inputs)
        ports = ", ".join(f"{spec.name}.{o.name}" for o in spec.outputs)
        rows.append([spec.domain, spec.name, str(spec.version), spec.owner, ports, inputs])
    console.table(f"Data products in {project.config.name}",
                  ["domain", "product", "version", "owner", "output ports", "inputs"], rows)
    for line in deprecation_lines(project):
        console.print(line)
    if columns:
        for product in project.products:
            for port in product.spec.outputs:
                cols = port.columns or ()
                console.print(f"{product.name}.{port.name}: " + (
                    ", ".join(f"{c.name} {c.type}" + (f" [{', '.join(c.classifications)}]"
                                                     if c.classifications else "")
                              for c in cols) if cols else "(no contract)"))
