"""A ready-queue scheduler: run tasks on up to N worker threads, each once its dependencies are done.

    dependencies -> the ready set (tasks with nothing left to wait for), lowest rank first
    -> start ready tasks while fewer than N run
    -> as each finishes, release the tasks that waited for it
    -> a task one of whose `needs` failed is not run: Hooks.skip gives its result

It knows nothing of what a task is. A Pause, if given, holds new starts until the running
tasks have finished, then runs something at that quiet point (see checkpoint.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, Protocol, TypeVar


class Outcome(Protocol):
    """What a task returns: whether it succeeded."""

    @property
    def ok(self) -> bool: ...


class Pause(Protocol):
    """A point at which the scheduler starts nothing new until every running task is done."""

    def due(self, done: int) -> bool:
        """Whether to pause now, `done` tasks having finished."""
        ...

    def reached(self, done: int) -> None:
        """Nothing runs: do what the pause is for (afterwards due() must be false)."""
        ...


K = TypeVar("K", bound=Hashable)  # a task
R = TypeVar("R", bound=Outcome)  # what a task returns


class Hooks(Generic[K, R]):
    """What the scheduler tells its user, always from the thread that called Scheduler.run()."""

    def skip(self, task: K, failed: list[K]) -> R | None:
        """The result of a task not to run (`failed`: the needs that failed), or None to run it."""
        return None

    def started(self, task: K) -> None:
        """A task was handed to a worker."""

    def finished(self, task: K, result: R, done: int) -> None:
        """A task finished (or was skipped); `done` have so far."""

    def interrupt(self) -> None:
        """The run is being abandoned (Ctrl-C, or a hook raised): stop the running tasks."""

    def abandoned(self, task: K, result: R | None) -> None:
        """After interrupt(), once the workers stopped: a task that was running, with what it
        returned (None if it raised)."""


class Scheduler(Generic[K, R]):
    """Runs `tasks` (in rank order: earlier first when several are ready).

    `needs[t]`: tasks that must succeed before t runs (t is skipped if one fails);
    `after[t]`: tasks that must only have finished. Entries that are not tasks are ignored.
    """

    def __init__(self, tasks: Sequence[K], needs: Mapping[K, Collection[K]],
                 after: Mapping[K, Collection[K]], workers: int, hooks: Hooks[K, R],
                 pause: Pause | None = None):
        self.rank = {task: i for i, task in enumerate(tasks)}
        self.needs = {t: {d for d in needs.get(t, ()) if d in self.rank} for t in tasks}
        self.waiting = {t: self.needs[t] | {d for d in after.get(t, ()) if d in self.rank}
                        for t in tasks}
        self.children: dict[K, list[K]] = {t: [] for t in tasks}
        for task, preds in self.waiting.items():
            for pred in preds:
                self.children[pred].append(task)
        self.ready = [(self.rank[t], t) for t, preds in self.waiting.items() if not preds]
        heapq.heapify(self.ready)
        self.workers = max(1, workers)
        self.hooks = hooks
        self.pause = pause
        self.failed: set[K] = set()
        self.done = 0
        self.running: dict[Future[R], K] = {}

    def run(self, work: Callable[[K], R]) -> None:
        """Run every task through `work` (called on a worker thread); returns when all are done."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dpsql")
        try:
            while self.ready or self.running:
                if self.pause is not None and self.pause.due(self.done):
                    if self.running:
                        self._collect()
                        continue
                    self.pause.reached(self.done)
                self._start(pool, work)
                if self.running:
                    self._collect()
        except BaseException:
            self.hooks.interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
            for future, task in self.running.items():
                ran = future.done() and not future.cancelled() and future.exception() is None
                self.hooks.abandoned(task, future.result() if ran else None)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, pool: ThreadPoolExecutor, work: Callable[[K], R]) -> None:
        """Hand ready tasks to workers while some are free (skipping those that cannot run)."""
        while self.ready and len(self.running) < self.workers:
            _, task = heapq.heappop(self.ready)
            skipped = self.hooks.skip(task, [d for d in self.needs[task] if d in self.failed])
            if skipped is not None:
                self._finish(task, skipped)
                continue
            self.hooks.started(task)
            self.running[pool.submit(work, task)] = task

    def _collect(self) -> None:
        """Wait for at least one running task to finish."""
        finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
        for future in finished:
            self._finish(self.running.pop(future), future.result())

    def _finish(self, task: K, result: R) -> None:
        self.done += 1
        if not result.ok:
            self.failed.add(task)
        self.hooks.finished(task, result, self.done)
        for child in self.children[task]:
            self.waiting[child].discard(task)
            if not self.waiting[child]:
                heapq.heappush(self.ready, (self.rank[child], child))
