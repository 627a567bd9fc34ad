"""dbt's data tests as written in schema.yml, read into one shape and written back as dpsql's
test entries: `not_null`, or `{kind: {argument: value, config: {severity, where, enabled}}}`.

dbt spells a test several ways: `- unique`, `- accepted_values: {values: [...]}`, the newer
`- accepted_values: {arguments: {values: [...]}, config: {...}}`, config keys next to the
arguments (`severity: warn`), a package's test by namespace (`dbt_utils.at_least_one`), and
`- name: custom_name, test_name: unique`. The simple ones on a port's column join its contract;
a model-level `unique`/`not_null` on an expression (`column_name: "a || b"`) becomes a singular
test, as dpsql's built-in tests name a column."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

BUILTIN = ("not_null", "unique", "accepted_values", "relationships")
KEPT_CONFIG = ("severity", "where", "enabled")
# dbt's test configs dpsql has no equivalent for: left out, with a note
DROPPED_CONFIG = ("store_failures", "store_failures_as", "limit", "fail_calc", "warn_if",
                  "error_if", "tags", "meta", "database", "schema", "alias", "group")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SingularTest:
    file_name: str
    sql: str


@dataclass(frozen=True)
class DbtTest:
    """One test as dbt reads it: `kind` without its package, arguments and config apart."""

    kind: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dropped: tuple[str, ...] = ()  # config keys dpsql does not carry
    namespace: str = ""  # `dbt_utils` for `dbt_utils.at_least_one`

    @property
    def shown(self) -> str:
        return f"{self.namespace}.{self.kind}" if self.namespace else self.kind


def read_test(raw: Any) -> DbtTest | None:
    """A test as written in schema.yml, or None when it is no test dbt would read."""
    if isinstance(raw, str):
        kind, body = raw, {}
    elif isinstance(raw, dict) and "test_name" in raw:
        kind = str(raw["test_name"])
        body = {k: v for k, v in raw.items() if k not in ("test_name", "name")}
    elif isinstance(raw, dict) and len(raw) == 1:
        ((kind, body),) = raw.items()
        kind = str(kind)
        if isinstance(body, list):  # accepted_values' short form
            body = {"values": body}
        body = dict(body) if isinstance(body, dict) else {}
    else:
        return None
    namespace, _, kind = kind.rpartition(".")
    config = dict(body.pop("config", None) or {})
    body.pop("name", None)  # dbt's custom name of the test
    arguments = dict(body.pop("arguments", None) or {})
    args = {**body, **arguments}
    for key in (*KEPT_CONFIG, *DROPPED_CONFIG):
        if key in args:
            config.setdefault(key, args.pop(key))
    dropped = tuple(k for k in config if k not in KEPT_CONFIG)
    kept = {k: v for k, v in config.items() if k in KEPT_CONFIG}
    return DbtTest(kind, MappingProxyType(args), MappingProxyType(kept), dropped, namespace)


def _with_defaults(raw: Any, defaults: Mapping[str, Any]) -> Any:
    """One test with the configs dbt_project.yml gives it where it sets none of its own."""
    if isinstance(raw, str):
        return {raw: {"config": dict(defaults)}}
    if not isinstance(raw, dict) or ("test_name" not in raw and len(raw) != 1):
        return raw
    if "test_name" in raw:
        return {**raw, "config": {**defaults, **dict(raw.get("config") or {})}}
    ((kind, body),) = raw.items()
    body = {"values": body} if isinstance(body, list) else dict(body or {})
    own = {k for k in (*KEPT_CONFIG, *DROPPED_CONFIG) if k in body}
    config = {k: v for k, v in defaults.items() if k not in own}
    return {kind: {**body, "config": {**config, **dict(body.get("config") or {})}}}


def with_test_config(doc: Any, defaults: Mapping[str, Any]) -> Any:
    """A property file whose tests carry the test configs dbt_project.yml gives its folder
    (`data_tests: {+severity: warn}`, by project and folder as for models)."""
    defaults = {k: v for k, v in defaults.items() if k in (*KEPT_CONFIG, *DROPPED_CONFIG)}
    if not defaults:
        return doc
    if isinstance(doc, list):
        return [with_test_config(item, defaults) for item in doc]
    if not isinstance(doc, dict):
        return doc
    out = {}
    for key, value in doc.items():
        if key in ("tests", "data_tests") and isinstance(value, list):
            out[key] = [_with_defaults(raw, defaults) for raw in value]
        else:
            out[key] = with_test_config(value, defaults)
    return out


def contract_test(raw: Any) -> Any | None:
    """The test as a port contract's column test, or None when it is not a plain one."""
    test = read_test(raw)
    if test is None or test.config or test.dropped or test.namespace:
        return None
    if test.kind in ("not_null", "unique") and not test.args:
        return test.kind
    values = test.args.get("values")
    if test.kind == "accepted_values" and isinstance(values, list) and set(test.args) == {"values"}:
        return {"accepted_values": list(values)}
    return None


def entry(test: DbtTest, to: str | None = None, skip: tuple[str, ...] = ()) -> Any:
    """The test as a product.yml entry; `to` replaces a relationships test's `to`, `skip`
    names arguments left out (a model-level test's `column_name`, now its column)."""
    args: dict[str, Any] = {k: v for k, v in test.args.items() if k not in skip}
    if to is not None:
        args["to"] = to
    if test.config:
        args["config"] = dict(test.config)
    return {test.kind: args} if args else test.kind


def plain_column(test: DbtTest) -> str | None:
    """A model-level built-in test's `column_name`, when it names a column."""
    name = test.args.get("column_name")
    return name if isinstance(name, str) and _IDENTIFIER.match(name.strip()) else None


def expression_test(model: str, test: DbtTest, index: int) -> SingularTest | None:
    """A model-level `not_null` or `unique` on an expression (`column_name: "a || b"`), as a
    singular test that selects the failing rows, as dbt's does; None for anything else."""
    expression = test.args.get("column_name")
    if test.kind not in ("not_null", "unique") or not isinstance(expression, str) \
            or test.config or set(test.args) != {"column_name"}:
        return None
    source = f"{{{{ ref('{model}') }}}}"
    if test.kind == "not_null":
        sql = f"select * from {source} where ({expression}) is null"
    else:
        sql = (f"select ({expression}) as value, count(*) as n from {source} "
               f"where ({expression}) is not null group by ({expression}) having count(*) > 1")
    return SingularTest(f"{model}__{test.kind}_{index}.sql", sql + "\n")
