"""A csv input's `column_types:` reads those columns as those types (as a dbt seed's
column_types does), and a gzip-compressed csv (`.csv.gz`) is read like a plain one."""

from __future__ import annotations

import gzip
from pathlib import Path

from buildkit import build, query
from conftest import run_cli, write_files

CSV = "id,amount,day\n1,250,2024-01-02\n2,1000,2024-01-03\n"


def _workspace(root: Path, input_extra: str, file: str = "raw.csv") -> Path:
    return write_files(root, {
        "dpsql.yml": "name: seeds\nwarehouse: warehouse.duckdb\n",
        f"data/{file}" if not file.endswith(".gz") else "data/.keep": CSV,
        "p/product.yml": f"""
            name: p
            domain: d
            owner: o@example.com
            version: 1.0.0
            inputs:
              - name: raw
                file: ../data/{file}
                {input_extra}
            outputs:
              - {{name: out, columns: [{{name: id, type: integer}}, {{name: amount, type: varchar}},
                                       {{name: day, type: date}}]}}
        """,
        "p/models/out.sql": "select * from {{ input('raw') }}\n",
    })


def test_column_types_set_the_types_of_a_csv_input(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "column_types: {id: integer, amount: varchar}")
    build(root)
    described = {r[0]: r[1] for r in query(root, "describe p.out")}
    assert described == {"id": "INTEGER", "amount": "VARCHAR", "day": "DATE"}
    assert query(root, "select id, amount from p.out order by id") == [(1, "250"), (2, "1000")]


def test_without_column_types_the_contract_sees_sniffed_types(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "")
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert "bigint" in result.output.lower() and "DP3" in result.output, result.output


def test_a_bad_column_type_is_named(tmp_path: Path) -> None:
    # DuckDB's own words for a type it does not know, at the input; ours for what is no type
    for bad, code, named in (("{id: integr}", "DP007:6", "integr"),
                             ("{id: 'decimal(('}", "DP003:8", "`id: decimal((`"),
                             ("[id]", "DP003:8", "not a mapping")):
        root = _workspace(tmp_path / code[:5] / named[:3].strip("`"), f"column_types: {bad}")
        result = run_cli("check", "-p", str(root))
        assert result.exit_code == 1
        line = code.split(":")[1]
        assert f"product.yml:{line}: error[{code[:5]}]" in result.output, result.output
        assert named in result.output, result.output


def test_a_gzipped_csv_is_read(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "column_types: {id: integer, amount: varchar}",
                      file="raw.csv.gz")
    (root / "data" / "raw.csv.gz").write_bytes(gzip.compress(CSV.encode()))
    build(root)
    assert query(root, "select id, amount, day::varchar from p.out order by id") == [
        (1, "250", "2024-01-02"), (2, "1000", "2024-01-03")]


def _published(root: Path, port: str) -> Path:
    return write_files(root, {
        "dpsql.yml": "name: seeds\nwarehouse: warehouse.duckdb\n",
        "data/raw.csv": CSV,
        "p/product.yml": f"""
            name: p
            domain: d
            owner: o@example.com
            version: 1.0.0
            inputs:
              - {{name: raw, file: ../data/raw.csv, column_types: {{id: integer}}}}
            outputs:
              - {{name: {port}, input: raw, columns: [{{name: id, type: integer}},
                  {{name: amount, type: bigint}}, {{name: day, type: date}}]}}
        """,
        "q/product.yml": f"""
            name: q
            domain: d
            owner: o@example.com
            version: 1.0.0
            inputs:
              - {{name: {port}, product: p, version: ^1}}
            outputs:
              - {{name: total, columns: [{{name: amount, type: hugeint}}]}}
        """,
        "q/models/total.sql": f"select sum(amount) as amount from {{{{ ref('p', '{port}') }}}}\n",
    })


def test_a_file_input_is_published_as_a_port_without_a_model(tmp_path: Path) -> None:
    root = _published(tmp_path / "ws", "raw_items")
    build(root)
    assert query(root, "select id, amount from p.raw_items order by id") == [(1, 250), (2, 1000)]
    described = {r[0]: r[1] for r in query(root, "describe p.raw_items")}
    assert described["id"] == "INTEGER"  # the contract holds the input's column_types
    assert query(root, "from q.total") == [(1250,)]
    assert not (root / "p" / "models").exists()


def test_a_port_publishing_an_input_needs_its_own_name(tmp_path: Path) -> None:
    root = _published(tmp_path / "ws", "raw")
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert "error[DP005]" in result.output and "has the port's name" in result.output


def test_a_port_publishing_an_undeclared_input_is_named(tmp_path: Path) -> None:
    root = _published(tmp_path / "ws", "raw_items")
    text = (root / "p" / "product.yml").read_text().replace("input: raw,", "input: nope,")
    (root / "p" / "product.yml").write_text(text)
    result = run_cli("check", "-p", str(root))
    assert result.exit_code == 1
    assert "error[DP008]" in result.output and "publishes input `nope`" in result.output
