"""Read YAML into plain Python values while remembering the line of every key and item."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.sourcemap import KeyMap

try:  # the C loader is several times faster; fall back when libyaml is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document and the line (1-based) of each value, addressed by key path."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    key_lines: dict[KeyPath, int] = field(default_factory=dict)
    key_cols: dict[KeyPath, int] = field(default_factory=dict)

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

    def key_map(self, *keys: str | int) -> KeyMap:
        """Where the mapping at `keys` is, and where each of its own keys is (line and column)."""
        path: KeyPath = tuple(keys)
        found = {k[-1]: Location(self.path, line, self.key_cols.get(k, 0))
                 for k, line in self.key_lines.items() if len(k) == len(path) + 1 and k[:-1] == path}
        return KeyMap(self.loc(*keys), MappingProxyType({str(k): v for k, v in found.items()}))


def load_yaml(path: Path) -> YamlDoc:
    """Parse `path`; a syntax error becomes DP001 with the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DpsqlError(error("DP001", f"cannot read {path.name}: {exc.strerror}", Location(path))) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise DpsqlError(
            error(
                "DP001",
                f"{path.name} is not valid YAML: {problem}",
                Location(path, line, col),
                "check the indentation and quoting around this line",
            )
        ) from None
    doc = YamlDoc(path, None)
    if node is None:
        return YamlDoc(path, {}, {(): 1})
    data = _convert(node, (), doc)
    return YamlDoc(path, data, doc.lines, doc.key_lines, doc.key_cols)


def _convert(node: yaml.Node, path: KeyPath, doc: YamlDoc) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            key_str = str(key)
            doc.key_lines[(*path, key_str)] = key_node.start_mark.line + 1
            doc.key_cols[(*path, key_str)] = key_node.start_mark.column + 1
            out[key_str] = _convert(value_node, (*path, key_str), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar(node: yaml.Node) -> Any:
    """Resolve a scalar the way yaml.safe_load would (ints, floats, booleans, nulls)."""
    if isinstance(node, yaml.ScalarNode):
        return _CONSTRUCTOR.construct_object(node)
    return None
