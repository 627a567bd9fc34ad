"""Read YAML into plain Python values while remembering the line of every key and item.

Every problem in a file becomes a DP001 with its line, never an exception: bytes that are not
UTF-8 text, a NUL byte, a value its tag cannot hold (`!!timestamp junk`), a key given twice, an
alias that contains itself, and aliases that expand to more values than any real workspace
file holds (a "billion laughs"; aliases are expanded once per use, so the expansion is counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dpsql.core.errors import Diagnostic, DpsqlError, Location, error
from dpsql.core.sourcemap import KeyMap
from dpsql.core.sourcemap import offset_position as position
from dpsql.load.textfile import read_text

try:  # the C loader is several times faster; fall back when libyaml is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

KeyPath = tuple[str | int, ...]

MAX_VALUES = 100_000  # values in one file, aliases expanded: far above any real workspace file
MAX_DEPTH = 100  # nesting of mappings and lists


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document and the line (1-based) of each value, addressed by key path."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    key_lines: dict[KeyPath, int] = field(default_factory=dict)
    key_cols: dict[KeyPath, int] = field(default_factory=dict)
    texts: dict[KeyPath, str] = field(default_factory=dict)  # the source of non-text scalars

    def loc(self, *keys: str | int, key: bool = False) -> Location:
        """The location of a value (or of its key), falling back to the nearest parent."""
        path: KeyPath = tuple(keys)
        table = self.key_lines if key else self.lines
        while path:
            if path in table:
                return Location(self.path, table[path])
            if path in self.lines:
                return Location(self.path, self.lines[path])
            path = path[:-1]
        return Location(self.path, self.lines.get((), 1))

    def text(self, *keys: str | int) -> str | None:
        """How a scalar that YAML read as a number, boolean or date is written in the file."""
        return self.texts.get(tuple(keys))

    def key_map(self, *keys: str | int) -> KeyMap:
        """Where the mapping at `keys` is, and where each of its own keys is (line and column)."""
        path: KeyPath = tuple(keys)
        found = {k[-1]: Location(self.path, line, self.key_cols.get(k, 0))
                 for k, line in self.key_lines.items() if len(k) == len(path) + 1 and k[:-1] == path}
        return KeyMap(self.loc(*keys), MappingProxyType({str(k): v for k, v in found.items()}))


def load_yaml(path: Path) -> YamlDoc:
    """Parse `path`; every problem becomes DP001 with the file and line."""
    return parse_yaml(path, read_text(path))


def parse_yaml(path: Path, text: str) -> YamlDoc:
    """Parse `text`, read from `path`; every problem becomes DP001 with the file and line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise DpsqlError(_syntax(path, problem, mark.line + 1 if mark else 1,
                                 mark.column + 1 if mark else 0)) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line, col = position(text, exc.position)
        raise DpsqlError(_syntax(path, f"character #x{exc.character:04x} is not allowed", line,
                                 col)) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise DpsqlError(_syntax(path, str(exc).splitlines()[0] or "invalid YAML", 1, 0)) from None
    if node is None:
        return YamlDoc(path, {}, {(): 1})
    converter = _Converter(YamlDoc(path, None))
    data = converter.convert(node, (), ())
    if converter.problems:
        raise DpsqlError(converter.problems)
    doc = converter.doc
    return YamlDoc(path, data, doc.lines, doc.key_lines, doc.key_cols, doc.texts)


def _syntax(path: Path, problem: str, line: int, col: int) -> Diagnostic:
    return error("DP001", f"{path.name} is not valid YAML: {problem}", Location(path, line, col),
                 "check the indentation and quoting around this line")


class _Aborted(Exception):
    """The document is too large or too deep to convert; the problem is already recorded."""


class _Converter:
    """Turns composed YAML nodes into plain values, recording lines and every problem."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.values = 0

    def problem(self, message: str, node: yaml.Node, hint: str) -> None:
        mark = node.start_mark
        self.problems.append(error("DP001", message,
                                   Location(self.doc.path, mark.line + 1, mark.column + 1), hint))

    def convert(self, node: yaml.Node, path: KeyPath, open_nodes: tuple[int, ...]) -> Any:
        try:
            return self._convert(node, path, open_nodes)
        except _Aborted:
            return None

    def _convert(self, node: yaml.Node, path: KeyPath, open_nodes: tuple[int, ...]) -> Any:
        self.doc.lines[path] = node.start_mark.line + 1
        self.values += 1
        if self.values > MAX_VALUES:
            self.problem(f"{self.doc.path.name} holds more than {MAX_VALUES} values once its "
                         "aliases are expanded", node,
                         "write the values out instead of nesting aliases (`*name`) of aliases")
            raise _Aborted
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self.scalar(node, path)
        if id(node) in open_nodes:
            self.problem("this alias contains itself", node,
                         "an alias (`*name`) may not refer to a mapping or list it is part of")
            return None
        if len(open_nodes) >= MAX_DEPTH:
            self.problem(f"values are nested more than {MAX_DEPTH} deep", node,
                         "flatten the structure")
            raise _Aborted
        inner = (*open_nodes, id(node))
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, (*path, i), inner) for i, item in enumerate(node.value)]
        return self.mapping(node, path, inner)

    def mapping(self, node: yaml.MappingNode, path: KeyPath, inner: tuple[int, ...]) -> Any:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem("a key must be a plain name, not a mapping or a list", key_node,
                             "write `name: value`")
                continue
            key = str(self.scalar(key_node, None))
            mark = key_node.start_mark
            if key in out:
                first = self.doc.key_lines[(*path, key)]
                self.problem(f"key `{key}` is given twice in this mapping (first at line {first})",
                             key_node, "remove one of them: YAML keeps only one value per key")
                continue
            self.doc.key_lines[(*path, key)] = mark.line + 1
            self.doc.key_cols[(*path, key)] = mark.column + 1
            out[key] = self._convert(value_node, (*path, key), inner)
        return out

    def scalar(self, node: yaml.Node, path: KeyPath | None) -> Any:
        """Resolve a scalar the way yaml.safe_load would (ints, floats, booleans, nulls)."""
        if not isinstance(node, yaml.ScalarNode):
            return None
        try:
            value = _CONSTRUCTOR.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            message, hint = _unreadable(node)
            self.problem(message, node, hint)
            return node.value
        if path is not None and not isinstance(value, str):
            self.doc.texts[path] = node.value
        return value


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STANDARD_TAG = "tag:yaml.org,2002:"


def _unreadable(node: yaml.Node) -> tuple[str, str]:
    """The message and hint for a scalar its tag cannot hold (`!!timestamp junk`, `!foo x`)."""
    tag, value = str(node.tag), str(node.value)
    quoted = "'" + value.replace("'", "''") + "'"
    kind = tag.removeprefix(_STANDARD_TAG)
    if kind in {"bool", "int", "float", "timestamp", "binary"}:
        return (f"`{value}` is not a valid {kind}",
                f"quote it to keep it as text ({quoted}), or write a valid {kind}")
    return (f"the tag `{kind}` is not supported",
            f"remove the tag; to keep the value as text, quote it ({quoted})")
