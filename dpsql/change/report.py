"""`dpsql diff` output: text for people, markdown for a pull-request comment, JSON for bots."""

from __future__ import annotations

import json

from dpsql.change.run import DiffResult
from dpsql.change.semver import ProductBump


def as_json(result: DiffResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def _consumer_line(c: dict[str, object]) -> str:
    reads = ", ".join(c["reads"]) if c["reads"] else "nothing it changes"  # type: ignore[arg-type]
    via = f" via {', '.join(c['via'])}" if c["via"] else ""  # type: ignore[arg-type]
    return f"{c['product']}: {c['impact']} (reads {reads}{via}, depth {c['depth']})"


def _kind_text(change: dict[str, object]) -> str:
    text = str(change["kind"])
    if change["kind"] == "column_renamed":
        text += f" from {change['renamed_from']}"
    if change["before"] or change["after"]:
        text += f" ({change['before'] or '-'} -> {change['after'] or '-'})"
    return text


def bump_problem(p: ProductBump) -> str:
    """What is wrong with a product's declared version, and what to declare."""
    why = f"{p.reason.kind} of {p.reason.where()}" if p.reason else "its compiled SQL changed"
    return (f"{p.product}: {why} needs a {p.required} version bump, but the version went "
            f"from {p.version_before} to {p.version_after} ({p.declared}); "
            f"set `version: {p.make}` in its product.yml")


def as_text(result: DiffResult) -> str:
    data = result.to_dict()
    lines = [f"Compared with {result.base}."]
    if not data["changes"]:
        lines.append("No port changed.")
    for change in data["changes"]:
        where = ".".join(x for x in (change["product"], change["port"], change["column"]) if x)
        lines.append(f"{where}: {_kind_text(change)}, needs a {change['bump']} bump")
        lines.extend(f"  {_consumer_line(c)}" for c in change["consumers"])
        if not change["consumers"]:
            lines.append("  no consumers")
    lines.append("")
    for p in result.products:
        if not p.edited:
            continue
        status = "ok" if p.ok else "TOO SMALL"
        lines.append(f"{p.product} {p.version_before} -> {p.version_after}: needs {p.required}, "
                     f"declared {p.declared}: {status}")
        if not p.ok:
            lines.append(f"  {bump_problem(p)}")
    if not any(p.edited for p in result.products):
        lines.append("No product was edited: no version bump needed.")
    lines.extend(_deprecated_lines(result))
    return "\n".join(lines)


def _deprecated_lines(result: DiffResult) -> list[str]:
    """Deprecated ports and who still reads them: the migrations under way."""
    lines = []
    for d in result.deprecated:
        sunset = f", sunset {d.sunset}" if d.sunset else ""
        use = f", use {d.use}" if d.use else ""
        lines += ["", f"{d.port}: deprecated{sunset}{use}",
                  "  still read by: " + (", ".join(d.still_read_by) or "nobody")]
        if d.use:
            lines.append(f"  {d.use} read by: " + (", ".join(d.replacement_read_by) or "nobody"))
    return lines


def as_markdown(result: DiffResult) -> str:
    data = result.to_dict()
    lines = [f"### dpsql diff against `{result.base}`", ""]
    if data["changes"]:
        lines += ["| port column | change | consumer | impact | reads | depth |",
                  "|---|---|---|---|---|---|"]
    else:
        lines.append("No port changed.")
    for change in data["changes"]:
        where = ".".join(x for x in (change["product"], change["port"], change["column"]) if x)
        rows = change["consumers"] or [{"product": "-", "impact": "-", "reads": [], "depth": "-"}]
        for c in rows:
            reads = ", ".join(f"`{r}`" for r in c["reads"])
            lines.append(f"| `{where}` | {_kind_text(change)} | {c['product']} | "
                         f"**{c['impact']}** | {reads} | {c['depth']} |")
    edited = [p for p in result.products if p.edited]
    if edited:
        lines += ["", "| product | version | required bump | declared | ok |", "|---|---|---|---|---|"]
        for p in edited:
            lines.append(f"| {p.product} | {p.version_before} → {p.version_after} | {p.required} "
                         f"| {p.declared} | {'✅' if p.ok else '❌ ' + bump_problem(p)} |")
    if result.deprecated:
        lines += ["", "| deprecated port | sunset | use | still read by |", "|---|---|---|---|"]
        lines += [f"| `{d.port}` | {d.sunset or '-'} | {d.use or '-'} | "
                  f"{', '.join(d.still_read_by) or 'nobody'} |" for d in result.deprecated]
    return "\n".join(lines) + "\n"
