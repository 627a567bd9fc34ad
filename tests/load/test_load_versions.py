"""Versions are text: a number is refused by the parser itself, not read as 1.1.0."""

from __future__ import annotations

import pytest

from dpsql.core.versions import Version, parse_range, parse_version


@pytest.mark.parametrize("value", [1.10, 1, 1.2, True])
def test_a_number_is_not_a_version(value: object) -> None:
    with pytest.raises(ValueError, match="not a version text: quote it"):
        parse_version(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a version text: quote it"):
        parse_range(value)  # type: ignore[arg-type]


def test_quoted_versions_keep_every_digit() -> None:
    assert parse_version("1.10") == Version(1, 10, 0)
    assert parse_range("1.10").allows(Version(1, 10, 3))
    assert not parse_range("1.10").allows(Version(1, 1, 0))
