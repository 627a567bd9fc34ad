"""A `Subgraph` as text (a tree), JSON, Mermaid or Graphviz DOT. Pure: strings in, strings out.

The JSON shape is documented in docs/lineage.md; OpenLineage events are in
`dpsql.lineage_openlineage`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from dpsql.core.lineage import kind_of
from dpsql.lineage.query import Link, Node, Subgraph, ends

# one colour per domain, in the order domains sort; readable with dark text
PALETTE = ("#8ecae6", "#ffb703", "#95d5b2", "#f4a3a8", "#cdb4db", "#ffd6a5", "#a0c4ff",
           "#caffbf", "#e9c46a", "#bde0fe")


def domain_colors(domains: Iterable[str]) -> dict[str, str]:
    return {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(sorted(set(domains)))}


def transformation(subtype: str) -> str:
    return f"{kind_of(subtype)}/{subtype}"


# --- text ------------------------------------------------------------------------------------


def to_text(sub: Subgraph) -> str:
    if sub.level == "workspace":
        return _workspace_text(sub)
    lines: list[str] = []
    focus = sub.node(sub.focus or "")
    if focus is not None:
        lines.append(_headline(focus))
    by_target: dict[str, list[Link]] = {}
    by_source: dict[str, list[Link]] = {}
    for link in sub.links:
        by_target.setdefault(link.target, []).append(link)
        by_source.setdefault(link.source, []).append(link)
    nodes = {n.id: n for n in sub.nodes}
    if sub.upstream and sub.focus:
        lines += ["", "upstream (what it is computed from):"]
        lines += _tree(sub.focus, nodes, by_target, upstream=True)
    if sub.downstream and sub.focus:
        lines += ["", "downstream (what is computed from it):"]
        lines += _tree(sub.focus, nodes, by_source, upstream=False)
    raw, ports = ends(sub)
    lines.append("")
    if sub.upstream:
        lines.append("raw inputs: " + (", ".join(sorted(n.id for n in raw)) or "none"))
    if sub.downstream and sub.level != "product":
        sure = sorted(n.id for n in ports if not n.possibly)
        lines.append("ports reached: " + (", ".join(sure) or "none"))
        maybe = sorted(n.id for n in ports if n.possibly)
        if maybe:
            lines.append("ports possibly affected (lineage incomplete on the way): "
                         + ", ".join(maybe))
    for note in sub.notes:
        lines += ["", f"note: {note}"]
    return "\n".join(lines).rstrip() + "\n"


def _headline(node: Node) -> str:
    parts = [node.id]
    if node.detail:
        parts.append(node.detail)
    parts.append(f"({node.role} of {node.product}, domain {node.domain})" if node.kind != "product"
                 else f"(domain {node.domain})")
    return "  ".join(parts)


def _describe(node: Node, link: Link | None) -> str:
    text = node.id
    if node.detail:
        text += f"  {node.detail}"
    if link is not None and link.subtypes:
        kinds = ", ".join(transformation(s) for s in link.subtypes)
        text += f"  [{'rows: ' if link.row_level else ''}{kinds}"
        text += f" in {link.via}]" if link.via else "]"
    elif link is not None and link.via and node.kind == "product":
        text += f"  (via {link.via})"
    if node.possibly:
        text += "  (possibly affected)"
    if node.incomplete:
        text += f"  (lineage incomplete: {node.incomplete})"
    return text


def _tree(root: str, nodes: dict[str, Node], children: dict[str, list[Link]],
          upstream: bool) -> list[str]:
    lines = [root]
    expanded: set[str] = {root}

    def visit(node_id: str, prefix: str) -> None:
        links = sorted(children.get(node_id, ()), key=lambda k: k.source if upstream else k.target)
        for i, link in enumerate(links):
            other = link.source if upstream else link.target
            node = nodes.get(other)
            if node is None:
                continue
            last = i == len(links) - 1
            branch = "└── " if last else "├── "
            seen = other in expanded and bool(children.get(other))
            lines.append(prefix + branch + _describe(node, link) + (" (see above)"
                                                                               if seen else ""))
            if not seen:
                expanded.add(other)
                visit(other, prefix + ("    " if last else "│   "))

    visit(root, "")
    if len(lines) == 1:
        focus = nodes.get(root)
        lines.append(f"(not known: lineage incomplete: {focus.incomplete})"
                     if focus is not None and focus.incomplete else "(nothing)")
    return lines


def _workspace_text(sub: Subgraph) -> str:
    consumers: dict[str, list[str]] = {}
    for link in sub.links:
        consumers.setdefault(link.via, []).append(link.target)
    domains: dict[str, list[Node]] = {}
    for node in sub.nodes:
        domains.setdefault(node.domain, []).append(node)
    lines = [f"{len(sub.nodes)} data products in {len(domains)} domains "
             f"({len(sub.links)} port reads between products)"]
    for domain in sorted(domains):
        lines += ["", f"domain {domain}"]
        for node in sorted(domains[domain], key=lambda n: n.id):
            info = node.info
            lines.append(f"  {node.id}  {node.detail}  {info.get('owner', '')}".rstrip())
            if info.get("description"):
                lines.append(f"    {info['description']}")
            if info.get("reads"):
                lines.append(f"    reads   {info['reads']}")
            for port in filter(None, (info.get("ports") or "").split(", ")):
                readers = consumers.get(port)
                lines.append(f"    serves  {port}" + (f" -> {', '.join(sorted(readers))}"
                                                       if readers else " (no consumers yet)"))
    return "\n".join(lines) + "\n"


# --- JSON ------------------------------------------------------------------------------------


def to_json(sub: Subgraph) -> str:
    return json.dumps(to_dict(sub), indent=2) + "\n"


def to_dict(sub: Subgraph) -> dict[str, Any]:
    raw, ports = ends(sub)
    doc: dict[str, Any] = {
        "level": sub.level,
        "focus": sub.focus,
        "upstream": sub.upstream,
        "downstream": sub.downstream,
        "depth": sub.depth,
        "row_level": sub.row_level,
        "direct_only": not sub.row_level,
        "nodes": [_node_dict(n) for n in sub.nodes],
        "links": [_link_dict(k) for k in sub.links],
    }
    if sub.level != "workspace":
        doc["raw_inputs"] = sorted(n.id for n in raw) if sub.upstream else []
        doc["ports_reached"] = (sorted(n.id for n in ports if not n.possibly)
                                if sub.downstream else [])
        doc["possibly_affected"] = sorted(n.id for n in sub.nodes if n.possibly)
    doc["notes"] = list(sub.notes)
    return doc


def _node_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "kind": node.kind, "product": node.product,
                           "domain": node.domain, "role": node.role, "distance": node.distance}
    if node.kind == "column":
        out.update(relation=node.relation, column=node.label, type=node.detail or None)
    elif node.kind == "rows":
        out.update(relation=node.relation, column="*", type=None)
    else:
        out["detail"] = node.detail
    if node.incomplete:
        out.update(incomplete=True, reason=node.incomplete)
    if node.possibly:
        out["possibly_affected"] = True
    out.update(node.info)
    return out


def _link_dict(link: Link) -> dict[str, Any]:
    out: dict[str, Any] = {"source": link.source, "target": link.target}
    if link.via:
        out["via"] = link.via
    if link.subtypes:
        out["transformations"] = [{"type": kind_of(s), "subtype": s} for s in link.subtypes]
        out["row_level"] = link.row_level
    return out


# --- Mermaid and DOT -------------------------------------------------------------------------


def _groups(sub: Subgraph) -> dict[str, list[Node]]:
    """Columns by relation, models and inputs by product, products by domain."""
    groups: dict[str, list[Node]] = {}
    for node in sub.nodes:
        key = (node.relation if node.kind in ("column", "rows") else
               node.domain if sub.level in ("workspace", "product") else node.product)
        groups.setdefault(key, []).append(node)
    return groups


def _node_text(node: Node) -> str:
    if node.kind == "column":
        return f"{node.label}: {node.detail}" if node.detail else node.label
    if node.kind == "rows":
        return "(rows)"
    if node.kind == "product":
        return f"{node.id} {node.detail}"
    return node.id


def _link_text(link: Link) -> str:
    if link.subtypes:
        return ", ".join(s.lower() for s in link.subtypes)
    return link.via if link.via and "." in link.via else ""


def _dashed(link: Link) -> bool:
    return bool(link.subtypes) and (link.row_level or not any(kind_of(s) == "DIRECT"
                                                              for s in link.subtypes))


def _ids(nodes: Sequence[Node]) -> dict[str, str]:
    return {n.id: f"n{i}" for i, n in enumerate(nodes)}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(sub: Subgraph) -> str:
    ids = _ids(sub.nodes)
    colors = domain_colors(sub.domains or [n.domain for n in sub.nodes])
    lines = ["flowchart LR"]
    for i, (group, members) in enumerate(sorted(_groups(sub).items())):
        lines.append(f'  subgraph g{i}["{_mermaid_text(group)}"]')
        for node in members:
            shape = ('(["', '"])') if node.kind == "input" or node.role in ("file", "table") \
                else ('["', '"]')
            lines.append(f"    {ids[node.id]}{shape[0]}{_mermaid_text(_node_text(node))}{shape[1]}")
        lines.append("  end")
    for link in sub.links:
        if link.source not in ids or link.target not in ids:
            continue
        arrow = "-.->" if _dashed(link) else "-->"
        text = _link_text(link)
        label = f'|"{_mermaid_text(text)}"|' if text else ""
        lines.append(f"  {ids[link.source]} {arrow}{label} {ids[link.target]}")
    used = {n.domain for n in sub.nodes}
    for domain, color in colors.items():
        if domain in used:
            lines.append(f"  classDef d{_slug(domain)} fill:{color},stroke:#333,color:#111")
    for node in sub.nodes:
        lines.append(f"  class {ids[node.id]} d{_slug(node.domain)}")
    if sub.focus in ids:
        lines.append(f"  style {ids[sub.focus or '']} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text) or "_"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(sub: Subgraph) -> str:
    colors = domain_colors(sub.domains or [n.domain for n in sub.nodes])
    lines = ["digraph lineage {", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for i, (group, members) in enumerate(sorted(_groups(sub).items())):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_dot_text(group)}; style=rounded; color=\"#999999\";")
        for node in members:
            attrs = [f"label={_dot_text(_node_text(node))}",
                     f"fillcolor={_dot_text(colors.get(node.domain, '#eeeeee'))}"]
            if node.kind == "input" or node.role in ("file", "table"):
                attrs.append("shape=cylinder")
            if node.id == sub.focus:
                attrs.append("penwidth=3")
            lines.append(f"    {_dot_text(node.id)} [{', '.join(attrs)}];")
        lines.append("  }")
    for link in sub.links:
        attrs = []
        text = _link_text(link)
        if text:
            attrs.append(f"label={_dot_text(text)}")
        if _dashed(link):
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot_text(link.source)} -> {_dot_text(link.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"text": to_text, "json": to_json, "mermaid": to_mermaid, "dot": to_dot}
