"""What `dpsql ls` adds under its table: deprecated ports and who still reads them."""

from __future__ import annotations

from typing import Any

from dpsql.compile.checks.deprecation import readers, replacement
from dpsql.core.project import Project


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
