"""Which ready stage runs next when several slots (devices, CPU workers) are free: the one with the
longest remaining path (its own cost plus the costliest chain of stages that wait for it), ties broken by
the plan's topological order. This is the critical-path list schedule (Graham 1969; "HLFET", Adam, Chandy
& Dickson 1974): the stage on the longest chain starts first, so the grid's makespan is short.

The local executor picks with `pick`; `simulate` replays the same rule on estimated costs, which is what
`plan --estimate --devices N` prints and what `status` turns into an ETA. Pure functions of their
arguments: the same graph and costs always give the same order."""
from __future__ import annotations

import heapq
from typing import Callable

from repro.engine import Stage, topological


def remaining_path(stages: list[Stage], cost: Callable[[Stage], float]) -> dict[str, float]:
    """Stage id -> its cost plus the longest cost chain of the stages (in `stages`' closure) below it."""
    order = topological(stages)
    below: dict[str, list[str]] = {s.id: [] for s in order}
    for s in order:
        for d in s.deps:
            below[d.id].append(s.id)
    path: dict[str, float] = {}
    for s in reversed(order):  # every dependent is visited before its upstream stages
        path[s.id] = float(cost(s)) + max((path[c] for c in below[s.id]), default=0.0)
    return path


def priority_key(path: dict[str, float], index: dict[str, int]) -> Callable[[Stage], tuple]:
    return lambda s: (-path[s.id], index[s.id])


def pick(ready: list[Stage], path: dict[str, float], index: dict[str, int]) -> list[Stage]:
    """Ready stages in the order they get free slots."""
    return sorted(ready, key=priority_key(path, index))


def simulate(stages: list[Stage], cost: Callable[[Stage], float], slots: int,
             done: Callable[[Stage], bool] = lambda s: False) -> dict:
    """The executor's schedule on estimated costs: {"makespan": seconds, "starts": [(time, slot, stage id)],
    "busy": summed stage seconds}. Stages for which `done` is true cost nothing and are never scheduled."""
    if slots < 1:
        raise ValueError("slots must be at least 1")
    order = topological(stages)
    index = {s.id: i for i, s in enumerate(order)}
    todo = [s for s in order if not done(s)]
    left = {s.id for s in todo}
    costs = {s.id: float(cost(s)) for s in todo}
    path = remaining_path(todo, lambda s: costs.get(s.id, 0.0))
    finished: set[str] = {s.id for s in order if s.id not in left}
    free = list(range(slots))
    running: list[tuple[float, int, str]] = []   # (end time, slot, stage id), a heap
    now, starts = 0.0, []
    while left or running:
        ready = [s for s in todo if s.id in left and all(d.id in finished for d in s.deps)]
        for s in pick(ready, path, index):
            if not free:
                break
            slot = min(free)
            free.remove(slot)
            left.discard(s.id)
            starts.append((now, slot, s.id))
            heapq.heappush(running, (now + costs[s.id], slot, s.id))
        if not running:  # nothing ready and nothing running: a dependency outside the graph
            raise ValueError(f"stages can never start: {sorted(left)}")
        now, slot, sid = heapq.heappop(running)
        finished.add(sid)
        free.append(slot)
        while running and running[0][0] == now:  # stages ending together free their slots together
            _, slot, sid = heapq.heappop(running)
            finished.add(sid)
            free.append(slot)
    return {"makespan": now, "starts": starts, "busy": sum(costs.values())}
