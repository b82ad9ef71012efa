"""A scoped read (``take_snapshot(..., services=[S])``) decides about S exactly as the whole
cluster's read does: other services' tasks only take capacity, and that capacity is in each
instance's ``remainingResources`` in either read. The whole-cluster plan takes services in
name order against one capacity ledger, so S's plan can differ only when a service planned
before S moves tasks into room S would use; the properties check equality whenever no
earlier service plans a move, and always for the first service. The read's call count is
bounded by S's own size, not the cluster's."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import plan, take_snapshot
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.deadline import Deadline
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.evictor import (
    Evictor, Limits,
)

from .factories import cluster, inst, ref, svc, synthetic_cluster
from .snapshot_ecs import FakeEcs


@st.composite
def clusters(draw):
    """2-3 AZs of 1-4 instances, each with room for 2-6 tasks (capacity binds), 2-4
    services with random layouts (min healthy 50%, so stop mode has spare tasks)."""
    slots = draw(st.integers(2, 6))
    insts = [inst(f"{'abc'[z]}{k}", "abc"[z], cpu=256 * slots, memory=1 << 20,
                  status=draw(st.sampled_from(["ACTIVE"] * 5 + ["DRAINING"])))
             for z in range(draw(st.integers(2, 3))) for k in range(draw(st.integers(1, 4)))]
    active = [i for i in insts if i.status == "ACTIVE"] or insts
    names = [f"s{k}" for k in range(draw(st.integers(2, 4)))]
    room = {ref(i.arn): slots for i in active}
    placement = {}
    for name in names:
        per = {}
        for _ in range(draw(st.integers(2, 8))):
            free = sorted(r for r, n in room.items() if n > 0)
            if not free:
                break
            target = draw(st.sampled_from(free))
            room[target] -= 1
            per[target] = per.get(target, 0) + 1
        placement[name] = per
    services = [svc(n, cpu=256, min_healthy_percent=50) for n in names]
    return cluster(insts, services, placement)


def decide(fake: FakeEcs, snap, max_moves=None):
    api = CountingClient(fake)
    limits = Limits(strategy="stop", max_moves=max_moves)
    planned = plan(snap)
    return planned, Evictor(api, snap.cluster_arn, limits, Deadline(lambda: 0.0, 900)
                            ).decide(snap, planned)


def grants_of(decision, service):
    return [g.to_dict() for g in decision.grants if g.service.name == service]


@settings(max_examples=120, deadline=None)
@given(clusters(), st.data())
def test_scoped_decision_equals_the_whole_clusters_for_its_service(snap, data):
    names = sorted(snap.services)
    service = data.draw(st.sampled_from(names))
    fake = FakeEcs(snap)
    whole = take_snapshot(fake, snap.cluster_name)
    scoped = take_snapshot(fake, snap.cluster_name, [service])
    assert scoped.scoped and not whole.scoped
    assert list(scoped.services) == [service] and set(scoped.tasks) == {service}
    assert scoped.tasks[service] == whole.tasks[service]
    assert scoped.instances == whole.instances
    assert scoped.cluster_tasks() == whole.cluster_tasks() == whole.task_count()
    whole_plan, whole_decision = decide(fake, whole)
    scoped_plan, scoped_decision = decide(fake, scoped)
    earlier_moves = any(sp.moves for sp in whole_plan.services if sp.service < service)
    if not earlier_moves:
        assert scoped_plan.service(service) == whole_plan.service(service)
        spent_before = sum(len(g.moves) for g in whole_decision.grants if g.service.name < service)
        if spent_before == 0:
            assert grants_of(scoped_decision, service) == grants_of(whole_decision, service)
            assert [r.to_dict() for r in scoped_decision.refusals] == \
                [r.to_dict() for r in whole_decision.refusals if r.service == service]
    # The first service in name order has nothing before it: always equal.
    first = names[0]
    first_scoped = take_snapshot(fake, snap.cluster_name, [first])
    first_plan, first_decision = decide(fake, first_scoped)
    assert first_plan.service(first) == whole_plan.service(first)
    assert grants_of(first_decision, first) == grants_of(whole_decision, first)


def test_scoped_read_costs_what_its_service_needs_at_1000_instances():
    """Issue 17's size: 1,000 instances, 200 services, 20,000 tasks, one 100-task service."""
    snap = synthetic_cluster(1_000, 3, 200, 20_000, skew="balanced", seed=0)
    fake = FakeEcs(snap)
    read = take_snapshot(fake, snap.cluster_name, ["svc0042"])
    assert len(read.tasks["svc0042"]) == 100
    expected = 1 + 2 * math.ceil(1_000 / 100) + 1 + 1 + 2 * math.ceil(100 / 100)
    assert read.api_calls == sum(fake.calls.values()) == expected == 25
    assert fake.calls["list_tasks"] + fake.calls["describe_tasks"] == 2
    assert read.cluster_tasks() == 20_000 and read.task_count() == 100
    planned, decision = decide(fake, read)
    # Balanced: nothing to do, and deciding that read nothing more.
    assert planned.moves == () and decision.grants == []
    assert sum(fake.calls.values()) == 25
