"""Templates that need no Jinja: plain SQL, and SQL whose only tags are simple calls.

Most models are SQL with a few tags of one form: `{{ ref('orders') }}`, `{{ input('raw') }}`,
`{{ source('raw') }}`, `{{ config(materialized='table') }}`, `{{ var('start') }}`, `{{ this }}`,
every argument a literal. Compiling such a template with Jinja costs about ten times more than
rendering it, so `split()` reads it directly: the text between tags, and each tag as a call with
its literal arguments. The renderer (templating.py) evaluates those calls with the same
functions Jinja would call, and falls back to Jinja whenever a call reports a problem, so that
every diagnostic still comes from one place, with its location.

Anything else falls back to Jinja: blocks (`{%`), comments (`{#`), whitespace control
(`{{-`), filters, expressions, a tag spread over lines, a name other than those above,
an argument that is not a literal, a text with a backslash in it, a carriage return. Setting the environment
variable `DPSQL_NO_FAST_PATHS` (to anything but empty) sends every template to Jinja.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dpsql.compile.sandbox import TemplateRefused, metered
from dpsql.core.relations import RenderedRelation
from dpsql.core.runtime import fast_paths_enabled

NAMES = frozenset({"ref", "input", "source", "config", "var"})
_TAG = re.compile(r"\{\{ *([A-Za-z_]\w*) *(?:\((.*?)\))? *\}\}")
_OPENERS = ("{%", "{#", "{{-")
NOT_SIMPLE = object()  # what a call's evaluator returns when Jinja must render the template
_PRINTED = (str, int, float, RenderedRelation)  # what a simple call may print (else: Jinja)


@dataclass(frozen=True)
class Call:
    """One `{{ name(args) }}` tag (or `{{ this }}`: name "this", `bare`)."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    line: int  # 1-based line of the template the tag is on
    bare: bool = False


def render(text: str, call: Callable[[str, tuple[Any, ...], dict[str, Any]], Any],
           this: str, emit: Callable[[str], str]) -> tuple[str, dict[str, int]] | None:
    """The rendered text of a simple template, and the line of each config() option; None when
    the template needs Jinja. `call(name, args, kwargs)` evaluates one call (NOT_SIMPLE: give
    up), `this` is what `{{ this }}` prints, `emit` charges each piece of output to the
    sandbox's budget as Jinja's output does (a refusal: Jinja renders it and reports it)."""
    parts = split(text) if fast_paths_enabled() else None
    if parts is None:
        return None
    try:
        with metered():
            return _render(parts, call, this, emit)
    except TemplateRefused:
        return None


def _render(parts: list[str | Call], call: Callable[[str, tuple[Any, ...], dict[str, Any]], Any],
            this: str, emit: Callable[[str], str]) -> tuple[str, dict[str, int]] | None:
    out: list[str] = []
    config_lines: dict[str, int] = {}
    for part in parts:
        if isinstance(part, str):
            out.append(emit(part))
            continue
        if part.bare:
            out.append(emit(this))
            continue
        value = call(part.name, part.args, dict(part.kwargs))
        if value is NOT_SIMPLE or not isinstance(value, _PRINTED):
            return None
        if part.name == "config":
            config_lines.update((key, part.line) for key, _ in part.kwargs)
        out.append(emit(str(value)))
    return "".join(out), config_lines


def split(text: str) -> list[str | Call] | None:
    """The template as text and calls, in order; None when it needs Jinja."""
    if "\r" in text or any(opener in text for opener in _OPENERS):
        return None  # Jinja turns \r\n into \n: its text is not the template's
    parts: list[str | Call] = []
    at, line = 0, 1
    for match in _TAG.finditer(text):
        call = _call(match)
        if call is None:
            return None
        before = text[at:match.start()]
        line += before.count("\n")
        parts.append(before)
        parts.append(Call(call[0], call[1], call[2], line, call[3]))
        at = match.end()
    rest = text[at:]
    if "{{" in rest or any("{{" in p for p in parts if isinstance(p, str)):
        return None  # a tag of another shape
    parts.append(rest)
    return parts


def _call(match: re.Match[str]) -> tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...],
                                          bool] | None:
    found = _read_call(match.group(1), match.group(2))
    if found is None or not any(isinstance(a, list) for a in _values(found)):
        return found
    name, args, kwargs, bare = found  # lists are the caller's to keep: copies
    return (name, tuple(_copied(a) for a in args),
            tuple((k, _copied(v)) for k, v in kwargs), bare)


def _values(call: tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...], bool]
            ) -> list[Any]:
    return [*call[1], *(v for _, v in call[2])]


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=4096)  # models repeat their tags: `ref('orders')`, `config(...)`
def _read_call(name: str, arguments: str | None
               ) -> tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...], bool] | None:
    if arguments is None:
        return (name, (), (), True) if name == "this" else None
    if name not in NAMES or "\n" in arguments or "\\" in arguments:
        return None
    try:
        node = ast.parse(f"f({arguments})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
        return None
    source = f"f({arguments})"
    try:
        args = tuple(_literal(a, source) for a in node.args)
        kwargs = tuple((str(k.arg), _literal(k.value, source)) for k in node.keywords)
    except ValueError:
        return None
    return name, args, kwargs, False


_WRITTEN = re.compile(r"'[^'\\]*'|\"[^\"\\]*\"|\d+(?:\.\d+)?")


def _literal(node: ast.expr, source: str) -> Any:
    """A text, a number or a list of texts, written as Jinja reads them (no prefixes, no
    triple quotes, no escapes, plain decimal numbers); ValueError for anything else."""
    if isinstance(node, ast.List):
        if not all(isinstance(e, ast.Constant) and type(e.value) is str for e in node.elts):
            raise ValueError("a list of something else than texts")
        return [_literal(e, source) for e in node.elts]
    written = ast.get_source_segment(source, node) or ""
    if (isinstance(node, ast.Constant) and type(node.value) in (str, int, float)
            and _WRITTEN.fullmatch(written)):
        return node.value
    raise ValueError("not a simple literal")

