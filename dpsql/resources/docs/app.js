/* dpsql docs: draws the product graph and column lineage as SVG, from window.DPSQL (data.js).
   No libraries and no network: a small layered layout (longest-path layers, barycentre
   ordering), nodes as links, edges as curves. */
(function () {
  "use strict";

  var D = window.DPSQL;
  var SVG = "http://www.w3.org/2000/svg";
  var W = 200, H = 46, GAP_X = 70, GAP_Y = 16, PAD = 16;

  function make(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function html(name, text, parent, cls) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function mean(values) {
    var sum = 0;
    values.forEach(function (v) { sum += v; });
    return sum / values.length;
  }

  /* Layers by longest path from the sources; within a layer, order by the mean position of
     neighbours, sweeping down and up a few times to uncross edges. */
  function layout(nodes, edges) {
    var at = {};
    nodes.forEach(function (n, i) { at[n.id] = i; });
    var preds = nodes.map(function () { return []; });
    var succs = nodes.map(function () { return []; });
    var indeg = nodes.map(function () { return 0; });
    edges.forEach(function (e) {
      var a = at[e.source], b = at[e.target];
      if (a === undefined || b === undefined || a === b) { return; }
      succs[a].push(b); preds[b].push(a); indeg[b] += 1;
    });
    var layer = nodes.map(function () { return 0; });
    var queue = [];
    indeg.forEach(function (d, i) { if (d === 0) { queue.push(i); } });
    for (var q = 0; q < queue.length; q++) {
      var i = queue[q];
      succs[i].forEach(function (j) {
        layer[j] = Math.max(layer[j], layer[i] + 1);
        indeg[j] -= 1;
        if (indeg[j] === 0) { queue.push(j); }
      });
    }
    /* pull sources next to their first consumer, so raw inputs sit beside what reads them */
    for (var r = queue.length - 1; r >= 0; r--) {
      var s = queue[r];
      if (preds[s].length === 0 && succs[s].length) {
        var nearest = Math.min.apply(null, succs[s].map(function (j) { return layer[j]; }));
        layer[s] = Math.max(layer[s], nearest - 1);
      }
    }
    var layers = [];
    layer.forEach(function (l, i) { (layers[l] = layers[l] || []).push(i); });
    layers = layers.filter(function (l) { return l && l.length; });
    var pos = {};
    layers.forEach(function (l) { l.forEach(function (n, k) { pos[n] = k; }); });
    for (var sweep = 0; sweep < 8; sweep++) {
      var down = sweep % 2 === 0;
      var order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
      order.forEach(function (l) {
        var key = {};
        l.forEach(function (n) {
          var near = (down ? preds[n] : succs[n]).map(function (m) { return pos[m]; });
          key[n] = near.length ? mean(near) : pos[n];
        });
        l.sort(function (a, b) { return key[a] - key[b] || a - b; });
        l.forEach(function (n, k) { pos[n] = k; });
      });
    }
    var rows = Math.max.apply(null, layers.map(function (l) { return l.length; }).concat([1]));
    var xy = [];
    layers.forEach(function (l, col) {
      var offset = (rows - l.length) * (H + GAP_Y) / 2;
      l.forEach(function (n, k) {
        xy[n] = { x: PAD + col * (W + GAP_X), y: PAD + offset + k * (H + GAP_Y) };
      });
    });
    return {
      xy: xy,
      width: PAD * 2 + Math.max(layers.length, 1) * (W + GAP_X) - GAP_X,
      height: PAD * 2 + rows * (H + GAP_Y) - GAP_Y
    };
  }

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }

  /* nodes: {id, title, sub, color, href, focus}; edges: {source, target, dashed, title} */
  function draw(container, nodes, edges) {
    container.textContent = "";
    if (!nodes.length) {
      html("p", "Nothing to draw.", container, "empty");
      return null;
    }
    var box = layout(nodes, edges);
    var svg = make("svg", {
      width: box.width, height: box.height, viewBox: "0 0 " + box.width + " " + box.height,
      role: "img", "class": "dag"
    }, container);
    var room = container.clientWidth - 2;
    if (room > 0 && box.width > room && room / box.width >= 0.6) {  /* shrink a little to fit */
      svg.setAttribute("width", room);
      svg.setAttribute("height", Math.round(box.height * room / box.width));
    }
    var defs = make("defs", {}, svg);
    var marker = make("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7",
      markerHeight: "7", orient: "auto-start-reverse"
    }, defs);
    make("path", { d: "M 0 0 L 10 5 L 0 10 z", "class": "arrowhead" }, marker);
    var at = {};
    nodes.forEach(function (n, i) { at[n.id] = i; });
    var wires = make("g", { "class": "edges" }, svg);
    edges.forEach(function (e) {
      var a = box.xy[at[e.source]], b = box.xy[at[e.target]];
      if (!a || !b) { return; }
      var x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      var bend = Math.max(30, (x2 - x1) / 2);
      var path = make("path", {
        d: "M " + x1 + " " + y1 + " C " + (x1 + bend) + " " + y1 + ", " + (x2 - bend) + " " +
          y2 + ", " + x2 + " " + y2,
        "class": "edge" + (e.dashed ? " dashed" : ""), "marker-end": "url(#arrow)"
      }, wires);
      if (e.title) { make("title", {}, path).textContent = e.title; }
    });
    var boxes = make("g", { "class": "nodes" }, svg);
    nodes.forEach(function (n, i) {
      var p = box.xy[i];
      var link = make("a", { href: n.href, "class": "node" + (n.focus ? " focus" : "") }, boxes);
      link.setAttribute("data-id", n.id);
      make("title", {}, link).textContent = n.id + (n.tip ? "\n" + n.tip : "");
      make("rect", { x: p.x, y: p.y, width: W, height: H, rx: 7, ry: 7, fill: n.color }, link);
      make("text", { x: p.x + 10, y: p.y + 19, "class": "title" }, link).textContent =
        clip(n.title, 27);
      make("text", { x: p.x + 10, y: p.y + 36, "class": "sub" }, link).textContent =
        clip(n.sub || "", 32);
    });
    return svg;
  }

  function legend(container, domains) {
    if (!container) { return; }
    container.textContent = "";
    domains.forEach(function (d) {
      var item = html("span", null, container, "item");
      var chip = html("span", null, item, "chip");
      chip.style.background = D.domains[d] || "#eee";
      html("span", d, item);
    });
  }

  function productPage(name) { return "product-" + name + ".html"; }

  /* --- the product graph ----------------------------------------------------------------- */

  function productGraph(container, only) {
    var byName = {};
    D.products.forEach(function (p) { byName[p.name] = p; });
    var wanted = null;
    if (only) {
      wanted = {};
      wanted[only] = true;
      [["source", "target"], ["target", "source"]].forEach(function (dir) {
        var frontier = [only];
        while (frontier.length) {
          var next = [];
          D.productLinks.forEach(function (l) {
            if (frontier.indexOf(l[dir[1]]) >= 0 && !wanted[l[dir[0]]]) {
              wanted[l[dir[0]]] = true;
              next.push(l[dir[0]]);
            }
          });
          frontier = next;
        }
      });
    }
    var nodes = D.products.filter(function (p) { return !wanted || wanted[p.name]; })
      .map(function (p) {
        return {
          id: p.name, title: p.name, sub: p.domain + " \u00b7 v" + p.version,
          color: D.domains[p.domain], href: productPage(p.name), focus: p.name === only,
          tip: p.description
        };
      });
    var merged = {};
    D.productLinks.forEach(function (l) {
      if (wanted && !(wanted[l.source] && wanted[l.target])) { return; }
      var key = l.source + "\u0000" + l.target;
      merged[key] = merged[key] || { source: l.source, target: l.target, ports: [] };
      merged[key].ports.push(l.source + "." + l.port);
    });
    var edges = Object.keys(merged).map(function (k) {
      return { source: merged[k].source, target: merged[k].target,
               title: "reads " + merged[k].ports.join(", ") };
    });
    draw(container, nodes, edges);
    var seen = {};
    nodes.forEach(function (n) { seen[byName[n.id].domain] = true; });
    legend(document.getElementById("legend"), Object.keys(seen).sort());
  }

  /* --- column lineage -------------------------------------------------------------------- */

  var index = null;

  function buildIndex() {
    if (index) { return index; }
    index = { up: {}, down: {}, columns: [] };
    D.edges.forEach(function (e) {
      var edge = { source: e[0], target: e[1], subtypes: e[2], model: e[3], rows: e[4] === 1 };
      (index.up[e[1]] = index.up[e[1]] || []).push(edge);
      (index.down[e[0]] = index.down[e[0]] || []).push(edge);
    });
    Object.keys(D.relations).sort().forEach(function (r) {
      D.relations[r].columns.forEach(function (c) { index.columns.push(r + "." + c[0]); });
    });
    return index;
  }

  function split(id) {
    var cut = id.lastIndexOf(".");
    return { relation: id.slice(0, cut), column: id.slice(cut + 1) };
  }

  function columnType(id) {
    var parts = split(id);
    var rel = D.relations[parts.relation];
    if (!rel) { return ""; }
    var found = rel.columns.filter(function (c) { return c[0] === parts.column; })[0];
    return found ? found[1] : "";
  }

  function isDirect(subtypes) {
    return /IDENTITY|TRANSFORMATION|AGGREGATION/.test(subtypes);
  }

  function walk(start, byNode, end, rows) {
    var seen = {};
    seen[start] = 0;
    var used = [];
    var frontier = [start];
    var depth = 0;
    while (frontier.length) {
      depth += 1;
      var next = [];
      frontier.forEach(function (id) {
        (byNode[id] || []).forEach(function (e) {
          if (e.rows && !rows) { return; }
          used.push(e);
          var other = e[end];
          if (seen[other] === undefined) { seen[other] = depth; next.push(other); }
        });
      });
      frontier = next;
    }
    return { seen: seen, used: used };
  }

  function columnLink(id, parent) {
    var a = html("a", id, parent);
    a.href = "#" + id;
    return a;
  }

  function columnView(container) {
    var ix = buildIndex();
    var list = document.getElementById("columns");
    if (list && !list.childNodes.length) {
      ix.columns.forEach(function (c) { html("option", null, list).value = c; });
    }
    var id = decodeURIComponent(location.hash.replace(/^#/, ""));
    var rows = document.getElementById("rows").checked;
    var summary = document.getElementById("summary");
    summary.textContent = "";
    document.getElementById("column").value = id;
    var rel = D.relations[split(id).relation];
    var known = rel && rel.columns.some(function (c) { return c[0] === split(id).column; });
    if (!id || !known) {
      html("p", id ? "No column named " + id + "." : "Pick a column above, or one of the output " +
        "ports' columns below.", summary);
      var ul = html("ul", null, summary, "columns");
      ix.columns.filter(function (c) { return D.relations[split(c).relation].kind === "port"; })
        .forEach(function (c) { columnLink(c, html("li", null, ul)); });
      container.textContent = "";
      return;
    }
    var up = walk(id, ix.up, "source", rows);
    var down = walk(id, ix.down, "target", rows);
    var ids = {};
    ids[id] = true;
    Object.keys(up.seen).forEach(function (k) { ids[k] = true; });
    Object.keys(down.seen).forEach(function (k) { ids[k] = true; });
    var nodes = Object.keys(ids).map(function (k) {
      var parts = split(k);
      var r = D.relations[parts.relation] || {};
      return {
        id: k, title: parts.column + "  " + columnType(k).toLowerCase(), sub: parts.relation,
        color: D.domains[r.domain] || "#eee", href: "#" + k, focus: k === id,
        tip: (r.kind || "") + " of " + (r.product || "")
      };
    });
    var pairs = {};
    up.used.concat(down.used).forEach(function (e) {
      var key = e.source + "\u0000" + e.target;
      var p = pairs[key] = pairs[key] || { source: e.source, target: e.target, kinds: {},
                                            models: {}, rows: true };
      e.subtypes.split(",").forEach(function (s) { p.kinds[s] = true; });
      p.models[e.model] = true;
      p.rows = p.rows && e.rows;
    });
    var edges = Object.keys(pairs).map(function (k) {
      var p = pairs[k];
      var kinds = Object.keys(p.kinds).join(", ");
      return { source: p.source, target: p.target, dashed: p.rows || !isDirect(kinds),
               title: kinds.toLowerCase() + " in " + Object.keys(p.models).join(", ") };
    });
    var head = html("p", null, summary, "headline");
    html("b", id, head);
    html("span", "  " + columnType(id) + " \u00b7 " + rel.kind + " of ", head);
    var prod = html("a", rel.product, head);
    prod.href = productPage(rel.product);
    var raws = Object.keys(up.seen).filter(function (k) {
      var r = D.relations[split(k).relation];
      return k !== id && r && (r.kind === "file" || r.kind === "table");
    });
    var ports = Object.keys(down.seen).filter(function (k) {
      var r = D.relations[split(k).relation];
      return k !== id && r && r.kind === "port";
    });
    [["Raw inputs upstream: ", raws], ["Ports downstream: ", ports]].forEach(function (pair) {
      var p = html("p", pair[0], summary, "ends");
      if (!pair[1].length) { html("span", "none", p); }
      pair[1].sort().forEach(function (k, i) {
        if (i) { html("span", ", ", p); }
        columnLink(k, p);
      });
    });
    var inputs = {};
    (ix.up[id] || []).forEach(function (e) {
      if (e.rows && !rows) { return; }
      var how = e.subtypes.toLowerCase().replace(/,/g, ", ") + (e.rows ? " (rows)" : "");
      inputs[e.source] = inputs[e.source] || { how: [], model: e.model };
      inputs[e.source].how.push(how);
    });
    var sources = Object.keys(inputs).sort();
    if (sources.length) {
      var table = html("table", null, summary, "list");
      var tr = html("tr", null, table);
      ["computed from", "how", "in model"].forEach(function (t) { html("th", t, tr); });
      sources.forEach(function (source) {
        var row = html("tr", null, table);
        columnLink(source, html("td", null, row));
        html("td", inputs[source].how.join("; "), row);
        html("td", inputs[source].model, row);
      });
    }
    draw(container, nodes, edges);
    var seen = {};
    nodes.forEach(function (n) {
      var r = D.relations[split(n.id).relation];
      if (r) { seen[r.domain] = true; }
    });
    legend(document.getElementById("legend"), Object.keys(seen).sort());
  }

  function start() {
    var container = document.getElementById("graph");
    if (!container || !D) { return; }
    var kind = container.getAttribute("data-graph");
    if (kind === "products") { productGraph(container, null); }
    if (kind === "product") { productGraph(container, container.getAttribute("data-product")); }
    if (kind === "column") {
      var render = function () { columnView(container); };
      window.addEventListener("hashchange", render);
      document.getElementById("rows").addEventListener("change", render);
      document.getElementById("pick").addEventListener("submit", function (ev) {
        ev.preventDefault();
        location.hash = document.getElementById("column").value.trim();
      });
      render();
    }
    document.documentElement.setAttribute("data-drawn", "yes");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
