"""Read `policies:` in dpsql.yml and `classification:` on product.yml columns.

What can be told from the file alone is checked here (unknown rules and keys, shapes); what
needs the products (domains no product has, labels nobody declared, masking functions that do
not exist) is checked by the policies pass (dpsql/compile/checks/policies.py).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from dpsql.core.errors import Diagnostic, Location, did_you_mean, error
from dpsql.core.specs import Classification, Policies
from dpsql.load.yamlfile import KeyPath, YamlDoc

RULES = ("owner", "description", "contracts")  # what `require:` may name
_KEYS = ("require", "domains", "classifications")
_CLASS_KEYS = ("masked_by",)
_EXAMPLE = "`policies: {require: [owner], domains: {finance: [sales]}}`"


class _Reader:
    def __init__(self, doc: YamlDoc, diagnostics: list[Diagnostic]):
        self.doc = doc
        self.diagnostics = diagnostics

    def bad(self, message: str, keys: KeyPath, hint: str, code: str = "DP003",
            key: bool = False) -> None:
        self.diagnostics.append(error(code, message, self.doc.loc(*keys, key=key), hint))

    def mapping(self, raw: Any, keys: KeyPath, what: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.bad(f"{what} must be a mapping", keys, f"write {what} as indented `key: value` "
                     f"lines, e.g. {_EXAMPLE}")
            return {}
        return raw

    def names(self, raw: Any, keys: KeyPath, what: str) -> list[tuple[str, Location]]:
        """A name or a list of names, each with where it is written."""
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for i, item in enumerate(items):
            where = (*keys, i) if isinstance(raw, list) else keys
            if isinstance(item, bool) or not isinstance(item, str | int | float) or not str(item):
                self.bad(f"each item of {what} must be a name", where, f"write {what} as "
                         "`[a, b]`")
                continue
            out.append((str(item), self.doc.loc(*where)))
        return out


def read_policies(doc: YamlDoc, raw: Any, diagnostics: list[Diagnostic]) -> Policies:
    """`policies:` of dpsql.yml; problems are added to `diagnostics`."""
    read = _Reader(doc, diagnostics)
    data = read.mapping(raw, ("policies",), "`policies`")
    for key in data:
        if key not in _KEYS:
            read.bad(f"unknown policy `{key}`", ("policies", key), "policies are "
                     f"{', '.join(_KEYS)}; " + did_you_mean(str(key), _KEYS), "DP801", key=True)
    require = read.names(data.get("require"), ("policies", "require"), "`require`")
    for rule, where in require:
        if rule not in RULES:
            diagnostics.append(error("DP801", f"unknown rule `{rule}` in `require`", where,
                                     f"rules are {', '.join(RULES)}; {did_you_mean(rule, RULES)}"))
    domains = {}
    for name, allowed in read.mapping(data.get("domains"), ("policies", "domains"),
                                      "`domains`").items():
        keys = ("policies", "domains", name)
        domains[str(name)] = (doc.loc(*keys, key=True),
                              tuple(read.names(allowed, keys, f"`domains: {name}`")))
    classes = {}
    for name, spec in read.mapping(data.get("classifications"), ("policies", "classifications"),
                                   "`classifications`").items():
        keys = ("policies", "classifications", name)
        found = read.mapping(spec, keys, f"classification `{name}`")
        for key in found:
            if key not in _CLASS_KEYS:
                read.bad(f"unknown key `{key}` in classification `{name}`", (*keys, key),
                         "a classification may set `masked_by: [function, ...]`", "DP801",
                         key=True)
        masks = read.names(found.get("masked_by"), (*keys, "masked_by"), "`masked_by`")
        classes[str(name)] = Classification(str(name), doc.loc(*keys, key=True), tuple(masks))
    return Policies(tuple(r for r in require if r[0] in RULES), MappingProxyType(domains),
                    MappingProxyType(classes))


def column_labels(doc: YamlDoc, col: dict[str, Any], keys: KeyPath,
                  diagnostics: list[Diagnostic]) -> tuple[tuple[str, ...], Location | None]:
    """`classification: pii` (or a list) on a column, and where it is written."""
    if col.get("classification") is None:
        return (), None
    found = _Reader(doc, diagnostics).names(col["classification"], (*keys, "classification"),
                                            "`classification`")
    return tuple(dict.fromkeys(n for n, _ in found)), doc.loc(*keys, "classification", key=True)
