"""The cyclic garbage collector is paused over a decision's bulk phases and restored after."""

from __future__ import annotations

import gc

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    evictor, gc_pause, planner, snapshot)


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_pause_restores_the_collector_even_on_error():
    with pytest.raises(RuntimeError):
        with gc_pause.gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_pauses_and_a_caller_who_disabled_it():
    with gc_pause.gc_paused():
        with gc_pause.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()          # the inner pause does not turn it back on
    assert gc.isenabled()
    gc.disable()
    with gc_pause.gc_paused():
        pass
    assert not gc.isenabled()              # never enabled against the caller's choice


def test_the_three_bulk_phases_run_paused():
    seen = []

    @gc_pause.without_gc
    def phase(x):
        seen.append(gc.isenabled())
        return x * 2

    assert phase(21) == 42 and seen == [False] and gc.isenabled()
    assert phase.__name__ == "phase"
    for fn in (snapshot.take_snapshot, planner.plan, evictor.Evictor.decide):
        assert fn.__wrapped__.__name__ == fn.__name__      # wrapped by without_gc
        assert fn.__code__ is gc_pause.without_gc(len).__code__
