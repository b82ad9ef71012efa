"""The fast surge predictor (a heap per spread domain) places exactly as the literal one
(every placement filters the whole pool level by level): same instances, same order, same
number of ties, for random clusters, strategies, constraints, capacity and surge sizes; and
the fast removal order (a heap per AZ) chooses exactly the tasks the literal scan chooses."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.surge import (
    _counts, choose_removals, predict_placements, smallest_surge,
)

from .factories import arn, cluster, inst, ref, svc
from .surge_reference import (
    choose_removals_simple, predict_placements_simple, smallest_surge_simple,
)

STRATEGIES = [
    (),                                                        # AZ, then instance (default)
    (("spread", "attribute:ecs.availability-zone"),),          # AZ only: sticky inside
    (("spread", "instanceId"),),
    (("spread", "attribute:rack"), ("spread", "instanceId")),  # racks cross AZs
    (("spread", "attribute:ecs.availability-zone"), ("spread", "attribute:rack"),
     ("spread", "host")),
]
CONSTRAINTS = [(), (("distinctInstance", ""),),
               (("memberOf", "attribute:ecs.instance-type == m5.large"),)]
# Capacity provider strategies: none (launch type), one pool, and a base/weight split.
PROVIDERS = [(), (CapacityProviderItem("od", 0, 1),),
             (CapacityProviderItem("od", 2, 1), CapacityProviderItem("spot", 0, 3)),
             (CapacityProviderItem("spot", 0, 1), CapacityProviderItem("od", 0, 1))]


@st.composite
def surges(draw):
    insts = []
    for z in range(draw(st.integers(1, 3))):
        for k in range(draw(st.integers(1, 6))):
            insts.append(inst(
                f"{'abc'[z]}{k}", "abc"[z],
                status=draw(st.sampled_from(["ACTIVE"] * 6 + ["DRAINING"])),
                connected=draw(st.sampled_from([True] * 6 + [False])),
                cpu=256 * draw(st.integers(0, 8)),
                attrs={"rack": f"r{draw(st.integers(0, 2))}",
                       "ecs.instance-type": draw(st.sampled_from(["m5.large", "c5.large"]))}))
        insts[-1] = replace(insts[-1], capacity_provider=draw(st.sampled_from(["od", "spot"])))
    strategy = draw(st.sampled_from(STRATEGIES))
    constraints = draw(st.sampled_from(CONSTRAINTS))
    providers = draw(st.sampled_from(PROVIDERS))
    web = svc("web", strategy=strategy, constraints=constraints, cpu=256,
              ports=draw(st.sampled_from([(), (8080,)])),
              **({"launch_type": "", "capacity_provider_strategy": providers}
                 if providers else {}))
    placed = {}
    for target in draw(st.lists(st.sampled_from(insts), max_size=16)):
        placed[ref(target.arn)] = placed.get(ref(target.arn), 0) + 1
    snap = cluster(insts, [web], {"web": placed})
    return snap, draw(st.integers(1, 20))


@settings(max_examples=400, deadline=None)
@given(surges())
def test_fast_predictor_agrees_with_the_simple_one(case):
    snap, k = case
    service = snap.services["web"]
    counts = _counts(snap.tasks["web"])
    assert predict_placements(snap, service, counts, k) == \
        predict_placements_simple(snap, service, counts, k)


def _targets_and_protection(snap, data):
    """Drawn per-instance targets, and the service's tasks with a drawn set protected."""
    tasks = snap.tasks["web"]
    refs = sorted({ref(i.arn) for i in snap.instances})
    targets = {arn(r): data.draw(st.integers(0, 4)) for r in refs}
    protected = data.draw(st.sets(st.sampled_from([t.arn for t in tasks]))) if tasks else set()
    return refs, targets, tuple(replace(t, protected=True) if t.arn in protected else t
                                for t in tasks)


@settings(max_examples=400, deadline=None)
@given(surges(), st.data())
def test_fast_removals_agree_with_the_simple_ones(case, data):
    snap, k = case
    refs, targets, tasks = _targets_and_protection(snap, data)
    after = dict(_counts(tasks))
    for extra in data.draw(st.lists(st.sampled_from(refs), max_size=4)):
        after[arn(extra)] = after.get(arn(extra), 0) + 1
    instances = snap.instance_map() if data.draw(st.booleans()) else None
    count = data.draw(st.sampled_from([None, k]))
    assert choose_removals(tasks, targets, count, after=after, instances=instances) == \
        choose_removals_simple(tasks, targets, count, after=after, instances=instances)


@settings(max_examples=400, deadline=None)
@given(surges(), st.data())
def test_smallest_surge_is_the_one_trying_every_k_finds(case, data):
    """The moves left by each k come from E(k) - min(k, R(k)); the k chosen and its plan are
    those of planning every k in full."""
    snap, max_k = case
    _, targets, tasks = _targets_and_protection(snap, data)
    snap = replace(snap, tasks={"web": tasks})
    assert smallest_surge(snap, "web", targets, max_k) == \
        smallest_surge_simple(snap, "web", targets, max_k)
