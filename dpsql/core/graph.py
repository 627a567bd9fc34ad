"""A small generic DAG: topological order, cycles, ancestors, and breadth-first walks."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

N = TypeVar("N")
E = TypeVar("E")


def topological_order(edges: Mapping[str, Iterable[str]]) -> tuple[list[str], list[list[str]]]:
    """Order nodes so that each comes after what it depends on.

    `edges` maps each node to its upstream nodes. Returns the order (sorted among equals, so it
    is stable) and the cycles found, each as a path that starts and ends at the same node.
    """
    upstream = {node: set(deps) for node, deps in edges.items()}
    downstream: dict[str, list[str]] = {node: [] for node in upstream}
    for node, deps in upstream.items():
        for dep in deps:
            downstream.setdefault(dep, []).append(node)
            upstream.setdefault(dep, set())
    remaining = {node: len(deps) for node, deps in upstream.items()}
    ready = [node for node, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in downstream.get(node, ()):
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, child)
    if len(order) == len(upstream):
        return order, []
    stuck = {node for node, count in remaining.items() if count > 0}
    return order, _cycles(upstream, stuck)


def _cycles(upstream: Mapping[str, set[str]], stuck: set[str]) -> list[list[str]]:
    """One path per cycle among the nodes left over by the topological sort."""
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(stuck):
        if start in done:
            continue
        path: list[str] = []
        index: dict[str, int] = {}
        node = start
        while node not in index and node not in done:
            index[node] = len(path)
            path.append(node)
            node = min(d for d in upstream[node] if d in stuck)
        done.update(path)
        if node in index:  # a new cycle: node -> ... -> node, written in reading order
            loop = path[index[node]:]
            loop.reverse()
            cycles.append([*loop, loop[0]])
    return cycles


def ancestors(edges: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    """Every node upstream of `start` (not including `start` itself)."""
    seen: set[str] = set()
    stack = [dep for node in start for dep in edges.get(node, ())]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def reverse(edges: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {node: [] for node in edges}
    for node, deps in edges.items():
        for dep in deps:
            out.setdefault(dep, []).append(node)
    return out


def breadth_first(start: N, step: Callable[[N], Iterable[tuple[N, E]]], depth: int | None = None
                  ) -> tuple[dict[N, int], list[E]]:
    """Nodes reached from `start` with their distance (`start` at 0), and every edge followed,
    level by level; `step(node)` gives each neighbour with the edge that leads to it."""
    seen = {start: 0}
    used: list[E] = []
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        following: list[N] = []
        for node in frontier:
            for other, edge in step(node):
                used.append(edge)
                if other not in seen:
                    seen[other] = level
                    following.append(other)
        frontier = following
    return seen, used


def distances(start: N, neighbours: Mapping[N, Iterable[N]], depth: int | None = None
              ) -> dict[N, int]:
    """Every node reachable from `start` (not `start` itself) with its distance."""
    seen, _ = breadth_first(start, lambda node: ((o, None) for o in neighbours.get(node, ())), depth)
    del seen[start]
    return seen
