"""The source map: where anything a diagnostic names is written, as file:line:col.

Every diagnostic finds its location here, from what loading and rendering recorded:

- `KeyMap`: the line and column of each key of a YAML mapping (product.yml, dpsql.yml), as the
  loader read them;
- `TemplateMap`: a model's rendered SQL mapped back to its template: the template line of
  each rendered line (from the renderer), the lines of `config()` calls (the renderer sees
  each call), and the positions sqlglot keeps on every parsed token.

Nothing here reads a file: a location comes from what was recorded when the file was read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from dpsql.core.errors import Location

if TYPE_CHECKING:  # sqlglot is imported only when a node is located (commands that skip
    from sqlglot import exp  # compiling never load it)

_EMPTY: Mapping[str, Location] = MappingProxyType({})
_NO_LINES: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class KeyMap:
    """Where each key of one YAML mapping is; unknown keys fall back to the mapping itself."""

    where: Location
    keys: Mapping[str, Location] = field(default_factory=lambda: _EMPTY, compare=False,
                                         repr=False)

    def key(self, name: str) -> Location:
        return self.keys.get(name, self.where)


def offset_position(data: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset into a text (or a file's bytes)."""
    newline: Any = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    col = offset - (data.rfind(newline, 0, offset) + 1) + 1
    return line, col


def _word_at(line: str, *words: str) -> int:
    """The 1-based column where the first of `words` appears as a whole word, else 0."""
    for word in words:
        match = re.search(r"\b" + re.escape(word) + r"\b", line) if word else None
        if match:
            return match.start() + 1
    return 0


@dataclass(frozen=True)
class TemplateMap:
    """A model's rendered SQL, mapped back to the template it was rendered from."""

    path: Path
    template: str
    rendered: str
    line_map: tuple[int, ...]  # rendered line index -> template line
    # config() key -> the template line of the call that set it
    config_lines: Mapping[str, int] = field(default_factory=lambda: _NO_LINES, compare=False)

    def template_line(self, rendered_line: int) -> int:
        if 0 < rendered_line <= len(self.line_map):
            return self.line_map[rendered_line - 1]
        return rendered_line

    def position(self, r_line: int, r_col: int, *needles: str) -> Location:
        """A rendered line and column in the template: exact where rendering left the line as
        written, else at the first of `needles` found on the template line."""
        t_line = self.template_line(r_line)
        t_lines = self.template.splitlines()
        r_lines = self.rendered.splitlines()
        if 0 < t_line <= len(t_lines):
            text = t_lines[t_line - 1]
            if r_line <= len(r_lines) and text == r_lines[r_line - 1]:
                return Location(self.path, t_line, r_col)
            return Location(self.path, t_line, _word_at(text, *needles))
        return Location(self.path, t_line, 0)

    def offset(self, offset: int, *needles: str) -> Location:
        """A character offset in the rendered SQL, in the template."""
        return self.position(*offset_position(self.rendered, offset), *needles)

    def node(self, node: exp.Expr | None) -> Location:
        """Where a node of the model's parsed tree (parsed from the rendered SQL) was written."""
        start = _start(node) if node is not None else None
        if start is None:
            return Location(self.path, 1)
        return self.offset(start, _word(node))

    def config(self, key: str) -> Location:
        """Where `key=` is written in the `config()` call that set it (the renderer records the
        line the call starts on; a call may run over several lines), else the top of the file."""
        line = self.config_lines.get(key)
        if line is None:
            return Location(self.path, 1)
        lines = self.template.splitlines()
        pattern = re.compile(r"\b" + re.escape(key) + r"\s*=")
        for number in range(line, len(lines) + 1):
            match = pattern.search(lines[number - 1])
            if match:
                return Location(self.path, number, match.start() + 1)
            if "}}" in lines[number - 1]:
                break
        return Location(self.path, line)

    def word(self, *words: str) -> Location:
        """The first template line naming one of `words` (for an engine's message that names a
        column but gives no position)."""
        for word in words:
            for number, line in enumerate(self.template.splitlines(), 1):
                col = _word_at(line, word)
                if col:
                    return Location(self.path, number, col)
        return Location(self.path, 1)


def _start(node: exp.Expr) -> int | None:
    from sqlglot import exp

    if isinstance(node, exp.Alias) and isinstance(node.args.get("alias"), exp.Identifier):
        node = node.args["alias"]
    elif isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        node = node.this
    starts = [int(n.meta["start"]) for n in node.walk() if "start" in n.meta]
    return min(starts) if starts else None


def _word(node: exp.Expr | None) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    return ""
