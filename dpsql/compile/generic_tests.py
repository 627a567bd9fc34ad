"""The data tests declared in product.yml, compiled: built-in ones (datatests.py) and custom
generic tests (`{% test %}` blocks of the macro files, testblocks.py).

A custom test is rendered like a model whose template is the call
`{{ test_<name>(model=ref('stg_orders'), column_name='order_id', <arguments>) }}`: the block
gets the tested relation as `model`, so its SQL is resolved and checked like any model's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from sqlglot import exp

from dpsql.compile import sql as sqlmod
from dpsql.compile.bind import compile_model
from dpsql.compile.datatests import Memo, builtin_test, check_sql, condition_of, restrict
from dpsql.compile.templating import Renderer
from dpsql.compile.testblocks import PREFIX
from dpsql.compile.testdefs import BUILTIN_TESTS, Entry, declared
from dpsql.core.errors import Diagnostic, closest, error
from dpsql.core.project import CompiledModel, DataTest, ModelSource, Product, Project

Inline = Callable[[exp.Query], exp.Query]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def product_tests(project: Project, product: Product, models: Mapping[str, CompiledModel],
                  renderer: Renderer, inline: Inline, diagnostics: list[Diagnostic],
                  memo: Memo | None = None) -> list[DataTest]:
    """Every test declared in the product's product.yml, compiled (`memo`: see
    builtin_test)."""
    entries, problems = declared(project, product, models)
    diagnostics.extend(problems)
    tests: list[DataTest] = []
    for entry in entries:
        if entry.kind in BUILTIN_TESTS:
            test, problem = builtin_test(project, entry, models, inline, memo)
            if problem is not None:
                diagnostics.append(problem)
        else:
            test = custom_test(project, entry, renderer, inline, diagnostics)
        if test is not None:
            tests.append(test)
    return tests


def custom_test(project: Project, entry: Entry, renderer: Renderer, inline: Inline,
                diagnostics: list[Diagnostic]) -> DataTest | None:
    """A `{% test %}` block applied to the entry's model, input or port."""
    target, product = entry.target, entry.target.product
    env, _ = renderer.environment(product)
    macro = PREFIX + entry.kind
    if macro not in env.globals:
        known = [*BUILTIN_TESTS, *sorted(n.removeprefix(PREFIX) for n in env.globals
                                         if n.startswith(PREFIX))]
        close = closest(entry.kind, known)
        diagnostics.append(error(
            "DP601", f"unknown test `{entry.kind}` on `{target.label}`", entry.location,
            (f"did you mean `{close}`? " if close else "") + "known tests: " + ", ".join(known)
            + "; a custom one is a `{% test " + entry.kind + "(model, column_name) %}` block "
            "in a macro file"))
        return None
    call, problem = _call(macro, entry)
    if problem is not None:
        diagnostics.append(problem)
        return None
    condition, problem = condition_of(entry)
    if problem is not None:
        diagnostics.append(problem)
        return None
    source = ModelSource(product.name, f"__test_{entry.kind}", product.spec.yml, call)
    found: list[Diagnostic] = []
    bound = compile_model(project, product, source, renderer, found)
    # what went wrong in the call itself is at the test in product.yml
    diagnostics.extend(replace(d, location=entry.location)
                       if d.location is not None and d.location.path == product.spec.yml
                       else d for d in found)
    if bound is None:
        return None
    compiled, tree = bound
    if condition is not None:
        tree = restrict(tree, target.relation, condition)
    tree = inline(tree)
    column = f".{entry.column}" if entry.column else ""
    name = f"{entry.kind}({target.label}{column})" + (f" where {entry.where}" if entry.where
                                                        else "")
    return DataTest(name, entry.kind, product.name, sqlmod.generate(tree), compiled.depends_on,
                    entry.location, model=target.model,
                    column=entry.column, check_sql=check_sql(tree), severity=entry.severity,
                    where=entry.where, input=target.input,
                    kwargs=MappingProxyType(dict(entry.args or {})))


def _call(macro: str, entry: Entry) -> tuple[str, Diagnostic | None]:
    """The template that calls the test block with its arguments."""
    args = entry.args if entry.args is not None else {}
    if not isinstance(args, dict):
        return "", error("DP602", f"the arguments of test `{entry.kind}` on "
                         f"`{entry.target.label}` must be a mapping", entry.location,
                         f"write `- {entry.kind}: {{argument: value}}`")
    parts = [f"model={entry.target.template}"]
    if entry.column is not None:
        parts.append(f"column_name={_literal(entry.column)}")
    for key, value in args.items():
        if not isinstance(key, str) or not _NAME.match(key) or key in ("model", "column_name"):
            return "", error("DP602", f"`{key}` cannot be an argument of test `{entry.kind}`",
                             entry.location, "name arguments with letters, digits and "
                             "underscores; `model` and `column_name` are given by dpsql")
        parts.append(f"{key}={_literal(value)}")
    return "{{ " + macro + "(" + ", ".join(parts) + ") }}", None


def _literal(value: Any) -> str:
    """A YAML value written as a Jinja literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_literal(v)}"
                               for k, v in value.items()) + "}"
    return json.dumps(str(value))
