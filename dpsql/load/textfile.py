"""Reading a workspace's text files (YAML, models): UTF-8 text or a DP001 with the line."""

from __future__ import annotations

import stat
from pathlib import Path

from dpsql.core.errors import DpsqlError, Location, error
from dpsql.core.sourcemap import offset_position as position


def read_text(path: Path) -> str:
    """A workspace file's text; unreadable, non-UTF-8 or NUL-holding files raise DP001."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would block or never end
            raise DpsqlError(error(
                "DP001", f"{path.name} is not a regular file", Location(path, 1),
                "replace it with a text file"))
        data = path.read_bytes()
    except OSError as exc:
        raise DpsqlError(error(
            "DP001", f"cannot read {path.name}: {exc.strerror or exc}", Location(path, 1),
            "check that the file exists and that you may read it")) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = position(data, exc.start)
        raise DpsqlError(error(
            "DP001", f"{path.name} is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be "
            "decoded", Location(path, line, col),
            "save the file as UTF-8 (a text editor's `Save with encoding`), or replace the "
            "character")) from None
    nul = text.find("\0")
    if nul >= 0:
        line, col = position(text, nul)
        raise DpsqlError(error(
            "DP001", f"{path.name} holds a NUL byte", Location(path, line, col),
            "remove it: a text file has none (a file saved as UTF-16 has one in every "
            "character; save it as UTF-8)"))
    return text
