"""The version bump each product needs, and whether its declared version makes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpsql.change.compare import (
    COLUMN_ADDED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    LOGIC_CHANGED,
    PORT_ADDED,
    PORT_REMOVED,
    ROWS_CHANGED,
    TYPE_CHANGED,
    TYPE_NARROWED,
    TYPE_WIDENED,
    Change,
    sql_changed,
)
from dpsql.change.side import Side
from dpsql.core.errors import Location
from dpsql.core.versions import Version

BUMPS = ("none", "patch", "minor", "major")
RANK = {b: i for i, b in enumerate(BUMPS)}
MAJOR_KINDS = frozenset({COLUMN_REMOVED, COLUMN_RENAMED, TYPE_NARROWED, TYPE_CHANGED, PORT_REMOVED})
MINOR_KINDS = frozenset({COLUMN_ADDED, PORT_ADDED, TYPE_WIDENED, LOGIC_CHANGED, ROWS_CHANGED})


def bump_of(kind: str) -> str:
    return "major" if kind in MAJOR_KINDS else "minor" if kind in MINOR_KINDS else "patch"


def declared_bump(before: Version, after: Version) -> str:
    """The bump from one version to the next. Below 1.0.0 a minor bump may break (0.3 -> 0.4,
    as ^0.3 ranges expect), so it counts as major; a version that goes down counts as none."""
    if after <= before:
        return "none"
    if after.major > before.major:
        return "major"
    if after.minor > before.minor:
        return "major" if before.major == 0 else "minor"
    return "patch"


def next_version(before: Version, bump: str) -> Version:
    if bump == "major":
        return Version(0, before.minor + 1, 0) if before.major == 0 else Version(before.major + 1)
    if bump == "minor":
        return Version(before.major, before.minor + 1, 0)
    return Version(before.major, before.minor, before.patch + 1)


@dataclass
class ProductBump:
    product: str
    version_before: Version | None
    version_after: Version | None
    required: str
    declared: str
    edited: bool
    reason: Change | None = None  # the change that needs the required bump
    location: Location | None = None  # the product's `version:` key

    @property
    def ok(self) -> bool:
        if self.version_before is None or self.version_after is None:
            return True
        return RANK[self.declared] >= RANK[self.required]

    @property
    def make(self) -> Version | None:
        """The version to declare, when the declared one is too small."""
        if self.ok or self.version_before is None:
            return None
        return next_version(self.version_before, self.required)

    def to_dict(self) -> dict[str, Any]:
        return {"product": self.product,
                "version_before": str(self.version_before) if self.version_before else None,
                "version_after": str(self.version_after) if self.version_after else None,
                "required_bump": self.required, "declared_bump": self.declared, "ok": self.ok,
                "edited": self.edited, "version_to_make": str(self.make) if self.make else None}


def bumps(before: Side, after: Side, changes: list[Change], edited: set[str]) -> list[ProductBump]:
    """One entry per product of either side."""
    out: list[ProductBump] = []
    for name in sorted(set(before.products) | set(after.products)):
        old, new = before.products.get(name), after.products.get(name)
        vb = old.spec.version if old else None
        va = new.spec.version if new else None
        required, reason = "none", None
        if name in edited and old is not None and new is not None:
            for change in (c for c in changes if c.product == name):
                if RANK[bump_of(change.kind)] > RANK[required]:
                    required, reason = bump_of(change.kind), change
            if required == "none" and sql_changed(before, after, name):
                required = "patch"
        declared = declared_bump(vb, va) if vb is not None and va is not None else "none"
        where = new.spec.key_location("version") if new else None
        out.append(ProductBump(name, vb, va, required, declared, name in edited, reason, where))
    return out
