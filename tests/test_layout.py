"""The package's layout: stages import only downwards, modules import in no cycle, and modules
and functions stay small enough to read.

The stages, lowest first: core < load < lineage < compile < adopt < change < overlap < build < outputs
< cli, and the benchmark (dpsql/bench) over all of them. dpsql/__init__.py and dpsql/__main__.py count as cli.
Every import counts, wherever it is written: at the top of a module, under
`if TYPE_CHECKING:`, or inside a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import dpsql

PACKAGE_DIR = Path(dpsql.__file__).resolve().parent
STAGES = ("core", "load", "lineage", "compile", "adopt", "change", "overlap", "build", "outputs", "cli",
          "bench")
TOP_STAGE = "cli"  # of the package's own __init__ and __main__
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Import:
    importer: str  # a module of the package, `dpsql.compile.sql`
    imported: str  # the module or package of the package it imports
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


# --- the checker ----------------------------------------------------------------------------


def package_modules(root: Path) -> dict[str, Path]:
    """Module name -> file for every .py under a package folder (packages by their __init__)."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is a module of the package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - node.level + 1]
    return ".".join([*anchor, node.module] if node.module else anchor)


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> list[Import]:
    """Every import of another module of the package in one file, wherever it is written."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):  # every node: module level, TYPE_CHECKING blocks, functions
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets: list[str | None] = []
        if isinstance(node, ast.Import):
            targets = [_known(alias.name, modules) for alias in node.names]
        else:
            base = _base(node, module, is_package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in modules else _known(base, modules))
        for target in targets:
            if target is not None and target != module:
                found.append(Import(module, target, path, node.lineno))
    return found


def all_imports(root: Path) -> list[Import]:
    modules = package_modules(root)
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def stage_of(module: str, stages: Sequence[str] = STAGES, top: str = TOP_STAGE) -> str | None:
    """The stage of a module: the first package under the root, or `top` for the root's own
    modules (`__init__`, `__main__`); None for a module that belongs to no stage."""
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] == "__main__"):
        return top
    return parts[1] if parts[1] in stages else None


def upward_imports(imports: Iterable[Import], stages: Sequence[str] = STAGES,
                   top: str = TOP_STAGE) -> list[str]:
    """Each import from a lower stage of one of a higher stage, and each module of no stage."""
    rank = {stage: i for i, stage in enumerate(stages)}
    problems: list[str] = []
    for imp in imports:
        low, high = stage_of(imp.importer, stages, top), stage_of(imp.imported, stages, top)
        for module, stage in ((imp.importer, low), (imp.imported, high)):
            if stage is None:
                problems.append(f"{module} is in no stage (one of {', '.join(stages)})")
        if low is not None and high is not None and rank[low] < rank[high]:
            problems.append(f"{imp.importer} ({low}) imports {imp.imported} ({high}) "
                            f"at {imp.where()}")
    return sorted(set(problems))


def import_cycles(imports: Iterable[Import]) -> list[list[str]]:
    """The cycles of the module import graph: one per strongly connected component, each
    written `a, b, ..., a`."""
    edges: dict[str, set[str]] = {}
    for imp in imports:
        edges.setdefault(imp.importer, set()).add(imp.imported)
        edges.setdefault(imp.imported, set())
    cycles = []
    for component in _components(edges):
        inside = set(component)
        start = min(component)
        if len(component) > 1 or start in edges[start]:
            cycles.append(_cycle_through(start, edges, inside))
    return sorted(cycles)


def _components(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _cycle_through(start: str, edges: Mapping[str, set[str]], inside: set[str]) -> list[str]:
    """A shortest cycle from `start` back to itself within one component (breadth first)."""
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node] & inside):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in no cycle")


def oversized(root: Path, max_module: int = MAX_MODULE_LINES,
              max_function: int = MAX_FUNCTION_LINES) -> list[str]:
    """Modules over `max_module` lines and functions (methods, nested ones) over `max_function`."""
    problems: list[str] = []
    for module, path in package_modules(root).items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > max_module:
            problems.append(f"module {module}: {lines} lines (at most {max_module})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > max_function:
                    problems.append(f"function {module}.{node.name} at {path.name}:{node.lineno}: "
                                    f"{length} lines (at most {max_function})")
    return problems


# --- the package ----------------------------------------------------------------------------


def test_stages_import_only_downwards() -> None:
    problems = upward_imports(all_imports(PACKAGE_DIR))
    assert not problems, "imports against the stage order:\n" + "\n".join(problems)


def test_modules_import_in_no_cycle() -> None:
    cycles = import_cycles(all_imports(PACKAGE_DIR))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_modules_and_functions_are_small() -> None:
    problems = oversized(PACKAGE_DIR)
    assert not problems, "too long:\n" + "\n".join(problems)


def test_the_checker_sees_the_package() -> None:
    modules = package_modules(PACKAGE_DIR)
    imports = all_imports(PACKAGE_DIR)
    assert {"dpsql", "dpsql.core.errors", "dpsql.cli.commands", "dpsql.bench.report"} <= set(modules)
    assert {stage_of(m) for m in modules} == set(STAGES)
    assert {i.importer for i in imports} >= {"dpsql.cli.commands", "dpsql.compile.pipeline"}


# --- the checker, on a fake package ---------------------------------------------------------


def _fake_package(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "fake"
    for rel, text in {"__init__.py": "", **files}.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.parent / "__init__.py").exists() and path.parent != package:
            (path.parent / "__init__.py").write_text("", encoding="utf-8")
        path.write_text(text, encoding="utf-8")
    return package


def test_checker_finds_upward_imports_wherever_written(tmp_path: Path) -> None:
    package = _fake_package(tmp_path, {
        "core/values.py": "from typing import TYPE_CHECKING\n"
                          "if TYPE_CHECKING:\n"
                          "    from fake.build.engine import run\n"
                          "def late():\n"
                          "    import fake.cli.main\n"
                          "    from ..load import reader\n",
        "load/reader.py": "from fake.core import values\nfrom .. import core\n",
        "build/engine.py": "from fake.load.reader import read\nrun = 1\n",
        "cli/main.py": "import fake.build.engine\n",
        "stray.py": "from fake.core.values import late\n",
    })
    problems = upward_imports(all_imports(package))
    assert problems == [
        "fake.core.values (core) imports fake.build.engine (build) at values.py:3",
        "fake.core.values (core) imports fake.cli.main (cli) at values.py:5",
        "fake.core.values (core) imports fake.load.reader (load) at values.py:6",
        "fake.stray is in no stage (one of core, load, lineage, compile, adopt, change, overlap, "
        "build, outputs, cli, bench)",
    ]


def test_checker_finds_cycles(tmp_path: Path) -> None:
    package = _fake_package(tmp_path, {
        "load/a.py": "from fake.load import b\n",
        "load/b.py": "def f():\n    from fake.load.c import x\n",
        "load/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import fake.load.a\n",
        "load/d.py": "from fake.load import a\n",  # reaches the cycle, is not in it
        "core/self.py": "from fake.core.self import x\n",  # a module importing itself is none
    })
    assert import_cycles(all_imports(package)) == [
        ["fake.load.a", "fake.load.b", "fake.load.c", "fake.load.a"]]


def test_checker_finds_long_modules_and_functions(tmp_path: Path) -> None:
    body = "".join(f"        x{i} = {i}\n" for i in range(60))
    package = _fake_package(tmp_path, {
        "core/long.py": "def short():\n    pass\n\n\nclass C:\n    def long(self):\n" + body,
        "core/big.py": "x = 1\n" * 451,
    })
    assert sorted(oversized(package)) == [
        "function fake.core.long.long at long.py:6: 61 lines (at most 60)",
        "module fake.core.big: 451 lines (at most 450)",
    ]


@pytest.mark.parametrize(("module", "stage"), [
    ("dpsql", "cli"), ("dpsql.__main__", "cli"), ("dpsql.core", "core"),
    ("dpsql.compile.typing.schema", "compile"), ("dpsql.bench.report", "bench"), ("dpsql.misc", None),
])
def test_stage_of(module: str, stage: str | None) -> None:
    assert stage_of(module) == stage
