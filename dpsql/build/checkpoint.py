"""Checkpointing during a parallel build: a Pause policy for the scheduler.

DuckDB checkpoints (moves committed data from its write-ahead log to the database file) only
when no transaction is open, which with several threads building is never. So every
CHECKPOINT_EVERY models the build lets the running models finish, checkpoints, and goes on;
committed data then goes to disk instead of piling up in memory. With one thread nothing
else is open when a model commits, and DuckDB's own automatic checkpoints suffice.
"""

from __future__ import annotations

import logging

import duckdb

log = logging.getLogger("dpsql")

CHECKPOINT_EVERY = 100  # models built between checkpoints when several run at once


class Checkpoints:
    """Pause the scheduler every CHECKPOINT_EVERY finished models and checkpoint `con`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workers: int):
        self.con = con
        self.workers = workers
        self.next = CHECKPOINT_EVERY

    def due(self, done: int) -> bool:
        return self.workers > 1 and done >= self.next

    def reached(self, done: int) -> None:
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:  # only memory is at stake: go on
            log.info("checkpoint skipped: %s", exc)
        self.next = done + CHECKPOINT_EVERY
