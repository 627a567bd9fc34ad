"""A small mesh for policy tests: `crm` labels e-mail addresses `pii`; `marketing` reads them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import run_cli, write_files

POLICIES = """
policies:
  require: [owner, description, contracts]
  domains:
    growth: [sales]
  classifications:
    pii:
      masked_by: [sha256, md5, hash]
"""

CRM_YML = """
name: crm
domain: sales
owner: crm@example.com
description: Customers.
version: 1.0.0
inputs:
  - name: raw_customers
    file: ../data/customers.csv
    columns:
      - {name: email, classification: pii}
outputs:
  - name: customers
    model: customers
    description: One row per customer.
    columns:
      - {name: id, type: bigint}
      - {name: email, type: varchar, classification: pii}
      - {name: country, type: varchar}
      - {name: spend, type: bigint}
"""

CRM_SQL = """
select id::bigint as id, email::varchar as email, country::varchar as country,
       spend::bigint as spend
from {{ input('raw_customers') }}
"""

MARKETING_YML = """
name: marketing
domain: growth
owner: growth@example.com
description: Campaign contacts.
version: 1.0.0
inputs:
  - name: customers
    product: crm
    port: customers
outputs:
  - name: contacts
    model: contacts
    description: Who to write to.
    columns:
COLUMNS"""


def mesh(root: Path, contacts_sql: str, columns: list[str], *, policies: str = POLICIES,
         crm_yml: str = CRM_YML, marketing_yml: str = MARKETING_YML) -> Path:
    """The workspace; `columns` are the contract lines of `marketing.contacts`
    (`{name: email, type: varchar, classification: pii}`)."""
    contract = "".join(f"      - {c}\n" for c in columns)
    return write_files(root, {
        "dpsql.yml": "name: mesh\nwarehouse: wh.duckdb\n" + textwrap.dedent(policies),
        "data/customers.csv": "id,email,country,spend\n1,a@x.com,fr,10\n2,b@y.com,de,20\n",
        "crm/product.yml": crm_yml,
        "crm/models/customers.sql": CRM_SQL,
        "marketing/product.yml": marketing_yml.replace("COLUMNS", contract),
        "marketing/models/contacts.sql": contacts_sql,
    })


def check(root: Path) -> tuple[int, list[dict[str, object]]]:
    """`dpsql check --format json`: the exit status and the diagnostics."""
    result = run_cli("check", "-p", str(root), "--format", "json")
    return result.exit_code, json.loads(result.stdout)["diagnostics"]


def codes(diagnostics: list[dict[str, object]]) -> list[str]:
    return sorted(str(d["code"]) for d in diagnostics)
