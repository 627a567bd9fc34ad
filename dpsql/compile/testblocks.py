"""`{% test name(model, column_name, ...) %} ... {% endtest %}` in macro files: dbt's custom
generic tests. A block is a macro named `test_<name>`; product.yml uses it by its name, like a
built-in test (`tests: [{name: {argument: value}}]`), and it renders a query whose rows are the
failures."""

from __future__ import annotations

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

PREFIX = "test_"


class TestBlocks(Extension):
    """Parses a `test` block as the macro `test_<name>` (as Jinja parses `macro`)."""

    tags = {"test"}
    __test__ = False  # not a pytest class

    def parse(self, parser: Parser) -> nodes.Node:
        node = nodes.Macro(lineno=next(parser.stream).lineno)
        node.name = PREFIX + parser.parse_assign_target(name_only=True).name
        parser.parse_signature(node)
        node.body = parser.parse_statements(("name:endtest",), drop_needle=True)
        return node
