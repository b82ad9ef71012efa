"""CPython's cyclic garbage collector, paused over one bulk phase of a decision.

Why: a decision builds several objects per task (the snapshot's tasks, the planner's slots and
moves, the surge search's heaps): about a million at 100,000 tasks. CPython runs its cyclic
collector every 700 net allocations, and each tenth and hundredth run walks the older
generations, which by then hold the whole snapshot: the same objects are walked again and
again. None of them form reference cycles (plain data, freed by reference counting the moment
they are dropped), so the collector finds nothing; measured in ``make bench`` (part 7, "Surge
mode"), those walks were about a third of a surge decision's CPU at 5,000 instances, 500
services and 100,000 tasks.

``without_gc`` wraps the three bulk phases (``snapshot.take_snapshot``, ``planner.plan``,
``Evictor.decide``). It only pauses: the collector's state on entry is restored on exit, a
collector that the caller (or an outer phase) disabled stays disabled, and nothing is
collected by hand, so the collector's usual thresholds take over again at once. Whatever
cyclic garbage a phase leaves (an exception's traceback, say) waits until then, within the
phase's own lifetime. The engine is single-threaded in the modules and the Lambda alike.

Standard library only: ``gc.freeze`` would keep the snapshot out of later collections too,
but it is process-wide and one-way (a warm Lambda would carry every run's objects in the
permanent generation until ``gc.unfreeze``), so a bounded pause is the smaller tool.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off inside the block, then as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def without_gc(fn: F) -> F:
    """``fn`` run inside ``gc_paused``."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with gc_paused():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


__all__ = ["gc_paused", "without_gc"]
