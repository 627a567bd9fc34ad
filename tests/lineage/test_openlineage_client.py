"""`dpsql lineage --format openlineage` checked with OpenLineage's own Python client.

A second check, independent of the hand-written JSON Schema in tests/fixtures/openlineage/:
the classes in `openlineage.client.event_v2` and `openlineage.client.facet_v2` (package
openlineage-python) are generated from the specification's JSON schemas, and carry their field
names, which fields are required, the facets' `_schemaURL`s and validators (a UUID `runId`, an
ISO date-time with a time in `eventTime`, the `eventType` enumeration). The package ships no
schema files and no deserialiser, so each event is structured into those classes here, from
the classes' own attrs fields and type hints:

- a key the class has no field for fails (an unknown or misspelt field);
- a field the class requires, or the specification's `producer`/`schemaURL`/`_producer`/
  `_schemaURL` (which the classes would fill in by themselves), that is missing fails;
- a value of the wrong JSON type for the field's annotation fails, and so does a validator;
- a facet key not in FACETS fails: the client does not map keys to facet classes, so FACETS
  holds the facets dpsql emits under the keys their schemas define; any other key is either not
  the spec's or a facet this check cannot structure.

Then the round trip: the client's own serialisation (`Serde.to_dict`) of the structured event
must equal the event, but for the empty collections listed in CLIENT_FILLS_IN. `schemaURL` and
`_schemaURL` are not inputs of the classes but derived from the class, so the round trip also
checks every schema URL and its version.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import traceback
import types
from collections import Counter
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import attr
import pytest
from click.testing import CliRunner
from openlineage.client.event_v2 import RunEvent
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    JobFacet,
    OutputDatasetFacet,
    RunFacet,
    column_lineage_dataset,
    job_type_job,
    schema_dataset,
    sql_job,
)
from openlineage.client.serde import Serde

from dpsql.cli.commands import main

SHOP = Path(__file__).resolve().parents[2] / "projects" / "shop"

# The facets dpsql emits, under the key each facet's schema defines, by the kind of facet the
# facets object holds.
FACETS: dict[type, dict[str, type]] = {
    DatasetFacet: {"schema": schema_dataset.SchemaDatasetFacet,
                   "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet},
    JobFacet: {"sql": sql_job.SQLJobFacet, "jobType": job_type_job.JobTypeJobFacet},
    RunFacet: {},
    InputDatasetFacet: {},
    OutputDatasetFacet: {},
}

# Required by the specification (BaseEvent, BaseFacet) though the classes default them: the
# producer to the client's own, the schema URL to the class's.
SPEC_REQUIRED = frozenset({"producer", "schemaURL", "_producer", "_schemaURL"})

# What Serde.to_dict adds to an event that leaves it out: optional collections the classes
# default to empty (attrs factories), which Serde keeps since it drops only nulls. They carry
# nothing: an empty `run.facets`, `inputFacets`/`outputFacets` (dpsql attaches no run, input
# or output facets), and the empty nested `fields` of a schema field that is not a struct
# (dpsql writes a struct column's type as one type string). `*` is every item of a list.
CLIENT_FILLS_IN: tuple[tuple[str, ...], ...] = (
    ("run", "facets"),
    ("inputs", "*", "inputFacets"),
    ("outputs", "*", "outputFacets"),
    ("inputs", "*", "facets", "schema", "fields", "*", "fields"),
    ("outputs", "*", "facets", "schema", "fields", "*", "fields"),
)


class Mismatch(AssertionError):
    """An event that the official classes do not accept, or that does not round-trip."""


def structure(value: Any, hint: Any, path: str) -> Any:
    """`value` (parsed JSON) as an instance of `hint`, a generated class's field annotation."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(get_args(hint)):
            return None
        assert len(options) == 1, f"{path}: unexpected annotation {hint}"
        return structure(value, options[0], path)
    if value is None:
        raise Mismatch(f"{path}: null where {hint} is expected")
    if origin is list:
        if not isinstance(value, list):
            raise Mismatch(f"{path}: {type(value).__name__} where a list is expected")
        (item,) = get_args(hint)
        return [structure(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: {type(value).__name__} where an object is expected")
        key_type, item = get_args(hint)
        assert key_type is str
        if item in FACETS:
            return {k: structure_facet(v, item, k, f"{path}.{k}") for k, v in value.items()}
        return {k: structure(v, item, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise Mismatch(f"{path}: {value!r} is not one of {[m.value for m in hint]}") from None
    if attr.has(hint):
        return structure_attrs(value, hint, path)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    else:
        raise AssertionError(f"{path}: annotation {hint} not handled")
    if not ok:
        raise Mismatch(f"{path}: {type(value).__name__} {value!r} where {hint.__name__} is expected")
    return value


def structure_facet(value: Any, kind: type, key: str, path: str) -> Any:
    cls = FACETS[kind].get(key)
    if cls is None:
        raise Mismatch(f"{path}: {key!r} is not a {kind.__name__} checked here "
                       f"(those are: {', '.join(FACETS[kind]) or 'none'})")
    return structure_attrs(value, cls, path)


def structure_attrs(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise Mismatch(f"{path}: {type(value).__name__} where a {cls.__name__} object is expected")
    fields = {a.name: a for a in attr.fields(cls)}  # JSON keys are the attribute names
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise Mismatch(f"{path}: {cls.__name__} has no field {', '.join(unknown)}")
    hints = get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name not in value:
            if field.default is attr.NOTHING or name in SPEC_REQUIRED:
                raise Mismatch(f"{path}: {cls.__name__} requires {name}")
            continue
        if field.init:  # schemaURL and _schemaURL are derived from the class, not taken
            kwargs[field.alias] = structure(value[name], hints[name], f"{path}.{name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise Mismatch(f"{path}: {cls.__name__} rejects it: {e}") from e


def _drop_filled_in(client: Any, ours: Any, path: tuple[str, ...]) -> int:
    """Drop from `client` what the client filled in at `path`; how many were dropped."""
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(client, list) or not isinstance(ours, list):
            return 0
        return sum(_drop_filled_in(c, o, rest) for c, o in zip(client, ours, strict=False))
    if not isinstance(client, dict) or not isinstance(ours, dict) or head not in client:
        return 0
    if rest:
        return _drop_filled_in(client[head], ours.get(head), rest)
    if head not in ours and client[head] in ({}, []):
        del client[head]
        return 1
    return 0


def check(event: dict[str, Any], filled_in: Counter[tuple[str, ...]] | None = None) -> RunEvent:
    """The event as the client's RunEvent; raises Mismatch unless it is one, field for field."""
    structured = structure_attrs(event, RunEvent, "event")
    client = Serde.to_dict(structured)
    for path in CLIENT_FILLS_IN:
        dropped = _drop_filled_in(client, event, path)
        if filled_in is not None:
            filled_in[path] += dropped
    if client != event:
        raise Mismatch("the client serialises the event differently:\n" + "\n".join(_diff(event, client)))
    return structured


def _diff(ours: Any, client: Any, path: str = "event") -> Iterator[str]:
    if isinstance(ours, dict) and isinstance(client, dict):
        for key in sorted(set(ours) | set(client)):
            if key not in client:
                yield f"{path}.{key}: dropped by the client"
            elif key not in ours:
                yield f"{path}.{key}: added by the client: {client[key]!r}"
            else:
                yield from _diff(ours[key], client[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(client, list) and len(ours) == len(client):
        for i, (o, c) in enumerate(zip(ours, client, strict=True)):
            yield from _diff(o, c, f"{path}[{i}]")
    elif ours != client:
        yield f"{path}: ours {ours!r}, the client's {client!r}"


def _facets_of(event: RunEvent) -> Iterator[object]:
    yield from (event.job.facets or {}).values()
    for dataset in [*(event.inputs or []), *(event.outputs or [])]:
        yield from (dataset.facets or {}).values()


@pytest.fixture(scope="module")
def shop_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ol") / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "*.duckdb*", "__pycache__"))
    result = CliRunner().invoke(main, ["lineage", "-p", str(root), "--format", "openlineage"])
    assert result.exit_code == 0, result.output + "".join(
        traceback.format_exception(*result.exc_info) if result.exc_info else "")
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_shop_events_are_the_clients_run_events(shop_events: list[dict[str, Any]]) -> None:
    assert len(shop_events) == len(list(SHOP.glob("*/*/models/*.sql")))  # a job per model
    seen: set[type] = set()
    filled_in: Counter[tuple[str, ...]] = Counter()
    for event in shop_events:
        structured = check(event, filled_in)
        assert structured.eventType is not None and structured.eventType.value == "COMPLETE"
        seen.update(type(f) for f in _facets_of(structured))
        _check_lineage_refers_to_the_event(structured)
    assert seen == {cls for known in FACETS.values() for cls in known.values()}
    # every allowance is needed by some event: the list says exactly what the client adds
    assert [p for p in CLIENT_FILLS_IN if not filled_in[p]] == []


def _check_lineage_refers_to_the_event(event: RunEvent) -> None:
    """Column lineage names columns of the event's inputs, for columns of its output."""
    def columns(dataset: Any) -> set[str]:
        schema = (dataset.facets or {}).get("schema")
        return {f.name for f in schema.fields} if schema else set()

    inputs = {(d.namespace, d.name): columns(d) for d in event.inputs or []}
    (output,) = event.outputs or []
    lineage = (output.facets or {})["columnLineage"]
    assert isinstance(lineage, column_lineage_dataset.ColumnLineageDatasetFacet)
    assert lineage.fields and set(lineage.fields) <= columns(output), event.job.name
    used = [f for fields in lineage.fields.values() for f in fields.inputFields]
    for field in [*used, *(lineage.dataset or [])]:
        assert field.field in inputs[(field.namespace, field.name)], (event.job.name, field)
        assert field.transformations, (event.job.name, field)


def _set(path: str, value: Any) -> Any:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = event
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return change


_DELETE = object()
_LINEAGE = "outputs.0.facets.columnLineage"
_FIRST_FIELD = f"{_LINEAGE}.fields.customer_id.inputFields.0"


BROKEN = [
    (_set("eventtype", "COMPLETE"), "RunEvent has no field eventtype"),
    (_set(f"{_LINEAGE}.fields.customer_id.inputfields", []), "Fields has no field inputfields"),
    (_set("job.facets.sqlQuery", {"query": "select 1"}), "'sqlQuery' is not a JobFacet"),
    (_set("job.name", _DELETE), "Job requires name"),
    (_set(f"{_FIRST_FIELD}.field", _DELETE), "InputField requires field"),
    (_set("producer", _DELETE), "RunEvent requires producer"),
    (_set("job.facets.sql._schemaURL", _DELETE), "SQLJobFacet requires _schemaURL"),
    (_set(f"{_FIRST_FIELD}.transformations.0.masking", "false"), "str 'false' where bool"),
    (_set("inputs", {}), "dict where a list is expected"),
    (_set("outputs.0.facets.schema.fields.0.type", None), "dropped by the client"),
    (_set("eventType", "DONE"), "'DONE' is not one of"),
    (_set("run.runId", "run-1"), "Run rejects it"),
    (_set("eventTime", "2024-01-01"), "RunEvent rejects it"),
    (_set("job.facets.jobType._schemaURL",
          "https://openlineage.io/spec/facets/1-0-0/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"),
     "_schemaURL: ours"),
    (_set("run.facets", {"nominalTime": {}}), "'nominalTime' is not a RunFacet"),
]


@pytest.mark.parametrize("change, message", BROKEN, ids=[m for _, m in BROKEN])
def test_the_check_rejects_broken_events(shop_events: list[dict[str, Any]],
                                          change: Any, message: str) -> None:
    event = copy.deepcopy(next(e for e in shop_events if e["job"]["name"] == "customers.stg_customers"))
    check(event)
    change(event)
    with pytest.raises(Mismatch, match=re.escape(message)):
        check(event)
