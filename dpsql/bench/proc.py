"""Time one command in a child process: wall seconds, peak memory, exit status, output tail."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TAIL_CHARS = 2000


@dataclass
class Step:
    """One timed step. `seconds` is None when the step did not run or failed."""

    seconds: float | None = None
    peak_rss_mb: float | None = None
    ok: bool = False
    error: str | None = None
    command: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}

    @classmethod
    def skipped(cls, why: str) -> Step:
        return cls(error=why)


def _tail(path: Path) -> str:
    data = path.read_bytes()[-TAIL_CHARS:]
    return data.decode("utf-8", errors="replace")


def run_timed(
    cmd: Sequence[str], cwd: Path, env: Mapping[str, str | None] | None = None, timeout: float = 3600.0
) -> tuple[Step, str]:
    """Run `cmd`, return its Step and its stdout's last characters.

    Peak memory is the child's maximum resident set (ru_maxrss from wait4), which covers the
    child and the descendants it waited for, each taken alone (not summed). In `env`, None
    removes a variable.
    """
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    command = " ".join(cmd)
    with tempfile.TemporaryDirectory(prefix="dpsql-bench-") as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    list(cmd), cwd=cwd, env=full_env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                return Step(error=f"cannot start: {exc}", command=command), ""
            status, rusage = _wait(proc, timeout)
            seconds = time.perf_counter() - start
        stdout, stderr = _tail(out_path), _tail(err_path)
    peak = rusage.ru_maxrss / 1024.0 if rusage else None  # Linux reports kilobytes
    if status is None:
        return Step(
            seconds=None, peak_rss_mb=peak, error=f"timed out after {timeout:.0f} s", command=command
        ), stdout
    if status != 0:
        lines = (stderr.strip() or stdout.strip()).splitlines()
        step = Step(peak_rss_mb=peak, error=f"exit {status}: {_error_line(lines)}", command=command)
        step.detail["output_tail"] = "\n".join(lines[-10:])
        return step, stdout
    return Step(seconds=seconds, peak_rss_mb=peak, ok=True, command=command), stdout


def _error_line(lines: list[str]) -> str:
    """The first line of the output's tail that names an error, else its last line."""
    for line in lines[-40:]:
        if "error" in line.lower():
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "no output"


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return None, rusage
        time.sleep(0.005)


def best_of(samples: list[dict[str, Step]]) -> dict[str, Step]:
    """Merge repeated runs of the same steps: the fastest time, the largest peak.

    A step that failed in any repetition is reported as failed.
    """
    merged: dict[str, Step] = {}
    for name in samples[0]:
        runs = [s[name] for s in samples if name in s]
        failed = [r for r in runs if not r.ok]
        best = failed[0] if failed else min(runs, key=lambda r: r.seconds or 0.0)
        peaks = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
        best.peak_rss_mb = max(peaks) if peaks else None
        if len(runs) > 1:
            best.detail["samples"] = [r.seconds for r in runs]
        merged[name] = best
    return merged


def remove(*paths: Path) -> None:
    """Delete files and folders that exist (a fresh start for a timed step)."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
