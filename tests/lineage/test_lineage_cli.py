"""`dpsql lineage` end to end, driven in-process with click's CliRunner.

A tiny three-product workspace written from a dict of files checks lineage across every
product in between; the example workspace (projects/shop) checks what a new user tries first.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from conftest import explain, write_files
from conftest import run_cli as invoke

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"
SCHEMA = Path(__file__).parent.parent / "fixtures" / "openlineage" / "run-event.schema.json"

MINI: dict[str, str] = {
    "dpsql.yml": "name: mini\n",
    "data/events.csv": "id,user_id,amount_cents,kind,ts\n1,10,250,sale,2024-01-01 10:00:00\n"
                       "2,11,100,test,2024-01-02 11:00:00\n",
    "data/users.csv": "user_id,email,country\n10,A@x.io,de\n11,b@y.io,fr\n",
    "ingest/product.yml": """
        name: ingest
        domain: source
        owner: ingest@example.com
        version: 1.0.0
        inputs:
          - {name: events_raw, file: ../data/events.csv}
          - {name: users_raw, file: ../data/users.csv}
        outputs:
          - {name: events, model: stg_events}
          - {name: users, model: stg_users}
        """,
    "ingest/models/stg_events.sql": """
        select id, user_id, amount_cents, lower(kind) as kind, ts::timestamp as ts
        from {{ input('events_raw') }}
        """,
    "ingest/models/stg_users.sql": """
        select user_id, lower(email) as email, upper(country) as country
        from {{ input('users_raw') }}
        """,
    "enriched/product.yml": """
        name: enriched
        domain: core
        version: 2.0.0
        inputs:
          - {name: events, product: ingest, port: events, version: ^1}
          - {name: users, product: ingest, port: users}
        outputs:
          - {name: events, model: enriched_events}
        """,
    "enriched/models/enriched_events.sql": """
        select e.id, e.user_id, e.amount_cents / 100.0 as amount, u.country, e.ts
        from ingest.events as e
        left join ingest.users as u on u.user_id = e.user_id
        where e.kind <> 'test'
        """,
    "reporting/product.yml": """
        name: reporting
        domain: bi
        inputs:
          - {name: events, product: enriched, port: events}
        outputs:
          - {name: daily, model: daily}
          - {name: by_country, model: by_country}
        """,
    "reporting/models/daily.sql": """
        select ts::date as day, sum(amount) as revenue, count(distinct user_id) as users
        from {{ input('events') }}
        group by all
        """,
    "reporting/models/country_totals.sql": """
        select country, sum(amount) as revenue from enriched.events group by country
        """,
    "reporting/models/by_country.sql": """
        select country, revenue, rank() over (order by revenue desc) as place
        from country_totals
        """,
}


def lineage_json(root: Path, *args: str) -> dict[str, Any]:
    result = invoke("lineage", "-p", str(root), "--format", "json", *args)
    assert result.exit_code == 0, explain(result)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def node_ids(doc: dict[str, Any], side: str = "up") -> set[str]:
    keep = (lambda d: d < 0) if side == "up" else (lambda d: d > 0)
    return {n["id"] for n in doc["nodes"] if keep(n["distance"])}


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("mini"), MINI)


# --- across products -------------------------------------------------------------------------


def test_upstream_crosses_every_product_to_the_raw_column(mini: Path) -> None:
    doc = lineage_json(mini, "reporting.daily.revenue", "--upstream", "--direct-only")
    assert doc["raw_inputs"] == ["ingest.events_raw.amount_cents"]
    assert node_ids(doc) == {"enriched.events.amount", "ingest.events.amount_cents",
                             "ingest.events_raw.amount_cents"}
    links = {(k["source"], k["target"]): [t["subtype"] for t in k["transformations"]]
             for k in doc["links"]}
    assert links == {
        ("enriched.events.amount", "reporting.daily.revenue"): ["AGGREGATION"],
        ("ingest.events.amount_cents", "enriched.events.amount"): ["TRANSFORMATION"],
        ("ingest.events_raw.amount_cents", "ingest.events.amount_cents"): ["IDENTITY"],
    }
    assert doc["ports_reached"] == []


def test_upstream_through_an_internal_model_and_a_join(mini: Path) -> None:
    doc = lineage_json(mini, "reporting.by_country.country", "--upstream", "--direct-only")
    assert doc["raw_inputs"] == ["ingest.users_raw.country"]
    assert "reporting.country_totals.country" in node_ids(doc)


def test_row_level_adds_filters_and_joins(mini: Path) -> None:
    plain = lineage_json(mini, "enriched.events.amount", "--upstream", "--direct-only")
    rows = lineage_json(mini, "enriched.events.amount", "--upstream")
    assert plain["raw_inputs"] == ["ingest.events_raw.amount_cents"]
    # amount is on the kept side of a left join: the join keys do not decide its rows, the
    # filter on kind and the rows of the events file do
    assert set(rows["raw_inputs"]) == {"ingest.events_raw.amount_cents", "ingest.events_raw.kind",
                                       "ingest.events_raw.*"}
    kinds = {t["subtype"] for k in rows["links"] if k["row_level"]
             for t in k["transformations"]}
    assert kinds == {"FILTER"}
    country = lineage_json(mini, "enriched.events.country", "--upstream")
    assert {"ingest.events_raw.user_id", "ingest.users_raw.user_id", "ingest.users_raw.country",
            "ingest.users_raw.*"} <= set(country["raw_inputs"])


def test_downstream_of_a_raw_column_names_every_port_column_it_reaches(mini: Path) -> None:
    doc = lineage_json(mini, "ingest.events_raw.amount_cents", "--downstream")
    assert doc["ports_reached"] == ["enriched.events.amount", "ingest.events.amount_cents",
                                    "reporting.by_country.place", "reporting.by_country.revenue",
                                    "reporting.daily.revenue"]
    assert "reporting.country_totals.revenue" in node_ids(doc, "down")  # internal, not a port
    assert not any(n["distance"] < 0 for n in doc["nodes"])


def test_depth_limits_the_steps(mini: Path) -> None:
    doc = lineage_json(mini, "reporting.daily.revenue", "--upstream", "--depth", "1",
                       "--direct-only")
    assert node_ids(doc) == {"enriched.events.amount"}


def test_warehouse_spelling_and_model_names_are_accepted(mini: Path) -> None:
    by_port = lineage_json(mini, "ingest.events.kind")
    by_model = lineage_json(mini, "ingest.stg_events.kind")
    by_warehouse = lineage_json(mini, "ingest.events.kind")
    assert by_port["focus"] == by_model["focus"] == by_warehouse["focus"] == "ingest.events.kind"


def test_model_level(mini: Path) -> None:
    doc = lineage_json(mini, "reporting.by_country")
    assert doc["level"] == "model"
    assert node_ids(doc) == {"reporting.country_totals", "enriched.enriched_events",
                             "ingest.stg_events", "ingest.stg_users", "ingest.events_raw",
                             "ingest.users_raw"}
    assert doc["raw_inputs"] == ["ingest.events_raw", "ingest.users_raw"]


def test_product_level(mini: Path) -> None:
    doc = lineage_json(mini, "enriched")
    up = {n["id"]: n["distance"] for n in doc["nodes"]}
    assert up == {"enriched": 0, "ingest": -1, "reporting": 1, "ingest.events_raw": -2,
                  "ingest.users_raw": -2}
    ports = {(k["source"], k["target"]): k.get("via") for k in doc["links"]}
    assert ports[("enriched", "reporting")] == "enriched.events"


def test_workspace_text_groups_products_by_domain(mini: Path) -> None:
    result = invoke("lineage", "-p", str(mini))
    assert result.exit_code == 0, explain(result)
    out = result.stdout
    assert out.index("domain bi") < out.index("domain core") < out.index("domain source")
    assert "serves  ingest.events -> enriched" in out
    assert "reads   enriched.events" in out


def test_text_tree(mini: Path) -> None:
    result = invoke("lineage", "-p", str(mini), "reporting.daily.revenue", "--upstream",
                    "--direct-only")
    assert result.exit_code == 0, explain(result)
    assert result.stdout.splitlines()[3:7] == [
        "reporting.daily.revenue",
        "└── enriched.events.amount  DOUBLE  [DIRECT/AGGREGATION in reporting.daily]",
        "    └── ingest.events.amount_cents  BIGINT  [DIRECT/TRANSFORMATION in "
        "enriched.enriched_events]",
        "        └── ingest.events_raw.amount_cents  BIGINT  [DIRECT/IDENTITY in "
        "ingest.stg_events]",
    ]
    assert "raw inputs: ingest.events_raw.amount_cents" in result.stdout


@pytest.mark.parametrize("target, message, hint", [
    ("ingset", "names no product", "did you mean `ingest`?"),
    ("ingest.stg_event", "has no model, port or input named `stg_event`",
     "did you mean `stg_events`?"),
    ("ingest.events.amount", "has no column `amount`", "did you mean `amount_cents`?"),
    ("nothing.at.all", "names no product", "products: enriched, ingest, reporting"),
])
def test_unknown_names_fail_cleanly(mini: Path, target: str, message: str, hint: str) -> None:
    result = invoke("lineage", "-p", str(mini), target)
    assert result.exit_code == 1
    assert "error[DP501]" in result.stderr and message in result.stderr
    assert hint in result.stderr
    assert "Traceback" not in result.output


def test_mermaid_and_dot(mini: Path) -> None:
    mermaid = invoke("lineage", "-p", str(mini), "reporting.daily.revenue", "--format", "mermaid",
                     "--direct-only")
    assert mermaid.exit_code == 0, explain(mermaid)
    lines = mermaid.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(1 for line in lines if "-->" in line) == 3
    assert any('subgraph' in line and '"reporting.daily"' in line for line in lines)
    dot = invoke("lineage", "-p", str(mini), "--format", "dot")
    assert dot.exit_code == 0, explain(dot)
    assert dot.stdout.startswith("digraph lineage {")
    assert '"ingest" -> "enriched"' in dot.stdout
    assert dot.stdout.count("subgraph cluster_") == 3


# --- OpenLineage -----------------------------------------------------------------------------


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _uris(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for k, v in value.items() for u in
                ([v] if k in ("producer", "schemaURL", "_producer", "_schemaURL") else _uris(v))]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return []


def openlineage_events(root: Path, *args: str) -> list[dict[str, Any]]:
    result = invoke("lineage", "-p", str(root), "--format", "openlineage", *args)
    assert result.exit_code == 0, explain(result)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_openlineage_events_validate(mini: Path) -> None:
    events = openlineage_events(mini)
    assert [e["job"]["name"] for e in events] == [
        "ingest.stg_events", "ingest.stg_users", "enriched.enriched_events",
        "reporting.country_totals", "reporting.by_country", "reporting.daily"]
    validator = _validator()
    for event in events:
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
        uuid.UUID(event["run"]["runId"])
        assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
        for uri in _uris(event):
            parsed = urlparse(uri)
            assert parsed.scheme in ("http", "https") and parsed.netloc, uri


def test_openlineage_carries_column_lineage_with_warehouse_names(mini: Path) -> None:
    events = {e["job"]["name"]: e for e in openlineage_events(mini)}
    event = events["enriched.enriched_events"]
    assert [d["name"] for d in event["inputs"]] == ["ingest.events", "ingest.users"]
    output = event["outputs"][0]
    assert output["name"] == "enriched.events"
    assert output["namespace"] == "duckdb://mini"
    facet = output["facets"]["columnLineage"]
    assert facet["fields"]["amount"]["inputFields"] == [{
        "namespace": "duckdb://mini", "name": "ingest.events", "field": "amount_cents",
        "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": False}]}]
    dataset = {(f["name"], f["field"]): [t["subtype"] for t in f["transformations"]]
               for f in facet["dataset"]}
    assert dataset == {("ingest.events", "kind"): ["FILTER"], ("ingest.events", "user_id"): ["JOIN"],
                       ("ingest.users", "user_id"): ["JOIN"]}
    raw = events["ingest.stg_events"]["inputs"][0]
    assert raw["name"] == "ingest_internal.events_raw"
    assert [f["name"] for f in raw["facets"]["schema"]["fields"]][:3] == ["id", "user_id",
                                                                          "amount_cents"]


def test_openlineage_for_one_column_lists_the_models_on_its_path(mini: Path) -> None:
    events = openlineage_events(mini, "reporting.daily.revenue", "--upstream")
    assert [e["job"]["name"] for e in events] == ["ingest.stg_events", "enriched.enriched_events",
                                                  "reporting.daily"]


# --- the example workspace -------------------------------------------------------------------


@pytest.mark.parametrize("column, raw", [
    ("customer_360.customer_360.lifetime_value", ["orders.raw_orders.amount_cents"]),
    ("revenue.monthly_revenue.net_revenue", ["payments.raw_payments.amount_cents"]),
    ("revenue.monthly_revenue.month", ["orders.raw_orders.order_date"]),
    ("customer_360.customer_360.segment", ["orders.raw_orders.amount_cents"]),
    ("customer_360.customer_360.region", ["customers.raw_customers.country"]),
    ("customer_360.customer_360.full_name", ["customers.raw_customers.first_name",
                                             "customers.raw_customers.last_name"]),
])
def test_shop_upstream_names_the_raw_columns(column: str, raw: list[str]) -> None:
    assert lineage_json(SHOP, column, "--upstream", "--direct-only")["raw_inputs"] == raw


def test_shop_downstream_of_a_raw_column() -> None:
    doc = lineage_json(SHOP, "payments.raw_payments.amount_cents", "--downstream")
    assert doc["ports_reached"] == [
        "payments.order_payments.gross_paid", "payments.order_payments.net_paid",
        "payments.order_payments.refunded", "payments.payments.amount",
        "payments.payments.is_refund", "revenue.monthly_revenue.cumulative_net_revenue",
        "revenue.monthly_revenue.gross_revenue", "revenue.monthly_revenue.net_revenue",
        "revenue.monthly_revenue.refunds"]


def test_shop_lineage_writes_nothing() -> None:
    before = sorted(p.name for p in SHOP.iterdir())
    result = invoke("lineage", "-p", str(SHOP))
    assert result.exit_code == 0, explain(result)
    assert "domain marketing" in result.stdout
    assert sorted(p.name for p in SHOP.iterdir()) == before


def test_shop_openlineage_validates() -> None:
    validator = _validator()
    events = openlineage_events(SHOP)
    assert len(events) == len(list(SHOP.glob("*/*/models/*.sql")))  # one job per model
    for event in events:
        assert not list(validator.iter_errors(event))
