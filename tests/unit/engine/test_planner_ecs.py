"""The planner against the ECS production runs: capacity provider pools, launch types, ECS's
own AZ rebalancing, what ECS's spread counts, max_skew as a tolerance, a reason for every
service that is not balanced."""

from dataclasses import replace

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, Status, distribution, plan,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem,
)

from .factories import apply_moves, arn, cluster, counts, inst, svc


def run(snap, **opts):
    return plan(snap, PlanOptions(**opts))


def cp(ref_, az, provider, **kw):
    return replace(inst(ref_, az, **kw), capacity_provider=provider)


def strategy(*providers):
    return tuple(CapacityProviderItem(p, 0, 1) for p in providers)


# ------------------------------------------------------------------ capacity providers

def test_pools_keep_per_provider_counts_and_balance_inside_each():
    """asg-capacity-providers / docs/ecs-facts.md §1.5: "Tasks go only to instances of the providers
    in the strategy"; base/weight decide each provider's count, so the engine keeps it."""
    insts = [cp("a1", "a", "spot"), cp("b1", "b", "spot"), cp("a2", "a", "od"),
             cp("b2", "b", "od"), cp("c9", "c", "other")]
    snap = cluster(insts, [svc("web", capacity_provider_strategy=strategy("spot", "od"),
                               launch_type="")],
                   {"web": {"a1": 4, "a2": 2}})
    p = run(snap)
    sp = p.service("web")
    assert sp.status == Status.REBALANCE and sp.distribution.capacity_providers == ("spot", "od")
    after = counts(apply_moves(snap, p.moves), "web")
    assert after == {"a1": 2, "b1": 2, "a2": 1, "b2": 1}        # c9 (other provider) unused
    assert all(m.destination_instance != arn("c9") for m in p.moves)


def test_launch_type_ec2_uses_instances_of_any_provider():
    """task-placement.html lists the filters (resources, constraints, strategies); nothing
    restricts a launch-type EC2 task to instances without a provider (the sandbox:
    capacity.pool(hosts, None) is every host)."""
    insts = [cp("a1", "a", "spot"), cp("b1", "b", "od")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 4}})
    assert counts(apply_moves(snap, run(snap).moves), "web") == {"a1": 2, "b1": 2}


@pytest.mark.parametrize("fields, text", [
    ({"launch_type": "FARGATE"}, "launch type FARGATE"),
    ({"launch_type": "EXTERNAL"}, "launch type EXTERNAL"),
    ({"launch_type": "", "capacity_provider_strategy": strategy("FARGATE_SPOT", "FARGATE")},
     "capacity provider FARGATE_SPOT, FARGATE"),
])
def test_fargate_and_external_are_skipped_never_balanced(fields, text):
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web", desired=2, **fields)], {})
    sp = run(snap).service("web")
    assert sp.status == Status.SKIPPED and not sp.balanced
    assert sp.reason.code == "not_ec2_capacity" and text in sp.reason.message


# ------------------------------------------------------------------ ECS's AZ rebalancing

def test_az_rebalancing_enabled_moves_only_inside_an_az():
    """service-rebalancing.html: ECS's AZ rebalancing balances AZs only; the instance level
    inside an AZ stays the engine's. Per-AZ counts never change."""
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("web", az_rebalancing="ENABLED")], {"web": {"a1": 4, "b1": 1}})
    p = run(snap)
    sp = p.service("web")
    assert sp.distribution.az_rebalancing == "ENABLED"
    assert sp.distribution.delegated == ("attribute:ecs.availability-zone",)
    assert all(m.source_az == m.destination_az for m in p.moves)
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 2, "a2": 2, "b1": 1}


def test_az_rebalancing_only_az_skew_left_is_ecs_business():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web", az_rebalancing="ENABLED")],
                   {"web": {"a1": 3, "b1": 1}})
    sp = run(snap).service("web")
    assert sp.status == Status.BALANCED and sp.moves == ()
    assert sp.distribution.skew["attribute:ecs.availability-zone"] == 2


def test_az_rebalancing_in_progress_waits():
    """track-service-rebalancing.html: "AZ Rebalancing in progress." - ECS is moving tasks."""
    snap = cluster([inst("a1", "a"), inst("a2", "a"), inst("b1", "b")],
                   [svc("web", az_rebalancing="ENABLED", az_rebalancing_in_progress=True)],
                   {"web": {"a1": 4, "b1": 1}})
    sp = run(snap).service("web")
    assert sp.status == Status.SKIPPED and sp.reason.code == "ecs_az_rebalancing_in_progress"


# ------------------------------------------------------------------ what ECS's spread counts

def test_tasks_on_disconnected_instance_count_for_their_az():
    """task-placement-strategies.html: spread places tasks "evenly based on the specified
    value"; ECS counts the service's running tasks per value, whichever instance holds them.
    Two tasks on a disconnected instance in AZ a still make AZ a hold 3."""
    insts = [inst("a1", "a"), inst("a9", "a", connected=False), inst("b1", "b"),
             inst("b2", "b")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 1, "a9": 2, "b1": 3}})
    p = run(snap)
    d = p.service("web").distribution
    assert d.azs == {"us-east-1a": 3, "us-east-1b": 3}
    assert d.skew["attribute:ecs.availability-zone"] == 0
    # only the instance level inside AZ b is out of balance: 3/0 -> 2/1, nothing moves to a1
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 1, "a9": 2, "b1": 2, "b2": 1}


def test_pinned_tasks_above_the_even_share_stay_and_others_spread():
    insts = [inst("a1", "a"), inst("a9", "a", attrs={"kind": "old"}), inst("b1", "b"),
             inst("c1", "c")]
    # ``!=`` would exclude the instances without ``kind`` too (ECS: a negative operator over
    # a missing attribute is false); ``not (... == ...)`` keeps them
    snap = cluster(insts, [svc("web", constraints=[("memberOf", "not (attribute:kind == old)")])],
                   {"web": {"a9": 4, "b1": 4}})
    after = counts(apply_moves(snap, run(snap).moves), "web")
    assert after == {"a9": 4, "b1": 2, "c1": 2}


def test_draining_instance_makes_the_service_wait():
    """managed-instance-draining / docs/ecs-facts.md §5.2: tasks on a DRAINING instance are replaced
    by the scheduler; the engine must not count them twice nor move around them."""
    snap = cluster([inst("a1", "a"), inst("b1", "b"), inst("a2", "a", status="DRAINING")],
                   [svc("web")], {"web": {"a1": 3, "a2": 1}})
    sp = run(snap).service("web")
    assert sp.status == Status.SKIPPED and sp.moves == ()
    assert sp.reason.code == "tasks_being_replaced" and sp.reason.message.startswith("1 task(s)")


# ------------------------------------------------------------------ max_skew tolerance

def test_max_skew_two_moves_the_fewest_tasks():
    snap = cluster([inst("a1", "a"), inst("a2", "a")], [svc("web",
                   strategy=[("spread", "instanceId")])], {"web": {"a1": 8}})
    p = run(snap, max_skew=2)
    assert p.service("web").moves_needed == 3 and len(p.moves) == 3
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 5, "a2": 3}


def test_max_skew_two_over_azs_and_instances():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("c1", "c")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 9}})
    p = run(snap, max_skew=2)
    after = apply_moves(snap, p.moves)
    d = distribution(after, "web", max_skew=2)
    assert d.balanced and all(v <= 2 for v in d.skew.values())
    # AZs 9/0/0 -> 4/3/2, and inside AZ a 4 tasks within 2 of each other: a1 keeps 3
    assert len(p.moves) == p.service("web").moves_needed == 6
    final = counts(after, "web")
    assert (final["a1"], final["a2"], sorted([final["b1"], final["c1"]])) == (3, 1, [2, 3])
    assert run(after, max_skew=2).moves == ()


def test_within_tolerance_nothing_moves():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 4, "b1": 2}})
    assert run(snap, max_skew=2).service("web").status == Status.BALANCED


# ------------------------------------------------------------------ reasons

def test_capacity_limited_first_run_says_why():
    """Issue 13 item 3: unequal instance sizes where memory makes the even target infeasible."""
    insts = [inst("a1", "a", memory=8192), inst("b1", "b", memory=1024)]
    snap = cluster(insts, [svc("web", memory=512)], {"web": {"a1": 6}})
    sp = run(snap).service("web")
    assert sp.status == Status.REBALANCE and len(sp.moves) == 2 and not sp.balanced
    assert sp.reason.code == "at_capacity"
    assert "skew attribute:ecs.availability-zone=2 at best" in sp.reason.message
    assert "0 of 2 eligible instance(s) have room" not in sp.reason.message
    after = apply_moves(snap, sp.moves)
    again = run(after).service("web")
    assert again.status == Status.AT_CAPACITY and again.reason.code == "at_capacity"
    assert again.reason.message.startswith(
        "skew attribute:ecs.availability-zone=2, instanceId=0 exceeds max_skew 1, but free "
        "capacity allows skew attribute:ecs.availability-zone=2 at best (max_skew 1); "
        "1 of 2 eligible instance(s) have room for another task (cpu 0, memory 512 MiB)")


def test_every_unbalanced_plan_has_a_reason_and_status_agrees():
    insts = [inst("a1", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("api"), svc("web"), svc("ok")],
                   {"api": {"a1": 4}, "web": {"a1": 4}, "ok": {"a1": 1, "b1": 1}})
    p = plan(snap)
    by = {sp.service: sp for sp in p.services}
    for name in ("api", "web"):
        assert by[name].status == Status.REBALANCE and by[name].reason.code == "moves_planned"
        assert "2 of 2 move(s) planned" in by[name].reason.message
    assert by["ok"].balanced and by["ok"].reason is None
    for sp in p.services:
        assert (sp.reason is None) == sp.balanced == (sp.status == Status.BALANCED)
        assert sp.to_dict()["balanced"] == sp.balanced
