"""`dpsql docs` on the example workspace: the files, their links, and the site in a real
headless Chromium (skipped, with the reason, when no Chromium is installed)."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp import Chromium, find_chromium
from click.testing import CliRunner

from dpsql.cli.commands import main

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"
DOMAIN_COLORS = {"customer": (0x8E, 0xCA, 0xE6), "finance": (0xFF, 0xB7, 0x03),
                 "marketing": (0x95, 0xD5, 0xB2), "sales": (0xF4, 0xA3, 0xA8)}
BACKGROUND = (0xFB, 0xFC, 0xFD)  # .graph in style.css


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    result = CliRunner().invoke(main, ["docs", "-p", str(SHOP), "--out", str(out)])
    text = result.output
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(*result.exc_info))
    assert result.exit_code == 0, text
    return out


def data(site: Path) -> dict:
    text = (site / "assets" / "data.js").read_text(encoding="utf-8")
    prefix = "window.DPSQL = "
    assert text.startswith(prefix)
    loaded: dict = json.loads(text[len(prefix):].rstrip().rstrip(";"))
    return loaded


# --- files -----------------------------------------------------------------------------------


def test_pages_are_written(site: Path) -> None:
    names = sorted(p.name for p in site.iterdir())
    assert names == ["assets", "index.html", "lineage.html", "overlap.html",
                     "product-customer_360.html",
                     "product-customers.html", "product-orders.html", "product-payments.html",
                     "product-revenue.html"]
    assert sorted(p.name for p in (site / "assets").iterdir()) == ["app.js", "data.js",
                                                                   "style.css"]


def test_the_site_needs_no_network(site: Path) -> None:
    for path in site.rglob("*"):
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
            assert "@import" not in text and "url(http" not in text, path


def test_every_link_resolves(site: Path) -> None:
    doc = data(site)
    columns = {f"{rel}.{c[0]}" for rel, r in doc["relations"].items() for c in r["columns"]}
    checked = 0
    for page in site.glob("*.html"):
        for href in re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8")):
            if href.startswith("mailto:"):
                continue
            target, _, anchor = href.partition("#")
            assert (site / target).is_file(), f"{page.name}: {href}"
            if target == "lineage.html" and anchor:
                assert anchor in columns, f"{page.name}: {href}"
            checked += 1
    assert checked > 100


def test_product_page_shows_contracts_and_consumers(site: Path) -> None:
    page = (site / "product-orders.html").read_text(encoding="utf-8")
    for text in ("sales-analytics@example.com", "1.2.0", "Orders placed in the web shop",
                 "<code>orders.orders</code>", "decimal(18,2)",
                 "accepted_values: placed, shipped, completed, returned, cancelled",
                 'href="product-customer_360.html"', 'href="product-revenue.html"',
                 'href="lineage.html#orders.orders.amount"',
                 'href="lineage.html#orders.raw_orders.amount_cents"'):
        assert text in page, text


def test_data_holds_the_column_graph(site: Path) -> None:
    doc = data(site)
    assert doc["domains"].keys() == DOMAIN_COLORS.keys()
    edges = {(e[0], e[1]): e[2] for e in doc["edges"]}
    assert edges[("orders.orders.amount", "customer_360.customer_360.lifetime_value")] == \
        "AGGREGATION"
    assert doc["relations"]["orders.raw_orders"]["kind"] == "file"


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    with Chromium(binary, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def _near(pixel: tuple[int, int, int], color: tuple[int, int, int], tolerance: int) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, color, strict=True))


def test_product_graph_is_drawn(browser: Chromium, site: Path) -> None:
    browser.open((site / "index.html").as_uri())
    assert browser.evaluate("document.querySelectorAll('#graph svg a.node').length") == 5
    assert browser.evaluate("document.querySelectorAll('#graph svg path.edge').length") == 4
    png = browser.screenshot("#graph svg")
    assert png.width > 300 and png.height > 100
    pixels = png.pixels()
    drawn = sum(1 for p in pixels if not _near(p, BACKGROUND, 12))
    assert drawn / len(pixels) > 0.15, f"only {drawn} of {len(pixels)} pixels drawn"
    for domain, color in DOMAIN_COLORS.items():  # every domain's colour fills its products
        assert sum(1 for p in pixels if _near(p, color, 6)) > 2000, domain


def test_click_through_from_product_to_column_lineage(browser: Chromium, site: Path) -> None:
    browser.open((site / "index.html").as_uri())
    browser.click('#graph svg a.node[data-id="orders"]')
    browser.wait_for("location.href.endsWith('/product-orders.html') && "
                     "document.documentElement.getAttribute('data-drawn') === 'yes'")
    assert browser.evaluate("document.querySelector('h1').textContent").startswith("orders")
    focus = browser.evaluate("document.querySelector('#graph svg a.node.focus').dataset.id")
    assert focus == "orders"
    browser.click('#port-orders a.col[href="lineage.html#orders.orders.amount"]')
    browser.wait_for("location.hash === '#orders.orders.amount' && "
                     "document.querySelectorAll('#graph svg a.node').length > 0")
    nodes = set(browser.evaluate(
        "[...document.querySelectorAll('#graph svg a.node')].map(a => a.dataset.id)"))
    assert nodes == {"orders.raw_orders.amount_cents", "orders.stg_orders.amount",
                     "orders.orders.amount", "customer_360.customer_360.lifetime_value",
                     "customer_360.customer_360.segment", "customer_360.customer_360.value_rank",
                     "revenue.customer_orders.lifetime_value"}
    summary = browser.evaluate("document.querySelector('#summary').textContent")
    assert "Raw inputs upstream: orders.raw_orders.amount_cents" in summary
    # click a node of the graph: it becomes the column shown
    browser.click('#graph svg a.node[data-id="orders.raw_orders.amount_cents"]')
    browser.wait_for("location.hash === '#orders.raw_orders.amount_cents'")
    browser.wait_for("document.querySelector('#graph svg a.node.focus').dataset.id === "
                     "'orders.raw_orders.amount_cents'")
    png = browser.screenshot("#graph svg")
    assert sum(1 for p in png.pixels() if _near(p, DOMAIN_COLORS["marketing"], 6)) > 1000


def test_row_level_checkbox_adds_filter_columns(browser: Chromium, site: Path) -> None:
    browser.open((site / "lineage.html").as_uri() + "#revenue.monthly_revenue.order_count")
    assert browser.evaluate("document.querySelectorAll('#graph svg a.node').length") == 1
    browser.click("#rows")
    browser.wait_for("document.querySelectorAll('#graph svg a.node').length > 1")
    nodes = set(browser.evaluate(
        "[...document.querySelectorAll('#graph svg a.node')].map(a => a.dataset.id)"))
    assert "orders.raw_orders.status" in nodes  # the order_revenue filter on status
    assert browser.evaluate("document.querySelectorAll('#graph svg path.edge.dashed').length") > 0
