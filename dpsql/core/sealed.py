"""Sealed JSON files: dpsql's own files under target/cache/ (the compile cache, the stamps,
the YAML cache), read back only if dpsql wrote them as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from dpsql.core import __version__, jsonio

log = logging.getLogger("dpsql")

_HEADER_MAX = 1024


# --- sealed JSON files ---------------------------------------------------------------------
#
# target/cache/ is dpsql's own, but people and tools touch it: an editor, a merge, a disk that
# filled up halfway. A sealed file is a header line (what wrote it, and a digest of the rest)
# and a JSON document. Reading checks the header first, so a file dpsql did not write as it is,
# whatever its shape, is ignored rather than trusted; nothing that reads the entries has to
# defend against entries of the wrong shape.


def read_sealed(path: Path, kind: str, file_format: int) -> Any | None:
    """The document of a sealed file, or None (logged) if it is missing, not a regular file,
    not what dpsql wrote, or written by another version."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read
            log.info("ignoring %s: not a regular file", path)
            return None
        raw = path.read_bytes()
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("ignoring %s: %s", path, exc)
        return None
    end = raw.find(b"\n")
    # the body as a view: a 35 MB cache is not copied to be parsed
    head, body = (raw, memoryview(b"")) if end < 0 else (raw[:end], memoryview(raw)[end + 1:])
    try:
        header = jsonio.loads(head) if len(head) <= _HEADER_MAX else None
        expected = {"kind": kind, "format": file_format, "dpsql": __version__,
                    "digest": _body_digest(body)}
        if header != expected:
            log.info("ignoring %s: written by another version, or changed since", path)
            return None
        return jsonio.loads(body)
    except (ValueError, RecursionError) as exc:
        log.info("ignoring %s: %s", path, exc)
        return None


def write_sealed(path: Path, kind: str, file_format: int, document: Any) -> bool:
    """Write a sealed file atomically; False (logged) if it cannot be written. The body is
    written in parts (jsonio.dump_parts) to a file of its own while its digest is taken, then
    copied after the header: a 35 MB cache is never one string in memory."""
    tmp: list[str] = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.blake2b(digest_size=16)
        fd, body = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".body")
        tmp.append(body)
        with os.fdopen(fd, "wb") as handle:
            for part in jsonio.dump_parts(document):
                digest.update(part)
                handle.write(part)
        header = jsonio.dumps({"kind": kind, "format": file_format, "dpsql": __version__,
                               "digest": digest.hexdigest()})
        fd, whole = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        tmp.append(whole)
        with os.fdopen(fd, "wb") as handle, open(body, "rb") as source:
            handle.write(header + b"\n")
            shutil.copyfileobj(source, handle, 1 << 20)
        os.replace(whole, path)
        tmp.remove(whole)
        return True
    except OSError as exc:
        log.info("could not write %s: %s", path, exc)
        return False
    finally:
        for leftover in tmp:
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def _body_digest(body: bytes | memoryview) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()
