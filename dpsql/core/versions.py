"""Semantic versions and npm/Cargo-style ranges (^1, ~1.2, >=1.2, '>=1.0.0,<2.0.0')."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]+)?$")
_TERM = re.compile(r"^(\^|~|>=|<=|>|<|=|==)?\s*(v?\d+(?:\.\d+)?(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?|\*)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def _text(value: object) -> str:
    """A version is text: YAML reads `1.10` as the number 1.1, so a number is refused."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is a {type(value).__name__}, not a version text: quote it")
    return value.strip()


def parse_version(text: str) -> Version:
    """Parse '1', '1.2' or '1.2.3' (pre-release and build suffixes are ignored)."""
    match = _VERSION.match(_text(text))
    if not match:
        raise ValueError(f"{text!r} is not a version like 1.2.0")
    major, minor, patch = (int(g) if g is not None else 0 for g in match.groups())
    return Version(major, minor, patch)


def _parts(text: str) -> int:
    return len(text.lstrip("v").split("-")[0].split("+")[0].split("."))


@dataclass(frozen=True)
class VersionRange:
    """A conjunction of comparisons: every (operator, version) term must hold."""

    text: str
    terms: tuple[tuple[str, Version], ...]

    def allows(self, version: Version) -> bool:
        for op, bound in self.terms:
            if op == ">=" and not version >= bound:
                return False
            if op == ">" and not version > bound:
                return False
            if op == "<" and not version < bound:
                return False
            if op == "<=" and not version <= bound:
                return False
            if op == "=" and version != bound:
                return False
        return True

    def __str__(self) -> str:
        return self.text


def parse_range(text: str) -> VersionRange:
    """Parse a range; terms are joined by commas or spaces and must all hold."""
    raw = _text(text)
    if not raw:
        raise ValueError("empty version range")
    tokens = [t for t in re.split(r"[,\s]+", re.sub(r"(>=|<=|==|[<>=^~])\s+", r"\1", raw)) if t]
    terms: list[tuple[str, Version]] = []
    for token in tokens:
        match = _TERM.match(token)
        if not match:
            raise ValueError(f"{token!r} is not a version range term like ^1, ~1.2 or >=1.0.0")
        op, ver_text = match.group(1) or "", match.group(2)
        if ver_text == "*":
            continue
        version = parse_version(ver_text)
        parts = _parts(ver_text)
        if op == "^":
            terms.append((">=", version))
            if version.major > 0 or parts == 1:
                terms.append(("<", Version(version.major + 1)))
            elif version.minor > 0 or parts == 2:
                terms.append(("<", Version(0, version.minor + 1)))
            else:
                terms.append(("<", Version(0, 0, version.patch + 1)))
        elif op == "~":
            terms.append((">=", version))
            if parts == 1:
                terms.append(("<", Version(version.major + 1)))
            else:
                terms.append(("<", Version(version.major, version.minor + 1)))
        elif op in ("", "=", "=="):
            if parts == 3:
                terms.append(("=", version))
            else:  # '1' or '1.2' means any version with that prefix
                terms.append((">=", version))
                upper = (
                    Version(version.major + 1)
                    if parts == 1
                    else Version(version.major, version.minor + 1)
                )
                terms.append(("<", upper))
        else:
            terms.append((op, version))
    return VersionRange(raw, tuple(terms))
