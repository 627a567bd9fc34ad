"""What a previous run left in a target/ folder, for the `state:` and `result:` selectors.

    --state DIR    a copy of an earlier target/: manifest.json, compiled/, run_results.json
    (no --state)   result: reads this workspace's own target/run_results.json

`state:` compares each model with the previous manifest and compiled SQL; `result:` reads the
statuses of models and tests in the previous run_results.json and test_results.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpsql.core.project import CompiledProject

STATES = ("new", "old", "modified", "modified.body", "modified.configs", "modified.contract",
          "unmodified")


@dataclass(frozen=True)
class Previous:
    folder: Path | None = None  # --state DIR
    manifest: Mapping[str, Any] | None = None  # DIR/manifest.json (dpsql's own)
    model_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    test_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    has_results: bool = False

    @property
    def has_manifest(self) -> bool:
        return self.manifest is not None

    @classmethod
    def load(cls, target: Path, state: Path | None) -> Previous:
        """Read `state` (a previous target/ folder) or, for results only, `target`."""
        folder = state if state is not None else target
        manifest = _json(state / "manifest.json") if state is not None else None
        runs = _json(folder / "run_results.json")
        tests = _json(folder / "test_results.json")
        models: dict[str, str] = {}
        checks: dict[str, str] = {}
        for entry in _results(runs):
            models[str(entry.get("id"))] = str(entry.get("status"))
            for check in entry.get("tests") or ():
                if isinstance(check, dict):
                    checks[str(check.get("name"))] = str(check.get("status"))
        for check in _results(tests):
            checks[str(check.get("name"))] = str(check.get("status"))
        return cls(state, manifest, MappingProxyType(models), MappingProxyType(checks),
                   runs is not None or tests is not None)

    def statuses(self, compiled: CompiledProject, mid: str) -> set[str]:
        """The model's own status in the previous run, and those of the tests on it."""
        found = {self.model_status[mid]} if mid in self.model_status else set()
        for test in compiled.tests:
            if test.name in self.test_status and mid in (test.model, *test.depends_on):
                found.add(self.test_status[test.name])
        return found

    def state(self, compiled: CompiledProject, value: str) -> set[str]:
        """The models in state `value` against the previous manifest and compiled SQL."""
        if value not in STATES:
            raise ValueError(value)
        before = (self.manifest or {}).get("models") or {}
        old = {m for m in compiled.models if m in before}
        if value == "new":
            return set(compiled.models) - old
        if value == "old":
            return old
        checks = {"modified.body": self._body_changed, "modified.configs": _configs_changed,
                  "modified.contract": self._contract_changed}
        if value in checks:
            return {m for m in old if checks[value](compiled, m, before[m])}
        changed = {m for m in old if any(check(compiled, m, before[m])
                                         for check in checks.values())}
        return changed | (set(compiled.models) - old) if value == "modified" else old - changed

    def _body_changed(self, compiled: CompiledProject, mid: str, _: Any) -> bool:
        model = compiled.models[mid]
        assert self.folder is not None
        path = self.folder / "compiled" / model.product / f"{model.name}.sql"
        variants = [(path, model.sql)]
        if model.incremental_sql is not None:
            variants.append((path.with_suffix(".incremental.sql"), model.incremental_sql))
        for file, sql in variants:
            try:
                if file.read_text(encoding="utf-8").rstrip() != sql.rstrip():
                    return True
            except OSError:
                return True
        return False

    def _contract_changed(self, compiled: CompiledProject, mid: str, _: Any) -> bool:
        model = compiled.models[mid]
        if model.port is None:
            return False
        spec = compiled.project.by_name[model.product].spec.output(model.port)
        now = [(c.name, c.type) for c in spec.columns or ()] if spec and spec.columns else None
        product = ((self.manifest or {}).get("products") or {}).get(model.product) or {}
        ports = {o.get("name"): o for o in product.get("outputs") or () if isinstance(o, dict)}
        port = ports.get(model.port)
        if port is None:
            return True
        cols = port.get("columns")
        then = [(c.get("name"), c.get("type")) for c in cols] if isinstance(cols, list) else None
        return now != then


def _configs_changed(compiled: CompiledProject, mid: str, before: Any) -> bool:
    model = compiled.models[mid]
    if not isinstance(before, dict):
        return True
    return (before.get("materialized") != str(model.config.materialized)
            or list(before.get("tags") or []) != list(model.config.tags))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _results(data: Any) -> list[dict[str, Any]]:
    found = data.get("results") if isinstance(data, dict) else None
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
