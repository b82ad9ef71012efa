"""The planner's speed-ups give the same numbers as the straightforward code they replace."""

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import TaskResources
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.candidates import Ledger
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.filling import (
    UNLIMITED, water_fill,
)

from .factories import inst


def water_fill_reference(total, caps, prefs):
    """The sorted water-level loop, without the fast path."""
    order = sorted(range(len(caps)), key=lambda i: caps[i])
    remaining, level = total, UNLIMITED
    for pos, idx in enumerate(order):
        left = len(order) - pos
        if caps[idx] * left <= remaining:
            remaining -= caps[idx]
            continue
        level, remaining = divmod(remaining, left)
        break
    targets = [min(c, level) for c in caps]
    if level != UNLIMITED and remaining:
        for i in sorted((i for i in range(len(caps)) if caps[i] > level),
                        key=lambda i: prefs[i])[:remaining]:
            targets[i] += 1
    return targets


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=9), st.data())
def test_water_fill_matches_reference(caps, data):
    total = data.draw(st.integers(0, sum(caps)))
    prefs = [(data.draw(st.integers(-5, 0)), f"i{i}") for i in range(len(caps))]
    got = water_fill(total, caps, prefs)
    assert got == water_fill_reference(total, caps, prefs)
    assert sum(got) == total and all(0 <= t <= c for t, c in zip(got, caps))


def room_reference(ledger, arn, res):
    """How many more tasks needing ``res`` fit on ``arn``, computed the straightforward way."""
    cpu, mem, tcp, udp, enis = ledger.remaining(arn)
    if res.tcp_ports & tcp or res.udp_ports & udp:
        return 0
    fits = [1] if res.tcp_ports or res.udp_ports else [UNLIMITED]
    fits += [cpu // res.cpu] if res.cpu > 0 else []
    fits += [mem // res.memory] if res.memory > 0 else []
    fits += [enis // res.enis] if res.enis > 0 else []
    return max(min(fits), 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 4096), st.integers(0, 8192), st.sampled_from([0, 128, 256, 1000]),
       st.sampled_from([0, 256, 512]), st.sampled_from([(), (80,), (22,)]),
       st.integers(1, 50), st.booleans(), st.booleans(), st.sampled_from([None, 0, 1, 2, 9]),
       st.sampled_from([0, 1]))
def test_room_fn_matches_reference(cpu, mem, task_cpu, task_mem, ports, limit, distinct,
                                   reserve, slots, enis):
    from dataclasses import replace
    i = replace(inst("a1", "a"), remaining_cpu=cpu, remaining_memory=mem, awsvpc_slots=slots)
    ledger = Ledger({i.arn: i})
    res = TaskResources(cpu=task_cpu, memory=task_mem, tcp_ports=frozenset(ports), enis=enis)
    if reserve:
        ledger.reserve(i.arn, TaskResources(cpu=100, memory=100, tcp_ports=frozenset({80}),
                                            enis=enis))
    room = room_reference(ledger, i.arn, res)
    assert ledger.room_fn(res)(i.arn) == room
    expected = min(room, limit)
    assert ledger.room_fn(res, limit, distinct)(i.arn) == (min(expected, 1) if distinct
                                                          else expected)
