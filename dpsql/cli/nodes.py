"""`dpsql ls --select ... --output name|path|json|selector`: the selected models, the data
tests that read them and the inputs they read, one per line, as `dbt ls` prints nodes.

`--output json` prints one JSON object per line with dbt's keys (name, resource_type,
package_name, original_file_path, unique_id, alias, config, tags, depends_on), taken from
the same nodes as target/dbt/manifest.json, plus `id`: dpsql's own name of the node.
"""

from __future__ import annotations

import json
from typing import Any

from dpsql.build.plan import Plan
from dpsql.build.testing import select_tests
from dpsql.core.project import CompiledProject
from dpsql.outputs.dbt_artifacts import dbt_manifest, model_uid, source_uid, test_uid

OUTPUTS = ("selector", "name", "path", "json")
RESOURCE_TYPES = ("model", "test", "source")
_KEYS = ("name", "resource_type", "package_name", "original_file_path", "unique_id", "alias",
         "config", "tags", "depends_on")


def node_lines(compiled: CompiledProject, plan: Plan, output: str,
               resource_types: tuple[str, ...]) -> list[str]:
    """One line per selected node, in the chosen output."""
    manifest = dbt_manifest(compiled)
    wanted = resource_types or RESOURCE_TYPES
    found: list[tuple[str, dict[str, Any]]] = []  # (dpsql's name, the dbt node)
    if "model" in wanted:
        found += [(mid, manifest["nodes"][model_uid(mid)]) for mid in plan.models
                  if model_uid(mid) in manifest["nodes"]]
    if "test" in wanted:
        found += [(t.name, manifest["nodes"][test_uid(t)])
                  for t in select_tests(compiled, plan)]
    if "source" in wanted:
        read = sorted({(compiled.models[m].product, i) for m in plan.models
                       for i in compiled.models[m].inputs})
        found += [(f"{p}.{i}", manifest["sources"][source_uid(p, i)]) for p, i in read
                  if source_uid(p, i) in manifest["sources"]]
    return [_line(name, node, output) for name, node in found]


def _line(name: str, node: dict[str, Any], output: str) -> str:
    if output == "name":
        return str(node["name"])
    if output == "path":
        return str(node["original_file_path"])
    if output == "json":
        data = {key: node.get(key) for key in _KEYS}
        data["depends_on"] = data["depends_on"] or {"nodes": []}
        return json.dumps({"id": name, **data})
    prefix = "source:" if node["resource_type"] == "source" else ""
    return prefix + name


def compiled_sql(compiled: CompiledProject, plan: Plan) -> str:
    """`dpsql compile --select`: each selected model's compiled SQL, under its file's name."""
    return "".join(f"-- {mid}: target/compiled/{mid.replace('.', '/', 1)}.sql\n"
                   f"{compiled.models[mid].sql.rstrip()}\n\n" for mid in plan.models)

