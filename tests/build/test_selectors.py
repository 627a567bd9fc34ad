"""dbt's selector grammar on every command that selects: `dpsql ls --select` on a generated
workspace is compared with the same selection computed here, from the graph the test wrote
(not from dpsql's compile)."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from buildkit import build, run_results
from conftest import explain, run_cli, write_files

# the graph: model id -> (upstream ids, tags, materialized, folder under models/)
Spec = dict[str, tuple[list[str], list[str], str, str]]
PRODUCTS = {"p0": "d0", "p1": "d0", "p2": "d1", "p3": "d1"}
MODELS = 5


def _graph(seed: int = 7) -> Spec:
    rng = random.Random(seed)
    spec: Spec = {}
    for k, product in enumerate(PRODUCTS):
        for i in range(MODELS):
            mid = f"{product}.m{i}"
            deps = sorted({f"{product}.m{j}" for j in rng.sample(range(i), min(i, 2))})
            if i == 0 and k > 0:  # read the port (the last model) of an earlier product
                deps = [f"p{rng.randrange(k)}.m{MODELS - 1}"]
            tags = [t for t in ("t1", "t2") if rng.random() < 0.4]
            port = i == MODELS - 1
            materialized = "table" if port or rng.random() < 0.3 else "view"
            folder = "staging/" if i < 2 else ""
            spec[mid] = (deps, tags, materialized, folder)
    return spec


def _files(spec: Spec) -> dict[str, str]:
    files = {"dpsql.yml": "name: sel\nwarehouse: wh.duckdb\n"}
    for product, domain in PRODUCTS.items():
        reads = sorted({d.split(".")[0] for mid, (deps, *_) in spec.items()
                        if mid.startswith(product + ".") for d in deps} - {product})
        inputs = "".join(f"  - {{name: {p}, product: {p}, port: out}}\n" for p in reads)
        files[f"{domain}/{product}/product.yml"] = (
            f"name: {product}\ndomain: {domain}\nversion: 1.0.0\n"
            + (f"inputs:\n{inputs}" if inputs else "")
            + f"outputs:\n  - name: out\n    model: m{MODELS - 1}\n"
            "    columns: [{name: x, type: bigint}]\n")
        for mid, (deps, tags, materialized, folder) in spec.items():
            owner, name = mid.split(".")
            if owner != product:
                continue
            reads_sql = [f"{{{{ ref('{d.split('.')[0]}', 'out') }}}}" if d.split(".")[0] != owner
                         else f"{{{{ ref('{d.split('.')[1]}') }}}}" for d in deps]
            body = " union all ".join(f"select x from {r}" for r in reads_sql) or \
                "select 1::bigint as x"
            config = f"{{{{ config(materialized='{materialized}', tags={tags}) }}}}\n"
            files[f"{domain}/{product}/models/{folder}{name}.sql"] = config + body + "\n"
    return files


def _up(spec: Spec) -> dict[str, list[str]]:
    return {mid: deps for mid, (deps, *_) in spec.items()}


def _down(spec: Spec) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {mid: [] for mid in spec}
    for mid, (deps, *_) in spec.items():
        for dep in deps:
            out[dep].append(mid)
    return out


def _reach(edges: Mapping[str, list[str]], start: set[str], depth: int | None = None) -> set[str]:
    """Nodes reached from `start` in at most `depth` steps (all, when None), not `start`."""
    found: set[str] = set()
    frontier, level = set(start), 0
    while frontier and (depth is None or level < depth):
        level += 1
        frontier = {n for node in frontier for n in edges[node]} - found
        found |= frontier
    return found


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Spec]:
    spec = _graph()
    root = write_files(tmp_path_factory.mktemp("sel") / "ws", _files(spec))
    return root, spec


def _ls(root: Path, *args: str) -> set[str]:
    result = run_cli("ls", "-p", str(root), "--resource-type", "model", *args)
    assert result.exit_code == 0, explain(result)
    return set(result.stdout.split())


def _oracle(spec: Spec, selector: str) -> set[str]:
    up, down = _up(spec), _down(spec)
    every = set(spec)
    by_path = {mid: f"{PRODUCTS[mid.split('.')[0]]}/{mid.split('.')[0]}/models/{spec[mid][3]}"
               f"{mid.split('.')[1]}.sql" for mid in spec}
    cases = {
        "p1": {m for m in every if m.startswith("p1.")},
        "p2.m3": {"p2.m3"},
        "m2": {m for m in every if m.endswith(".m2")},
        "*": every,
        "p1.*": {m for m in every if m.startswith("p1.")},
        "p*.m1": {m for m in every if m.endswith(".m1")},
        "tag:t1": {m for m in every if "t1" in spec[m][1]},
        "domain:d1": {m for m in every if PRODUCTS[m.split(".")[0]] == "d1"},
        "path:d1": {m for m in every if by_path[m].startswith("d1/")},
        "path:d0/p0/models/staging": {m for m in every
                                      if by_path[m].startswith("d0/p0/models/staging/")},
        "config.materialized:table": {m for m in every if spec[m][2] == "table"},
    }
    if selector in cases:
        return cases[selector]
    if selector in spec:
        return {selector}
    if selector in PRODUCTS:
        return {m for m in every if m.startswith(selector + ".")}
    if selector.startswith("@"):
        base = {selector[1:]}
        below = base | _reach(down, base)
        return below | _reach(up, below)
    parts = re.fullmatch(r"(\d*\+)?([^+]+)(\+\d*)?", selector)
    assert parts is not None
    head, core, tail = parts.groups()
    assert head or tail, f"the oracle does not know `{selector}`"
    base = _oracle(spec, core)
    out = set(base)
    if head:
        out |= _reach(up, base, int(head[:-1]) if head[:-1] else None)
    if tail:
        out |= _reach(down, base, int(tail[1:]) if tail[1:] else None)
    return out


SELECTORS = ["p1", "p2.m3", "m2", "*", "p1.*", "p*.m1", "tag:t1", "domain:d1", "path:d1",
             "path:d0/p0/models/staging", "config.materialized:table", "+p2.m3", "p0.m1+",
             "1+p2.m4", "p0.m4+1", "2+p3.m4", "@p1.m2", "@p0.m0", "+tag:t1"]


@pytest.mark.parametrize("selector", SELECTORS)
def test_one_selector_matches_the_graph(workspace: tuple[Path, Spec], selector: str) -> None:
    root, spec = workspace
    assert _ls(root, "--select", selector) == _oracle(spec, selector)


def test_unions_intersections_and_excludes(workspace: tuple[Path, Spec]) -> None:
    root, spec = workspace
    union = _oracle(spec, "p1") | _oracle(spec, "p2.m3+")
    assert _ls(root, "--select", "p1 p2.m3+") == union
    assert _ls(root, "-s", "p1", "-s", "p2.m3+") == union
    meet = _oracle(spec, "p0.m1+") & _oracle(spec, "domain:d1")
    assert _ls(root, "--select", "p0.m1+,domain:d1") == meet
    rest = _oracle(spec, "*") - _oracle(spec, "tag:t1") - _oracle(spec, "p3")
    assert _ls(root, "--select", "*", "-e", "tag:t1", "--exclude", "p3") == rest


def test_bad_selectors_are_usage_errors(workspace: tuple[Path, Spec]) -> None:
    root, _ = workspace
    for selector, words in [("nope", "matches no model"), ("colour:red", "unknown selector"),
                            ("config.colour:red", "unknown config key"),
                            ("state:modified", "--state"), ("@+p1", "cannot be combined")]:
        result = run_cli("ls", "-p", str(root), "--select", selector)
        assert result.exit_code == 2, explain(result)
        assert words in result.output, result.output


def test_state_modified_against_a_previous_target(workspace: tuple[Path, Spec],
                                                  tmp_path: Path) -> None:
    root, spec = workspace
    copy = tmp_path / "ws"
    shutil.copytree(root, copy)
    assert run_cli("compile", "-p", str(copy)).exit_code == 0
    state = tmp_path / "state"
    shutil.copytree(copy / "target", state)
    assert _ls(copy, "-s", "state:modified", "--state", str(state)) == set()
    # edit one model's SQL, change another's materialization, add a model
    body = copy / "d0/p1/models/m3.sql"
    body.write_text(body.read_text() + "-- edited\n union all select 2::bigint as x\n")
    config = next((copy / "d1/p2/models").rglob("m2.sql"))
    text = config.read_text()
    config.write_text(text.replace("'view'", "'table'") if "'view'" in text
                      else text.replace("'table'", "'view'"))
    (copy / "d0/p0/models/extra.sql").write_text("select 3::bigint as x\n")
    args = ("--state", str(state))
    assert _ls(copy, "-s", "state:modified.body", *args) == {"p1.m3"}
    assert _ls(copy, "-s", "state:modified.configs", *args) == {"p2.m2"}
    assert _ls(copy, "-s", "state:new", *args) == {"p0.extra"}
    modified = {"p1.m3", "p2.m2", "p0.extra"}
    assert _ls(copy, "-s", "state:modified", *args) == modified
    below = modified | _reach(_down(spec), modified - {"p0.extra"})
    assert _ls(copy, "-s", "state:modified+", *args) == below
    assert _ls(copy, "-s", "state:unmodified", *args) == set(spec) - modified
    # a port's contract
    yml = copy / "d1/p3/product.yml"
    yml.write_text(yml.read_text().replace("{name: x, type: bigint}",
                                           "{name: x, type: bigint, description: changed}"))
    assert _ls(copy, "-s", "state:modified.contract", *args) == set()
    yml.write_text(yml.read_text().replace("type: bigint, description", "type: hugeint, "
                                           "description"))
    port = copy / "d1/p3/models/m4.sql"
    config, body = port.read_text().split("\n", 1)
    port.write_text(f"{config}\nselect x::hugeint as x from ({body})\n")
    assert _ls(copy, "-s", "state:modified.contract", *args) == {"p3.m4"}


def test_compile_and_ls_outputs(workspace: tuple[Path, Spec]) -> None:
    root, spec = workspace
    result = run_cli("compile", "-p", str(root), "--select", "p1.m0")
    assert result.exit_code == 0, explain(result)
    compiled = (root / "target/compiled/p1/m0.sql").read_text().strip()
    assert f"-- p1.m0: target/compiled/p1/m0.sql\n{compiled}" in result.output
    names = run_cli("ls", "-p", str(root), "-s", "p0", "--resource-type", "model",
                    "--output", "name").stdout.split()
    assert sorted(names) == sorted(m.split(".")[1] for m in spec if m.startswith("p0."))
    paths = run_cli("ls", "-p", str(root), "-s", "p0.m0", "--output", "path").stdout.split()
    assert paths == ["d0/p0/models/staging/m0.sql"]


FAILING = {
    "dpsql.yml": "name: ff\nwarehouse: wh.duckdb\n",
    "p/product.yml": "name: p\nversion: 1.0.0\n",
    "p/models/a_bad.sql": "{{ config(materialized='table') }}\nselect 'x'::int as x\n",
    "p/models/b_bad.sql": "{{ config(materialized='table') }}\nselect 'y'::int as y\n",
    "p/models/c_ok.sql": "{{ config(materialized='table') }}\nselect 1 as z\n",
    "p/models/d_after.sql": "select * from a_bad\n",
}


def test_fail_fast_and_result_selectors(tmp_path: Path) -> None:
    root = write_files(tmp_path / "ff", FAILING)
    result = build(root, "--threads", "1", ok=False)
    assert result.exit_code == 1
    found = {mid: r["status"] for mid, r in run_results(root).items()}
    assert found == {"p.a_bad": "error", "p.b_bad": "error", "p.c_ok": "success",
                     "p.d_after": "skipped"}
    # the previous run's results select what failed, and what it held back
    assert _ls(root, "-s", "result:error") == {"p.a_bad", "p.b_bad"}
    assert _ls(root, "-s", "result:skipped") == {"p.d_after"}
    assert _ls(root, "-s", "result:error+") == {"p.a_bad", "p.b_bad", "p.d_after"}
    # -x is --fail-fast, as in dbt: the first failure stops the build, nothing new starts
    result = build(root, "--threads", "1", "-x", "--full-refresh", ok=False)
    assert result.exit_code == 1, explain(result)
    found = {mid: r["status"] for mid, r in run_results(root).items()}
    assert found["p.a_bad"] == "error"
    assert set(found.values()) <= {"error", "not_run"}, found
    assert found["p.c_ok"] == "not_run" and found["p.b_bad"] == "not_run"
    assert "--fail-fast" in result.output


TESTED = {
    "dpsql.yml": "name: tf\nwarehouse: wh.duckdb\n",
    "data/v.csv": "x\n1\n2\n",
    "p/product.yml": """
        name: p
        version: 1.0.0
        inputs:
          - {name: raw, file: ../data/v.csv}
        models:
          - name: a
            columns:
              - {name: x, tests: [unique, not_null]}
          - name: b
            columns:
              - {name: y, tests: [not_null]}
    """,
    "p/models/a.sql": "select x from {{ input('raw') }}\n",
    "p/models/b.sql": "select 1 as y\n",
}


def test_results_of_tests_and_fail_fast_in_dpsql_test(tmp_path: Path) -> None:
    root = write_files(tmp_path / "tf", {**TESTED, "data/v.csv": "x\n1\n1\n"})
    assert build(root, ok=False).exit_code == 1  # a's unique test fails: not published
    assert _ls(root, "-s", "result:fail") == {"p.a"}
    write_files(root, {"data/v.csv": "x\n1\n2\n"})
    build(root)
    # the view reads the file: new rows break both of a's tests, without a rebuild
    write_files(root, {"data/v.csv": "x\n1\n1\n\n"})
    result = run_cli("test", "-p", str(root), "--threads", "1")
    assert result.exit_code == 1 and "2 failed" in result.output, explain(result)
    assert _ls(root, "-s", "result:fail") == {"p.a"}
    assert _ls(root, "-s", "result:pass") == {"p.b"}
    result = run_cli("--log-format", "json", "test", "-p", str(root), "-x", "--threads", "1")
    assert result.exit_code == 1, explain(result)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["TEST", "SUMMARY"], events
    assert events[0]["status"] == "fail" and events[-1]["not_run"] == 2
