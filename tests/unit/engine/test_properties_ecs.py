"""Hypothesis properties: max_skew as a tolerance (fewest moves, by brute force) and capacity
provider pools (per-provider counts kept, balanced inside each pool)."""

from collections import Counter
from dataclasses import replace
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, Status, distribution, plan,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem,
)

from .factories import apply_moves, cluster, inst, ref, svc


def brute_force_moves(layout, azs, total, k):
    """Fewest moves to any layout whose AZ skew and instance skew (inside each AZ) are <= k."""
    best = None
    n = len(layout)
    for targets in product(range(total + 1), repeat=n):
        if sum(targets) != total:
            continue
        per_az = Counter()
        by_az = {}
        for t, az in zip(targets, azs):
            per_az[az] += t
            by_az.setdefault(az, []).append(t)
        if max(per_az.values()) - min(per_az.values()) > k:
            continue
        if any(max(v) - min(v) > k for v in by_az.values()):
            continue
        cost = sum(max(0, c - t) for c, t in zip(layout, targets))
        best = cost if best is None else min(best, cost)
    return best


@st.composite
def layouts(draw):
    azs = draw(st.lists(st.sampled_from("ab"), min_size=2, max_size=4))
    if len(set(azs)) < 2:
        azs[-1] = "b" if azs[0] == "a" else "a"
    counts = draw(st.lists(st.integers(0, 7), min_size=len(azs), max_size=len(azs)))
    return azs, counts, draw(st.integers(1, 3))


@settings(max_examples=200, deadline=None)
@given(layouts())
def test_tolerance_moves_equal_brute_force_lower_bound(case):
    azs, layout, k = case
    total = sum(layout)
    insts = [inst(f"{az}{i}", az) for i, az in enumerate(azs)]
    placement = {ref(i.arn): n for i, n in zip(insts, layout) if n}
    snap = cluster(insts, [svc("web", desired=max(total, 2))], {"web": placement})
    if total < 2:
        return
    p = plan(snap, PlanOptions(max_skew=k))
    sp = p.service("web")
    expected = brute_force_moves(layout, azs, total, k)
    assert sp.distribution.moves_needed == expected, (azs, layout, k, sp)
    assert len(sp.moves) == expected
    after = distribution(apply_moves(snap, p.moves), "web", max_skew=k)
    assert after.balanced and after.moves_needed == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["spot", "od"]), st.sampled_from("ab"),
                          st.integers(0, 6)), min_size=2, max_size=6))
def test_pools_keep_provider_counts_and_balance_inside(rows):
    insts, placement = [], {}
    for i, (provider, az, n) in enumerate(rows):
        instance = replace(inst(f"{provider}{az}{i}", az), capacity_provider=provider)
        insts.append(instance)
        if n:
            placement[ref(instance.arn)] = n
    total = sum(placement.values())
    strategy = (CapacityProviderItem("spot", 0, 1), CapacityProviderItem("od", 0, 1))
    snap = cluster(insts, [svc("web", desired=max(total, 2), launch_type="",
                               capacity_provider_strategy=strategy)], {"web": placement})
    p = plan(snap, PlanOptions())
    sp = p.service("web")
    if sp.status == Status.SKIPPED:
        assert sp.moves == () and sp.reason is not None
        return
    provider = {i.arn: i.capacity_provider for i in insts}
    before = Counter(provider[t.instance_arn] for t in snap.tasks["web"])
    after_snap = apply_moves(snap, p.moves)
    after = Counter(provider[t.instance_arn] for t in after_snap.tasks["web"])
    assert before == after
    for m in p.moves:
        assert provider[m.source_instance] == provider[m.destination_instance]
    for pool in ("spot", "od"):   # inside each pool, AZ then instance skew <= 1
        per_az, per_inst = Counter(), Counter({i.arn: 0 for i in insts
                                               if i.capacity_provider == pool})
        for t in after_snap.tasks["web"]:
            if provider[t.instance_arn] == pool:
                per_az[t.az] += 1
                per_inst[t.instance_arn] += 1
        azs = {i.az for i in insts if i.capacity_provider == pool}
        az_counts = [per_az.get(az, 0) for az in azs]
        if az_counts:
            assert max(az_counts) - min(az_counts) <= 1
        for az in azs:
            inside = [n for a, n in per_inst.items() if a.endswith(tuple(
                ref(i.arn) for i in insts if i.az == az and i.capacity_provider == pool))]
            assert not inside or max(inside) - min(inside) <= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=6), st.integers(1, 4), st.data())
def test_band_moves_matches_band_fill(counts, k, data):
    """The planner's fast cost equals the moves of the targets it would set."""
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.filling import (
        band_fill, band_moves,
    )
    total = data.draw(st.integers(0, sum(counts) + 5))
    caps = [total + 10] * len(counts)
    targets = band_fill(total, counts, [0] * len(counts), caps, k,
                        [(0, i) for i in range(len(counts))])
    assert sum(targets) == total and max(targets) - min(targets) <= k
    assert band_moves(total, counts, caps, k) == sum(max(0, c - t)
                                                     for c, t in zip(counts, targets))
