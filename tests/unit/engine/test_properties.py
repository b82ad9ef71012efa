"""Hypothesis properties of the planner on small random clusters."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, Status, distribution, plan,
)

from .factories import apply_moves, cluster, inst, ref, svc
from .oracle import lower_bound

STATUSES = ["ACTIVE", "ACTIVE", "ACTIVE", "DRAINING"]


@st.composite
def clusters(draw):
    n_az = draw(st.integers(2, 3))
    insts = []
    for z in range(n_az):
        for k in range(draw(st.integers(1, 3))):
            insts.append(inst(f"{'abc'[z]}{k}", "abc"[z], status=draw(st.sampled_from(STATUSES)),
                              cpu=draw(st.sampled_from([4096, 4096, 512]))))
    active = [i for i in insts if i.status == "ACTIVE"]
    placement = {}
    for name in ("api", "web"):
        per = {}
        for _ in range(draw(st.integers(0, 8))):
            target = draw(st.sampled_from(active or insts))
            per[ref(target.arn)] = per.get(ref(target.arn), 0) + 1
        placement[name] = per
    services = [svc("api", cpu=256), svc("web", cpu=256, desired=None)]
    return cluster(insts, services, placement)


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_plan_properties(snap):
    p = plan(snap, PlanOptions())
    eligible = {i.arn for i in snap.instances if i.accepts_tasks}
    for sp in p.services:
        if sp.status == Status.SKIPPED:
            assert sp.moves == ()
        for m in sp.moves:
            assert m.destination_instance in eligible
            assert m.source_instance != m.destination_instance
        assert len(sp.moves) == sp.moves_needed   # budget not binding here
    after = apply_moves(snap, p.moves)
    for sp in p.services:
        if sp.status in (Status.REBALANCE, Status.BALANCED):
            d = distribution(after, sp.service)
            # a planned service ends balanced unless capacity (512-cpu instances) binds
            roomy = all(i.registered_cpu == 4096 for i in snap.instances)
            if roomy:
                assert all(v <= 1 for v in d.skew.values()), (sp, d)
                assert d.moves_needed == 0


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_moves_equal_independent_lower_bound(snap):
    assume(all(i.registered_cpu == 4096 for i in snap.instances))   # capacity never binds
    p = plan(snap, PlanOptions())
    for sp in p.services:
        if sp.status in (Status.REBALANCE, Status.BALANCED, Status.AT_CAPACITY):
            assert sp.distribution.moves_needed == lower_bound(snap, sp.service)
        if sp.status == Status.REBALANCE:
            assert len(sp.moves) == lower_bound(snap, sp.service)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3), st.sampled_from(["scale-out", "random", "balanced"]))
def test_synthetic_cluster_plans_to_balance(seed, skew):
    from .factories import synthetic_cluster
    snap = synthetic_cluster(instances=12, azs=3, services=4, tasks=60, skew=skew, seed=seed)
    p = plan(snap, PlanOptions())
    after = apply_moves(snap, p.moves)
    assert plan(after, PlanOptions()).moves == ()
    assert all(distribution(after, name).balanced for name in snap.services)
