"""OpenLineage run events: one COMPLETE event per model, carrying the column lineage facet.

Spec: OpenLineage 2-0-2 (RunEvent), ColumnLineageDatasetFacet 1-2-0, SchemaDatasetFacet 1-2-0,
SQLJobFacet 1-1-0, JobTypeJobFacet 2-0-4. Datasets are named as in the warehouse,
`<schema>.<relation>`, in the namespace `duckdb://<workspace name>`; jobs are named by model id
(`<product>.<model>`) in the namespace `<workspace name>`. Events are printed one per line
(JSON Lines), the form OpenLineage's file transport and most collectors take.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp
from sqlglot.schema import MappingSchema

from dpsql.core import __version__
from dpsql.core.lineage import Col, is_direct, kind_of
from dpsql.lineage.graph import LineageGraph, RelKey
from dpsql.lineage.query import Subgraph
from dpsql.lineage.values import masked_inputs

PRODUCER = f"https://pypi.org/project/dpsql/{__version__}/"
_SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{_SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
COLUMN_LINEAGE_SCHEMA = (f"{_SPEC}/facets/1-2-0/ColumnLineageDatasetFacet.json"
                         "#/$defs/ColumnLineageDatasetFacet")
SCHEMA_SCHEMA = f"{_SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
SQL_SCHEMA = f"{_SPEC}/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
JOB_TYPE_SCHEMA = f"{_SPEC}/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"


def namespaces(graph: LineageGraph) -> tuple[str, str]:
    """(job namespace, dataset namespace) of a workspace."""
    name = graph.compiled.project.config.name
    return name, f"duckdb://{name}"


def models_of(graph: LineageGraph, sub: Subgraph) -> list[str]:
    """The models whose events describe a subgraph, in build order."""
    wanted: set[str] = set()
    compiled = graph.compiled
    if sub.level == "workspace":
        wanted = set(compiled.models)
    elif sub.level == "product":
        products = {n.id for n in sub.nodes if n.kind == "product"}
        wanted = {m for m, model in compiled.models.items() if model.product in products}
    elif sub.level == "model":
        wanted = {n.id for n in sub.nodes if n.id in compiled.models}
    else:
        wanted = {k.via for k in sub.links if k.via}
        focus = sub.node(sub.focus or "")
        if focus is not None:
            wanted.update(o.model for key, o in graph.owners.items()
                          if o.model and graph.label(key) == focus.relation)
    return [m for m in compiled.order if m in wanted]


def run_events(graph: LineageGraph, models: Iterable[str], *,
               event_time: datetime | None = None) -> list[dict[str, Any]]:
    when = (event_time or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    masks = frozenset(m for c in graph.compiled.project.config.policies.classifications.values()
                      for m in c.masks)
    schema = _schema(graph) if masks else None
    return [run_event(graph, mid, when, masks, schema) for mid in models]


def _schema(graph: LineageGraph) -> MappingSchema:
    """The columns of every relation, for sqlglot (to trace a model with its masks removed)."""
    schema = MappingSchema(dialect="duckdb", normalize=False)
    for (db, name), columns in graph.columns.items():
        schema.add_table(exp.Table(this=exp.to_identifier(name), db=exp.to_identifier(db)),
                         {c.name: c.type for c in columns}, dialect="duckdb")
    return schema


def run_event(graph: LineageGraph, model_id: str, event_time: str,
              masks: frozenset[str] = frozenset(), schema: MappingSchema | None = None
              ) -> dict[str, Any]:
    model = graph.compiled.models[model_id]
    lineage = graph.lineages.get(model_id)
    job_ns, data_ns = namespaces(graph)
    target = (model.relation.schema, model.relation.name)
    inputs = [_dataset(graph, key, data_ns) for key in graph.rel_up.get(target, ())]
    output = _dataset(graph, target, data_ns)
    if lineage is not None:
        masked = (masked_inputs(model, lineage, masks, schema)
                  if masks and schema is not None else {})
        output["facets"]["columnLineage"] = {
            "_producer": PRODUCER,
            "_schemaURL": COLUMN_LINEAGE_SCHEMA,
            "fields": {name: {"inputFields": _input_fields(sources, data_ns,
                                                           masked.get(name, frozenset()))}
                       for name, sources in lineage.fields.items()},
            "dataset": _input_fields(lineage.dataset, data_ns),
        }
    return {
        "eventType": "COMPLETE",
        "eventTime": event_time,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": str(uuid.uuid4())},
        "job": {
            "namespace": job_ns,
            "name": model_id,
            "facets": {
                "sql": {"_producer": PRODUCER, "_schemaURL": SQL_SCHEMA, "query": model.sql,
                        "dialect": "duckdb"},
                "jobType": {"_producer": PRODUCER, "_schemaURL": JOB_TYPE_SCHEMA,
                            "processingType": "BATCH", "integration": "DPSQL",
                            "jobType": "MODEL"},
            },
        },
        "inputs": inputs,
        "outputs": [output],
    }


def _dataset(graph: LineageGraph, key: RelKey, namespace: str) -> dict[str, Any]:
    described = _descriptions(graph, key)
    fields = []
    for column in graph.columns.get(key, ()):
        field: dict[str, Any] = {"name": column.name, "type": column.type}
        if described.get(column.name):
            field["description"] = described[column.name]
        fields.append(field)
    facets: dict[str, Any] = {}
    if fields:
        facets["schema"] = {"_producer": PRODUCER, "_schemaURL": SCHEMA_SCHEMA, "fields": fields}
    return {"namespace": namespace, "name": f"{key[0]}.{key[1]}", "facets": facets}


def _descriptions(graph: LineageGraph, key: RelKey) -> dict[str, str]:
    owner = graph.owners.get(key)
    if owner is None or owner.port is None:
        return {}
    spec = graph.compiled.project.by_name[owner.product].spec.output(owner.port)
    if spec is None:
        return {}
    return {c.name: c.description for c in (spec.columns or ()) if c.description}


def _input_fields(sources: Mapping[Col, frozenset[str]], namespace: str,
                  masked: frozenset[Col] = frozenset()) -> list[dict[str, Any]]:
    """`masked`: sources whose value reaches the field only through a `masked_by` function."""
    out = []
    for col in sorted(sources):
        out.append({
            "namespace": namespace,
            "name": f"{col.schema}.{col.name}",
            "field": col.column,
            "transformations": [{"type": kind_of(s), "subtype": s,
                                 "masking": col in masked and is_direct(s)}
                                for s in sorted(sources[col])],
        })
    return out


def to_openlineage(graph: LineageGraph, sub: Subgraph) -> str:
    events = run_events(graph, models_of(graph, sub))
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
