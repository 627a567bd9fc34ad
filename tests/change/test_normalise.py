"""Normalised definitions: what is no change, and what is one."""

from __future__ import annotations

import pytest
import sqlglot

from dpsql.change.define import normal
from dpsql.change.semver import declared_bump, next_version
from dpsql.core.versions import parse_version


def text(sql: str) -> str:
    return normal(sqlglot.parse_one(sql, read="duckdb"))


@pytest.mark.parametrize(("a", "b"), [
    ("select a + b as x from t", "SELECT b+a AS x FROM t"),
    ("select o.a * 2 from t as o", "select 2 * t.a from t"),
    ("select 1 from t where a > 1 and b = c", "select 1 from t where c = b and 1 < a -- why"),
    ("select x /* note */ from t", "select\n  x\nfrom t"),
])
def test_no_change(a: str, b: str) -> None:
    assert text(a) == text(b)


@pytest.mark.parametrize(("a", "b"), [
    ("select a - b from t", "select b - a from t"),
    ("select 1 from t where a > 1", "select 1 from t where a >= 1"),
    ("select sum(a) from t", "select max(a) from t"),
])
def test_a_change(a: str, b: str) -> None:
    assert text(a) != text(b)


@pytest.mark.parametrize(("before", "after", "bump"), [
    ("1.2.0", "2.0.0", "major"), ("1.2.0", "1.3.0", "minor"), ("1.2.0", "1.2.1", "patch"),
    ("1.2.0", "1.2.0", "none"), ("1.2.0", "1.1.0", "none"), ("0.3.0", "0.4.0", "major"),
])
def test_declared_bump(before: str, after: str, bump: str) -> None:
    assert declared_bump(parse_version(before), parse_version(after)) == bump


def test_next_version() -> None:
    assert str(next_version(parse_version("1.2.3"), "major")) == "2.0.0"
    assert str(next_version(parse_version("0.3.1"), "major")) == "0.4.0"
    assert str(next_version(parse_version("1.2.3"), "minor")) == "1.3.0"
    assert str(next_version(parse_version("1.2.3"), "patch")) == "1.2.4"
