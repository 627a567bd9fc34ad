"""`dpsql docs`: a static site that works offline (no CDN, no server).

    index.html             the product graph coloured by domain, products listed by domain
    product-<name>.html    owner, version, description, inputs, ports with contracts and their
                           consumers, models with their columns
    lineage.html#<column>  the column's lineage graph, upstream and downstream, click through
    overlap.html           transformations written more than once (`dpsql overlap`)
    assets/                style.css and app.js (dpsql's own, shipped in dpsql/resources/docs),
                           data.js (this workspace's graphs as one JavaScript object)

Pages are plain HTML readable without JavaScript; the graphs are drawn by app.js as SVG.
"""

from __future__ import annotations

import json
import logging
import shutil
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from dpsql.core.project import Product
from dpsql.lineage.export import domain_colors
from dpsql.lineage.graph import LineageGraph
from dpsql.overlap.find import overlap_of_graph

log = logging.getLogger("dpsql")

ASSETS = ("style.css", "app.js")


def write_site(graph: LineageGraph, out: Path) -> Path:
    """Write the site into `out` (replacing what dpsql wrote there before); returns index.html."""
    out.mkdir(parents=True, exist_ok=True)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    source = resources.files("dpsql") / "resources" / "docs"
    for name in ASSETS:
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, assets / name)
    data = site_data(graph)
    (assets / "data.js").write_text(
        "window.DPSQL = " + json.dumps(data, separators=(",", ":")).replace("</", "<\\/") + ";\n",
        encoding="utf-8")
    for old in out.glob("product-*.html"):
        old.unlink()
    pages = {"index.html": index_page(graph), "lineage.html": lineage_page(graph),
             "overlap.html": overlap_page(graph)}
    for product in graph.compiled.project.products:
        pages[product_file(product.name)] = product_page(graph, product)
    for name, text in pages.items():
        (out / name).write_text(text, encoding="utf-8")
    log.info("docs: wrote %d pages into %s", len(pages), out)
    return out / "index.html"


def product_file(name: str) -> str:
    return f"product-{name}.html"


# --- data for app.js -------------------------------------------------------------------------


def site_data(graph: LineageGraph) -> dict[str, Any]:
    project = graph.compiled.project
    colors = domain_colors(p.spec.domain for p in project.products)
    products = [{"name": p.name, "domain": p.spec.domain, "version": str(p.spec.version),
                 "owner": p.spec.owner, "description": p.spec.description,
                 "ports": [o.name for o in p.spec.outputs]}
                for p in sorted(project.products, key=lambda p: (p.spec.domain, p.name))]
    links = [{"source": e.producer, "target": e.consumer, "port": e.port}
             for e in graph.product_edges]
    relations: dict[str, Any] = {}
    for key, owner in graph.owners.items():
        relations[owner.label] = {
            "product": owner.product, "domain": graph.domain(owner.product),
            "kind": "port" if owner.port else owner.kind, "model": owner.model,
            "columns": [[c.name, c.type] for c in graph.columns.get(key, ())],
        }
    edges = []
    for target, incoming in graph.up.items():
        target_name = graph.name(target)
        for edge in incoming:
            edges.append([graph.name(edge.source), target_name, ",".join(sorted(edge.subtypes)),
                          edge.model, 1 if edge.row_level else 0])
    return {"workspace": project.config.name, "domains": colors, "products": products,
            "productLinks": links, "relations": relations, "edges": edges}


# --- pages -----------------------------------------------------------------------------------


def _page(title: str, body: str, workspace: str, script: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(workspace)}</title>
<link rel="stylesheet" href="assets/style.css">
</head>
<body>
<header><a class="home" href="index.html">{escape(workspace)}</a>
<nav><a href="index.html">Products</a> <a href="lineage.html">Column lineage</a>
<a href="overlap.html">Overlap</a></nav></header>
<main>
{body}
</main>
<script src="assets/data.js"></script>
<script src="assets/app.js"></script>
{script}
</body>
</html>
"""


def _badge(domain: str, colors: dict[str, str]) -> str:
    color = colors.get(domain, "#eeeeee")
    return f'<span class="badge" style="background:{color}">{escape(domain)}</span>'


def index_page(graph: LineageGraph) -> str:
    project = graph.compiled.project
    colors = domain_colors(p.spec.domain for p in project.products)
    by_domain: dict[str, list[Product]] = {}
    for product in project.products:
        by_domain.setdefault(product.spec.domain, []).append(product)
    sections = []
    for domain in sorted(by_domain):
        rows = []
        for product in sorted(by_domain[domain], key=lambda p: p.name):
            spec = product.spec
            ports = ", ".join(f"<code>{escape(product.name)}.{escape(o.name)}</code>"
                              for o in spec.outputs)
            rows.append(
                f'<tr><td><a href="{product_file(product.name)}">{escape(product.name)}</a></td>'
                f"<td>{escape(str(spec.version))}</td><td>{escape(spec.owner)}</td>"
                f"<td>{escape(spec.description)}</td><td>{ports}</td></tr>")
        sections.append(
            f"<section><h3>{_badge(domain, colors)}</h3><table class=\"list\">"
            "<tr><th>product</th><th>version</th><th>owner</th><th>description</th>"
            f"<th>output ports</th></tr>{''.join(rows)}</table></section>")
    body = (f"<h1>Data products of {escape(project.config.name)}</h1>"
            f"<p>{len(project.products)} products, {len(graph.compiled.models)} models, "
            f"{len(by_domain)} domains. Click a product to open its page.</p>"
            '<div id="graph" class="graph" data-graph="products"></div>'
            '<div id="legend" class="legend"></div>'
            "<h2>Products by domain</h2>" + "".join(sections))
    return _page("Data products", body, project.config.name)


def product_page(graph: LineageGraph, product: Product) -> str:
    project = graph.compiled.project
    spec = product.spec
    colors = domain_colors(p.spec.domain for p in project.products)
    consumers: dict[str, list[str]] = {}
    for edge in graph.product_edges:
        if edge.producer == product.name:
            consumers.setdefault(edge.port, []).append(
                f'<a href="{product_file(edge.consumer)}">{escape(edge.consumer)}</a>'
                + (f" ({', '.join(escape(m) for m in edge.models)})" if edge.models else
                   " (declared, not read yet)"))
    parts = [f"<h1>{escape(product.name)} {_badge(spec.domain, colors)}</h1>",
             f'<p class="meta">version <b>{escape(str(spec.version))}</b> · owner '
             f'<a href="mailto:{escape(spec.owner)}">{escape(spec.owner)}</a></p>',
             f"<p>{escape(spec.description)}</p>",
             f'<div id="graph" class="graph small" data-graph="product" '
             f'data-product="{escape(product.name)}"></div>']
    parts.append("<h2>Inputs</h2>")
    if spec.inputs:
        rows = []
        for inp in spec.inputs:
            if inp.kind == "product":
                where = (f'port <a href="{product_file(inp.product or "")}">'
                         f"{escape(f'{inp.product}.{inp.port}')}</a>")
                if inp.version is not None:
                    where += f" (accepts {escape(str(inp.version))})"
            elif inp.kind == "file":
                where = f"file <code>{escape(inp.file.name if inp.file else '')}</code>"
            else:
                where = f"table <code>{escape(inp.table or '')}</code>"
            rows.append(f"<tr><td>{escape(inp.name)}</td><td>{where}</td>"
                        f"<td>{_column_links(graph, product.name, inp.name)}</td></tr>")
        parts.append('<table class="list"><tr><th>input</th><th>reads</th><th>columns</th></tr>'
                     + "".join(rows) + "</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Output ports</h2>")
    for port in spec.outputs:
        parts.append(_port_section(graph, product, port.name, consumers.get(port.name, [])))
    if not spec.outputs:
        parts.append("<p>None.</p>")
    parts.append("<h2>Models</h2>")
    rows = []
    for source in product.models:
        model = graph.compiled.models.get(source.id)
        if model is None:
            continue
        rows.append(f"<tr><td><code>{escape(source.name)}</code></td>"
                    f"<td>{escape(model.config.materialized)}</td>"
                    f"<td><code>{escape(str(model.relation))}</code></td>"
                    f"<td>{_column_links(graph, product.name, model.port or model.name)}</td>"
                    "</tr>")
    parts.append('<table class="list"><tr><th>model</th><th>materialized</th><th>relation</th>'
                 "<th>columns (click for lineage)</th></tr>" + "".join(rows) + "</table>")
    return _page(product.name, "\n".join(parts), project.config.name)


def _port_section(graph: LineageGraph, product: Product, port_name: str,
                  consumers: list[str]) -> str:
    port = product.spec.output(port_name)
    assert port is not None
    relation = f"{product.name}.{port.name}"
    head = (f'<section class="port" id="port-{escape(port.name)}"><h3><code>{escape(relation)}'
            f"</code></h3><p>{escape(port.description)}</p>"
            f"<p class=\"meta\">fed by model <code>{escape(port.model)}</code> · consumed by "
            + (", ".join(consumers) if consumers else "nobody yet") + "</p>")
    if port.columns is None:
        return head + "<p><em>No contract: the port's columns are not declared.</em></p></section>"
    rows = []
    for col in port.columns:
        tests = ", ".join(escape(_test_text(t)) for t in col.tests)
        target = f"{relation}.{col.name}"
        rows.append(f'<tr><td><a class="col" href="lineage.html#{escape(target)}">'
                    f"{escape(col.name)}</a></td><td><code>{escape(col.type or '')}</code>"
                    + "".join(f' <span class="label">{escape(label)}</span>'
                              for label in col.classifications) + "</td>"
                    f"<td>{escape(col.description)}</td><td>{tests}</td></tr>")
    return (head + '<table class="list"><tr><th>column</th><th>type</th><th>description</th>'
            "<th>tests</th></tr>" + "".join(rows) + "</table></section>")


def _test_text(test: Any) -> str:
    if isinstance(test, dict):
        return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                         for k, v in test.items())
    return str(test)


def _column_links(graph: LineageGraph, product: str, relation: str) -> str:
    key = graph.aliases.get(f"{product}.{relation}")
    if key is None:
        return ""
    label = graph.label(key)
    return " ".join(f'<a class="col" href="lineage.html#{escape(label)}.{escape(c.name)}">'
                    f"{escape(c.name)}</a>" for c in graph.columns.get(key, ()))


def lineage_page(graph: LineageGraph) -> str:
    body = ("<h1>Column lineage</h1>"
            '<form id="pick" class="pick"><input id="column" list="columns" size="50" '
            'placeholder="product.relation.column" aria-label="column">'
            '<datalist id="columns"></datalist> <button type="submit">Show</button> '
            '<label><input type="checkbox" id="rows"> also filters, joins, grouping, sorting'
            "</label></form>"
            '<div id="summary"></div>'
            '<div id="graph" class="graph" data-graph="column"></div>'
            '<div id="legend" class="legend"></div>'
            "<noscript>The lineage graph needs JavaScript; `dpsql lineage` prints the same in a "
            "terminal.</noscript>")
    return _page("Column lineage", body, graph.compiled.project.config.name)


def overlap_page(graph: LineageGraph) -> str:
    """The findings of `dpsql overlap`: each with its members, sources and suggestion."""
    findings = overlap_of_graph(graph)
    parts = ["<h1>Overlap</h1>",
             "<p>Transformations written more than once (whole models, CTEs and subqueries, "
             "column expressions), compared after normalising the SQL and resolving re-published "
             "ports to their sources. <code>dpsql overlap</code> prints the same.</p>"]
    if not findings:
        parts.append("<p>No transformation is written more than once.</p>")
    for i, finding in enumerate(findings, 1):
        rows = []
        for member in finding.members:
            column = f"<code>{escape(member.column)}</code>" if member.column else ""
            rows.append(f'<tr><td><a href="{product_file(member.product)}">'
                        f"{escape(member.product)}</a></td><td><code>{escape(member.model)}"
                        f"</code></td><td>{column}</td><td><code>{escape(member.location)}"
                        "</code></td></tr>")
        sources = ", ".join(f"<code>{escape(s)}</code>" for s in finding.sources)
        parts.append(
            f'<section class="finding" id="finding-{i}"><h3>{i}. {escape(finding.kind)}, '
            f"similarity {finding.similarity:.2f}</h3>"
            '<table class="list"><tr><th>product</th><th>model</th><th>column</th>'
            "<th>location</th></tr>" + "".join(rows) + "</table>"
            f"<p>sources: {sources or 'none'}</p><p>{escape(finding.suggestion)}</p></section>")
    return _page("Overlap", "\n".join(parts), graph.compiled.project.config.name)
