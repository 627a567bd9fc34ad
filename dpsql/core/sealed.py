"""Sealed JSON files: dpsql's own files under target/cache/ (the compile cache, the stamps,
the YAML cache), read back only if dpsql wrote them as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
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
    written in parts (jsonio.dump_parts) while its digest is taken, after a header of the same
    length that is filled in last: a 35 MB cache is never one string in memory."""
    def header(digest: str) -> bytes:
        return jsonio.dumps({"kind": kind, "format": file_format, "dpsql": __version__,
                             "digest": digest}) + b"\n"

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        digest = hashlib.blake2b(digest_size=16)
        with os.fdopen(fd, "wb") as handle:
            handle.write(header("0" * digest.digest_size * 2))  # a hex digest's length
            for part in jsonio.dump_parts(document):
                digest.update(part)
                handle.write(part)
            handle.seek(0)
            handle.write(header(digest.hexdigest()))
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.info("could not write %s: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def _body_digest(body: bytes | memoryview) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()
