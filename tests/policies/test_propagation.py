"""How `pii` flows from `crm.raw_customers.email` through lineage: each rule, and the exact port
column and path in the message."""

from __future__ import annotations

from pathlib import Path

import pytest
from mesh import check, codes, mesh

ID = "{name: id, type: bigint}"
PATH = "crm.raw_customers.email -> crm.customers.email -> marketing.contacts.contact"


def _only(tmp_path: Path, sql: str, column: str, extra: tuple[str, ...] = ()
          ) -> list[dict[str, object]]:
    root = mesh(tmp_path, sql, [*extra, column])
    return check(root)[1]


@pytest.mark.parametrize("expr", [
    "email",                                   # identity
    "lower(email)",                            # transformation
    "email || '@' || country",                 # transformation of two columns
    "case when country = 'fr' then email end",  # the value branch of a case
])
def test_identity_and_transformations_carry(tmp_path: Path, expr: str) -> None:
    found = _only(tmp_path, f"select {expr} as contact from {{{{ input('customers') }}}}",
                  "{name: contact, type: varchar}")
    assert codes(found) == ["DP808"]
    message = str(found[0]["message"])
    assert "port column `marketing.contacts.contact` carries `pii`" in message
    assert message.endswith(PATH)
    assert found[0]["path"].endswith("marketing/product.yml")  # type: ignore[union-attr]
    assert found[0]["line"] == 15  # the line of the column in the contract


@pytest.mark.parametrize("agg", ["min(email)", "max(email)", "any_value(email)",
                                 "first(email)", "list(email)", "string_agg(email, ',')",
                                 "arg_max(email, spend)", "mode(email)"])
def test_value_keeping_aggregates_carry(tmp_path: Path, agg: str) -> None:
    kind = "varchar[]" if agg.startswith("list") else "varchar"
    found = _only(tmp_path, f"select country, {agg} as contact from {{{{ input('customers') }}}} "
                  "group by country", f"{{name: contact, type: '{kind}'}}",
                  ("{name: country, type: varchar}",))
    assert codes(found) == ["DP808"], found
    assert str(found[0]["message"]).endswith(PATH)


@pytest.mark.parametrize("agg", ["count(email)", "count(distinct email)", "approx_count_distinct(email)",
                                 "sum(length(email))", "avg(length(email))"])
def test_counts_and_sums_do_not_carry(tmp_path: Path, agg: str) -> None:
    found = _only(tmp_path, f"select country, {agg} as contact from {{{{ input('customers') }}}} "
                  "group by country", "{name: contact, type: double}",
                  ("{name: country, type: varchar}",))
    assert [d for d in found if d["code"] == "DP808"] == []


@pytest.mark.parametrize("expr", ["sha256(email)", "md5(lower(email))", "hash(email)::varchar"])
def test_masked_by_stops_it(tmp_path: Path, expr: str) -> None:
    found = _only(tmp_path, f"select {expr} as contact from {{{{ input('customers') }}}}",
                  "{name: contact, type: varchar}")
    assert [d for d in found if d["code"] == "DP808"] == []


def test_masking_inside_a_cte_stops_it_and_a_sibling_column_still_carries(tmp_path: Path) -> None:
    sql = """
        with m as (select id, sha256(email) as h, email from {{ input('customers') }})
        select id, h as contact, email as raw from m
    """
    root = mesh(tmp_path, sql, [ID, "{name: contact, type: varchar}",
                                "{name: raw, type: varchar}"])
    found = check(root)[1]
    assert codes(found) == ["DP808"]
    assert "`marketing.contacts.raw`" in str(found[0]["message"])


@pytest.mark.parametrize("sql", [
    "select id as contact from {{ input('customers') }} where email like '%@x.com'",
    "select c.id as contact from {{ input('customers') }} c join {{ input('customers') }} d "
    "on c.email = d.email",
    "select count(*) as contact from {{ input('customers') }} group by email",
])
def test_row_level_reads_do_not_carry(tmp_path: Path, sql: str) -> None:
    found = _only(tmp_path, sql, "{name: contact, type: bigint}")
    assert [d for d in found if d["code"] == "DP808"] == []


def test_declared_label_passes_and_flows_on(tmp_path: Path) -> None:
    root = mesh(tmp_path, "select id, email as contact from {{ input('customers') }}",
                [ID, "{name: contact, type: varchar, classification: pii}"])
    status, found = check(root)
    assert status == 0 and codes(found) == []


def test_declared_label_nothing_carries_is_a_warning(tmp_path: Path) -> None:
    root = mesh(tmp_path, "select id, sha256(email) as contact from {{ input('customers') }}",
                [ID, "{name: contact, type: varchar, classification: pii}"])
    status, found = check(root)
    assert status == 0 and codes(found) == ["DP809"]
    assert "`marketing.contacts.contact` declares `classification: pii`" in str(
        found[0]["message"])


def test_internal_model_and_a_third_product_show_the_whole_path(tmp_path: Path) -> None:
    root = mesh(tmp_path, "select id, email as contact from {{ ref('stg') }}",
                [ID, "{name: contact, type: varchar, classification: pii}"])
    (root / "marketing/models/stg.sql").write_text(
        "select id, upper(email) as email from {{ input('customers') }}\n")
    (root / "ads/models").mkdir(parents=True)
    (root / "ads/product.yml").write_text(
        "name: ads\ndomain: growth\nowner: a\ndescription: b\ninputs:\n"
        "  - {name: contacts, product: marketing, port: contacts}\n"
        "outputs:\n  - name: audience\n    model: audience\n    columns:\n"
        "      - {name: who, type: varchar}\n")
    (root / "ads/models/audience.sql").write_text(
        "select max(contact) as who from {{ input('contacts') }}\n")
    found = check(root)[1]
    assert codes(found) == ["DP808"]
    assert str(found[0]["message"]).endswith(
        "crm.raw_customers.email -> crm.customers.email -> marketing.stg.email -> "
        "marketing.contacts.contact -> ads.audience.who")


def test_a_consumer_can_label_the_columns_it_reads(tmp_path: Path) -> None:
    from mesh import CRM_YML, MARKETING_YML
    crm = CRM_YML.replace(", classification: pii}", "}")
    crm = crm.replace("      - {name: email, classification: pii}\n", "      - {name: email}\n")
    marketing = MARKETING_YML.replace(
        "    port: customers\n",
        "    port: customers\n    columns:\n      - {name: country, classification: pii}\n")
    root = mesh(tmp_path, "select country as contact from {{ input('customers') }}",
                ["{name: contact, type: varchar}"], crm_yml=crm, marketing_yml=marketing)
    found = check(root)[1]
    assert codes(found) == ["DP808"]
    assert str(found[0]["message"]).endswith("crm.customers.country -> marketing.contacts.contact")


def test_union_branches_and_subqueries_carry(tmp_path: Path) -> None:
    sql = """
        select contact from (select lower(email) as contact from {{ input('customers') }}) s
        union all
        select country from {{ input('customers') }}
    """
    found = _only(tmp_path, sql, "{name: contact, type: varchar}")
    assert codes(found) == ["DP808"]
    assert str(found[0]["message"]).endswith(PATH)


def test_a_violation_stops_the_build(tmp_path: Path) -> None:
    from conftest import run_cli
    root = mesh(tmp_path, "select id, email as contact from {{ input('customers') }}",
                [ID, "{name: contact, type: varchar}"])
    result = run_cli("build", "-p", str(root))
    assert result.exit_code == 1
    assert "error[DP808]" in result.output
    warehouse = root / "wh.duckdb"
    if warehouse.exists():  # nothing was built
        import duckdb
        con = duckdb.connect(str(warehouse), read_only=True)
        tables = con.execute("select table_schema from information_schema.tables").fetchall()
        con.close()
        assert ("marketing",) not in tables
