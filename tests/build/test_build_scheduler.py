"""The ready-queue scheduler on its own: order, skipping, waits and pauses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dpsql.build.scheduler import Hooks, Scheduler


@dataclass(frozen=True)
class Done:
    task: str
    ok: bool = True
    skipped: bool = False


class Record(Hooks[str, Done]):
    def __init__(self) -> None:
        self.started_order: list[str] = []
        self.finished_order: list[tuple[str, Done, int]] = []
        self.interrupted = False

    def skip(self, task: str, failed: list[str]) -> Done | None:
        return Done(task, ok=False, skipped=True) if failed else None

    def started(self, task: str) -> None:
        self.started_order.append(task)

    def finished(self, task: str, result: Done, done: int) -> None:
        self.finished_order.append((task, result, done))

    def interrupt(self) -> None:
        self.interrupted = True


def test_one_worker_runs_ready_tasks_in_rank_order() -> None:
    hooks = Record()
    needs = {"c": {"a"}, "d": {"b", "c"}}
    Scheduler(["a", "b", "c", "d"], needs, {}, 1, hooks).run(Done)
    assert hooks.started_order == ["a", "b", "c", "d"]
    assert [done for _, _, done in hooks.finished_order] == [1, 2, 3, 4]


def test_dependents_of_a_failure_are_skipped_and_the_rest_runs() -> None:
    hooks = Record()
    needs = {"b": {"a"}, "c": {"b"}, "d": set[str]()}
    Scheduler(["a", "b", "c", "d"], needs, {}, 2, hooks).run(lambda t: Done(t, ok=t != "a"))
    results = {task: result for task, result, _ in hooks.finished_order}
    assert results["a"] == Done("a", ok=False)
    assert results["b"].skipped and results["c"].skipped
    assert results["d"] == Done("d")
    assert sorted(hooks.started_order) == ["a", "d"]


def test_after_orders_without_skipping() -> None:
    hooks = Record()
    Scheduler(["a", "b"], {}, {"a": {"b"}}, 1, hooks).run(lambda t: Done(t, ok=t != "b"))
    assert hooks.started_order == ["b", "a"]
    assert not any(r.skipped for _, r, _ in hooks.finished_order)


def test_a_pause_waits_for_running_tasks() -> None:
    seen: list[tuple[int, int]] = []

    class Every2:
        next = 2

        def due(self, done: int) -> bool:
            return done >= self.next

        def reached(self, done: int) -> None:
            seen.append((done, len(scheduler.running)))
            self.next = done + 2

    tasks = [f"t{i}" for i in range(7)]
    hooks = Record()
    scheduler = Scheduler(tasks, {}, {}, 3, hooks, Every2())
    scheduler.run(Done)
    assert len(hooks.finished_order) == 7
    assert seen and all(done >= 2 and busy == 0 for done, busy in seen)


def test_an_error_interrupts_and_propagates() -> None:
    hooks = Record()

    def work(task: str) -> Done:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Scheduler(["a"], {}, {}, 1, hooks).run(work)
    assert hooks.interrupted
