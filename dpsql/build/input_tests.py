"""The data tests on file and table inputs, in a build: run once, before the first model, on
the inputs that the models about to be rebuilt read (as `dbt build` tests a source before the
models that select from it). A model reading an input whose test failed is skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dpsql.build.results import CheckResult
from dpsql.core.project import CompiledProject, DataTest


def run_input_tests(run_test: Callable[[DataTest], CheckResult], compiled: CompiledProject,
                    read: Iterable[tuple[str, str]]
                    ) -> tuple[tuple[CheckResult, ...], dict[tuple[str, str], str]]:
    """The results, and each input (product, name) whose tests failed, with why; `run_test`
    runs one test on the engine's warehouse."""
    wanted = set(read)
    checks: list[CheckResult] = []
    broken: dict[tuple[str, str], str] = {}
    for test in compiled.tests:
        key = (test.product, test.input or "")
        if test.input is None or test.depends_on or key not in wanted:
            continue  # a test on another product's port runs with that port's model
        result = run_test(test)
        checks.append(result)
        if not result.ok and key not in broken:
            broken[key] = f"its test {test.name} failed ({result.message})"
    return tuple(checks), broken
