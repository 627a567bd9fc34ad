"""Property: whatever is in a workspace's files, `dpsql check` ends with exit status 0 or 1, a
message and no traceback, and in bounded time.

Hypothesis writes random and mutated YAML, templates and SQL over a small valid workspace: bytes
flipped, inserted or cut, YAML values of any shape, templates with random Jinja, and SQL put
together from keywords and names. A hang counts as a failure (an alarm interrupts it).
"""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from click.testing import CliRunner
from conftest import BASE, write_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpsql.cli.commands import main

PRODUCT = "reports/shops/product.yml"
MODEL = "reports/shops/models/shop_totals.sql"
WORKSPACE = "dpsql.yml"
SECONDS = 20  # far more than a check of this workspace takes; beyond it, it hangs

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"dpsql check ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(root: Path) -> None:
    with alarm(SECONDS):
        result = CliRunner().invoke(main, ["check", "-p", str(root)])
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"{type(exc).__name__}: {exc}\n{result.output}")
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 1:
        assert "error[" in result.output, result.output


def workspace(root: Path, changes: dict[str, bytes]) -> Path:
    write_files(root, BASE)
    for rel, data in changes.items():
        (root / rel).write_bytes(data)
    return root


@st.composite
def mutated(draw: st.DrawFn, text: str) -> bytes:
    """The text with a few bytes replaced, inserted or cut."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "cut"]))
        piece = draw(st.binary(min_size=1, max_size=6) | st.sampled_from(
            [b":", b"- ", b"{", b"}", b"[", b"'", b'"', b"\n  ", b"&a", b"*a", b"!!", b"{{",
             b"}}", b"{%", b"%}", b"(", b")", b",", b";", b"\t", b"\x00", b"\xff"]))
        if kind == "insert":
            data[at:at] = piece
        elif kind == "cut":
            data[at:at + len(piece)] = b""
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)

keys = st.sampled_from(["name", "domain", "owner", "version", "inputs", "outputs", "columns",
                        "type", "tests", "product", "port", "file", "table", "model",
                        "threads", "vars", "warehouse", "description"])


@st.composite
def yaml_document(draw: st.DrawFn, base: str) -> bytes:
    """The base document with some keys set to values of any shape."""
    doc = yaml.safe_load(base)
    assert isinstance(doc, dict)
    for _ in range(draw(st.integers(1, 3))):
        doc[draw(keys)] = draw(yaml_values)
    return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")


words = st.sampled_from(
    ["select", "from", "where", "group by", "order by", "join", "on", "union all", "with",
     "as", "(", ")", ",", "*", "1", "'x'", "shop", "value", "items.items", "sum(value)",
     "{{ ref('items', 'items') }}", "{{ input('items') }}", "{{ var('min_qty') }}",
     "{{ config(materialized='table') }}", "{% if true %}", "{% endif %}", "{{", "}}",
     "pivot", "unpivot", "columns('a')", "unnest([1, 2])", "range(3)", "lateral",
     "over (partition by shop)", "qualify", "having", "limit 1", ";", "--", "/*", "*/"])


@FUZZ
@given(st.sampled_from([PRODUCT, WORKSPACE, MODEL]), st.data())
def test_mutated_files_never_crash_check(tmp_path: Path, rel: str, data: st.DataObject) -> None:
    base = textwrap.dedent(BASE[rel]).lstrip("\n")
    root = workspace(tmp_path / f"m{abs(hash(rel))}", {rel: data.draw(mutated(base))})
    check(root)


@FUZZ
@given(st.sampled_from([PRODUCT, WORKSPACE]), st.data())
def test_yaml_of_any_shape_never_crashes_check(tmp_path: Path, rel: str,
                                                data: st.DataObject) -> None:
    base = textwrap.dedent(BASE[rel]).lstrip("\n")
    root = workspace(tmp_path / "y", {rel: data.draw(yaml_document(base))})
    check(root)


@FUZZ
@given(st.lists(words, min_size=1, max_size=14))
def test_sql_and_templates_put_together_never_crash_check(tmp_path: Path,
                                                          parts: list[str]) -> None:
    root = workspace(tmp_path / "s", {MODEL: " ".join(parts).encode("utf-8")})
    check(root)
