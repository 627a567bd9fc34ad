"""JSON in and out of dpsql's large files (the compile cache, the stamps, the cached
product.yml documents, the two manifests) through orjson, which reads and writes them several
times faster than the standard library.

The files stay the same JSON: the same keys in the same order, the same values. The text may
differ from `json.dumps` in ways no JSON reader sees: characters outside ASCII are written as
UTF-8 rather than as `\\uXXXX` escapes, and floats in their shortest form (`1e16`, not
`1e+16`). What orjson refuses and the standard library takes (text with lone surrogates,
integers beyond 64 bits, keys that are not text) goes through the standard library, so nothing
that was written before fails now. A float that is not finite, which JSON cannot hold, is
written as `null` (the standard library wrote `NaN`, which only Python reads back); these
files hold none but what a user writes as a test's argument.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson

# dataclasses and dates go to `default` (str), as they did with json.dumps(default=str)
_PASS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(data: Any) -> bytes:
    """`data` as compact UTF-8 JSON; values JSON has no form for as their str()."""
    try:
        return orjson.dumps(data, default=str, option=_PASS)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(data, separators=(",", ":"), default=str)
        return text.encode("utf-8", "surrogatepass")


class Spliced:
    """A value whose JSON text is only read when dump_parts() reaches it, and written as it
    is (a model's entry copied from the last manifest: only one is in memory at a time)."""

    __slots__ = ("read",)

    def __init__(self, read: Callable[[], bytes]):
        self.read = read


_CHUNK = 1 << 16  # dump_parts() yields parts of about this size


def dump_parts(data: Any, *, spread: int = 64,
               places: dict[str, dict[str, tuple[int, int]]] | None = None) -> Iterator[bytes]:
    """`dumps(data)` in parts, whose concatenation is the same JSON: each value of a mapping
    with at least `spread` entries, one level down, is dumped on its own, so that a large
    document (a manifest of 10,000 models) is never one string in memory; the small pieces are
    gathered into parts of about 64 KB. `places`, if given, receives where each of those values
    sits in the concatenation: outer key -> inner key -> (offset, length); every mapping one
    level down is then spread, however small. A value one level down may be `Spliced`: its own
    text is written."""
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        yield dumps(data)
        return
    buf = bytearray(b"{")
    flushed = 0  # bytes yielded so far

    def full() -> Iterator[bytes]:
        """The buffer as a part, once it holds enough."""
        nonlocal flushed
        if len(buf) >= _CHUNK:
            yield bytes(buf)
            flushed += len(buf)
            buf.clear()
    for i, (key, value) in enumerate(data.items()):
        buf += (b"," if i else b"") + dumps(key) + b":"
        if not (isinstance(value, dict) and (len(value) >= spread or places is not None)
                and all(isinstance(k, str) for k in value)):
            buf += dumps(value)
        else:
            where = places.setdefault(key, {}) if places is not None else None
            buf += b"{"
            for j, (inner, item) in enumerate(value.items()):
                buf += (b"," if j else b"") + dumps(inner) + b":"
                dumped = item.read() if isinstance(item, Spliced) else dumps(item)
                if where is not None:
                    where[inner] = (flushed + len(buf), len(dumped))
                buf += dumped
                yield from full()
            buf += b"}"
        yield from full()
    buf += b"}"
    yield bytes(buf)


def loads(data: bytes | memoryview | str) -> Any:
    """Parse JSON (raises ValueError, as json.loads does, if it is not JSON).

    The cyclic garbage collector is paused meanwhile: parsing makes no cycles, and its passes
    over the millions of new containers of a large file cost several times the parse."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # what orjson does not take but json.loads does (lone surrogates, NaN), or not JSON
        if not isinstance(data, str):
            data = bytes(data).decode("utf-8", "surrogatepass")
        return json.loads(data)
    finally:
        if paused:
            # the new objects join the oldest generation at once (a list splice), rather than
            # being traversed by the next young collections on their way there
            gc.freeze()
            gc.unfreeze()
            gc.enable()
