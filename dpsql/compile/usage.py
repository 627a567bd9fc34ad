"""How a template function is called, checked before it runs, and values shown in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2


@dataclass(frozen=True)
class Usage:
    """How a template function is called: checked before it runs."""

    counts: tuple[int, ...]  # how many positional arguments it takes
    texts: int  # how many of them are names, in quotes
    keywords: tuple[str, ...] | None  # the keyword arguments it takes (None: any)
    example: str

    def problem(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        if len(args) not in self.counts:
            given = f"{len(args)} positional argument" + ("" if len(args) == 1 else "s")
            return f"{name}() takes {self.takes()}; it was given {given}"
        unknown = [k for k in kwargs if self.keywords is not None and k not in self.keywords]
        if unknown:
            return f"{name}() has no argument `{unknown[0]}`"
        for value in (*args, *kwargs.values()):
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()  # the usual error: `x` is undefined
        for value in args[:self.texts]:
            if not isinstance(value, str):
                return f"{name}() takes names in quotes, not {shown(value)}"
        return None

    def takes(self) -> str:
        if self.counts == (0,):
            return "only named options" if self.keywords is None else "no arguments"
        plural = "" if self.counts == (1,) else "s"
        return f"{' or '.join(str(c) for c in self.counts)} argument{plural}"


def shown(value: Any) -> str:
    """A value from a template, in words: `'daily'`, a number `5`, a list `['a', 1]`."""
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else "a long text"
    kinds = {bool: "true/false", int: "a number", float: "a number", list: "a list",
             tuple: "a list", dict: "a mapping", type(None): "none"}
    text = repr(value)
    return kinds.get(type(value), "a value") + (f" `{text}`" if len(text) <= 40 else "")
