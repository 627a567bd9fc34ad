"""The base of a comparison: a git revision of the repository holding the workspace, or a path
to another copy of it. A revision is exported with `git archive` into a temporary folder, so
neither the repository nor the workspace is ever modified."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dpsql.core.errors import DpsqlError, Location, error

WORKSPACE_FILE = "dpsql.yml"


@dataclass(frozen=True)
class Base:
    label: str  # the revision or the path, as given
    root: Path  # the base workspace folder (dpsql.yml inside)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def _repository(root: Path, given: str | None) -> Path:
    done = _git(root, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        where = "" if given is None else f" to find the revision `{given}`"
        raise DpsqlError(error(
            "DP702", f"the workspace {root} is not inside a git repository{where}",
            Location(root / WORKSPACE_FILE),
            "give the base as a path to another copy of the workspace: --base ../shop-before, "
            "or put the workspace under git (git init && git add . && git commit)"))
    return Path(done.stdout.decode().strip()).resolve()


def _export(repo: Path, rev: str, subdir: str, into: Path) -> None:
    done = _git(repo, "archive", "--format=tar", rev, *([subdir] if subdir else []))
    if done.returncode != 0:
        raise DpsqlError(error(
            "DP703", f"the base revision `{rev}` holds no workspace at `{subdir}`: "
            f"{done.stderr.decode().strip().splitlines()[0] if done.stderr else 'git archive failed'}",
            None, f"pick a revision that holds the workspace: git -C {repo} log -- {subdir or '.'}"))
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")


def _revision(root: Path, rev: str, into: Path) -> Path:
    repo = _repository(root, rev)
    if _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
        hint = ("commit the workspace first (git add . && git commit), or give --base PATH"
                if rev == "HEAD" else "name a commit, branch or tag: git log --oneline shows them")
        raise DpsqlError(error("DP701", f"the base `{rev}` is neither a revision of {repo} "
                               "nor a folder",
                               None, hint))
    subdir = root.relative_to(repo).as_posix()
    subdir = "" if subdir == "." else subdir
    _export(repo, rev, subdir, into)
    found = into / subdir if subdir else into
    if not (found / WORKSPACE_FILE).is_file():
        raise DpsqlError(error(
            "DP703", f"the base revision `{rev}` holds no workspace at `{subdir or '.'}` "
            f"(no {WORKSPACE_FILE})", None,
            "pick a revision where the workspace exists, or give --base PATH"))
    return found


def _path(text: str) -> Path:
    path = Path(text).expanduser().resolve()
    if not (path / WORKSPACE_FILE).is_file():
        raise DpsqlError(error(
            "DP703", f"the base {text} is not a workspace: it has no {WORKSPACE_FILE}",
            Location(path), "give the folder that holds dpsql.yml of the other copy"))
    return path


def looks_like_path(text: str) -> bool:
    """A base that exists as a folder is a path; anything else is a revision."""
    return Path(text).expanduser().exists()


@contextmanager
def materialise(project_dir: Path, given: str | None) -> Iterator[Base]:
    """The base workspace, read-only: the path as given, or the revision (default HEAD) exported
    into a temporary folder that is removed afterwards."""
    root = project_dir.resolve()
    if given is not None and looks_like_path(given):
        yield Base(given, _path(given))
        return
    rev = given or "HEAD"
    with tempfile.TemporaryDirectory(prefix="dpsql-base-") as tmp:
        yield Base(rev, _revision(root, rev, Path(tmp)))
