"""JSON in and out of dpsql's large files (the compile cache, the stamp, the manifests, run
results) through orjson, which reads and writes them several times faster than the standard
library.

The files stay the same JSON: the same keys in the same order, the same values. The text may
differ from `json.dumps` in ways no JSON reader sees: characters outside ASCII are written as
UTF-8 rather than as `\\uXXXX` escapes, and floats in their shortest form (`1e16`, not `1e+16`).
What orjson refuses and the standard library takes (text with lone surrogates, integers beyond
64 bits, `NaN`, keys that are not text) goes through the standard library, so nothing that was
written before fails now.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import orjson

# dataclasses and dates go to `default` (str), as they did with json.dumps(default=str)
_PASS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_INDENT = orjson.OPT_INDENT_2


def dumps(data: Any, *, indent: bool = False) -> bytes:
    """`data` as UTF-8 JSON: compact, or indented by two spaces; unknown values as str()."""
    try:
        return orjson.dumps(data, default=str, option=_PASS | (_INDENT if indent else 0))
    except (orjson.JSONEncodeError, TypeError):
        text = (json.dumps(data, indent=2, default=str) if indent
                else json.dumps(data, separators=(",", ":"), default=str))
        return text.encode("utf-8", "surrogatepass")


def loads(data: bytes | str) -> Any:
    """Parse JSON (raises ValueError, as json.loads does, if it is not JSON).

    The cyclic garbage collector is paused meanwhile: parsing makes no cycles, and its passes
    over the millions of new containers of a large file cost several times the parse."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # what orjson does not take but json.loads does (lone surrogates, NaN), or not JSON
        if isinstance(data, bytes):
            data = data.decode("utf-8", "surrogatepass")
        return json.loads(data)
    finally:
        if paused:
            # the new objects join the oldest generation at once (a list splice), rather than
            # being traversed by the next young collections on their way there
            gc.freeze()
            gc.unfreeze()
            gc.enable()
