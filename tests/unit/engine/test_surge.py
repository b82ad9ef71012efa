"""plan_surge / smallest_surge / choose_removals: where a surge's new tasks land (ECS's spread
counts the tasks they replace) and which tasks to remove afterwards."""

from dataclasses import replace

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import PlanOptions, plan
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem, PlacementStrategy,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.surge import (
    choose_removals, plan_surge, smallest_surge,
)

from .factories import arn, cluster, inst, ref, svc


def three_two_with_empty():
    """AZ a: a1 holds 3, a2 is empty; AZ b: b1 and b2 hold 1 each. The plan: a1 -> a2."""
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")]
    return cluster(insts, [svc("web")], {"web": {"a1": 3, "b1": 1, "b2": 1}})


def refs(counts):
    return {ref(a): n for a, n in counts.items()}


def test_surge_of_one_inside_the_fullest_az_lands_in_the_other_az():
    """task-placement-strategies.html: spread places tasks "evenly based on the specified
    value" - with the task to replace still counted, AZ a holds 3 and AZ b 2: the new task
    goes to AZ b, not to the empty a2; one surge of 1 cannot reach the target."""
    snap = three_two_with_empty()
    p = plan(snap, PlanOptions())
    assert [(ref(m.source_instance), ref(m.destination_instance)) for m in p.moves] == \
        [("a1", "a2")]
    surge = plan_surge(snap, "web", p, 1)
    assert [ref(a) for a in surge.new_on] == ["b1"]        # tie b1/b2: lowest ec2InstanceId
    assert surge.ties == 1 and surge.remaining_moves == 1 and surge.more_surges == 1


def test_three_two_plus_empty_instance_is_balanced_in_one_surge_of_two():
    """The surge of 2 restarts one task that ran before (a1's: the lower bound); the new task
    ECS put on b1 to keep its AZ spread is scaled in again at once (the surge's overhead),
    not b1's old task."""
    snap = three_two_with_empty()
    p = plan(snap, PlanOptions())
    surge = smallest_surge(snap, "web", p, max_k=5)
    assert surge.k == 2 and [ref(a) for a in surge.new_on] == ["b1", "a2"]
    assert surge.remaining_moves == 0 and surge.more_surges == 0
    assert refs(surge.expected) == {"a1": 2, "a2": 1, "b1": 1, "b2": 1}
    by_arn = {t.arn: t for t in snap.tasks["web"]}
    assert [ref(by_arn[a].instance_arn) for a in surge.remove] == ["a1"]
    assert [ref(a) for a in surge.overhead_on] == ["b1"]
    assert (surge.restarts, surge.overhead) == (1, 1)
    assert surge.to_dict()["surge_overhead"] == 1 and surge.to_dict()["restarts"] == 1


def test_surge_with_room_where_the_target_is_lands_there():
    insts = [inst("a1", "a"), inst("b1", "b"), inst("b2", "b")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 2, "b1": 2}})
    p = plan(snap, PlanOptions())
    surge = plan_surge(snap, "web", p, 1)
    assert [ref(a) for a in surge.new_on] == ["b2"] and surge.ties == 0
    assert surge.remaining_moves == 0 and refs(surge.expected) == {"a1": 2, "b1": 1, "b2": 1}


def test_prediction_respects_capacity_and_pools():
    """docs/ecs-facts.md §1.5: tasks go only to instances of the providers in the strategy."""
    insts = [replace(inst("a1", "a"), capacity_provider="od"),
             replace(inst("b1", "b", memory=256), capacity_provider="od"),
             replace(inst("b2", "b"), capacity_provider="spot"),
             replace(inst("c1", "c"), capacity_provider="od")]
    web = svc("web", memory=512, launch_type="",
              capacity_provider_strategy=(CapacityProviderItem("od", 0, 1),))
    snap = cluster(insts, [web], {"web": {"a1": 3}})
    surge = plan_surge(snap, "web", {arn("a1"): 2, arn("c1"): 1}, 1)
    assert [ref(a) for a in surge.new_on] == ["c1"]      # b1 too small, b2 other provider


def test_choose_removals_after_an_unexpected_landing():
    snap = three_two_with_empty()
    targets = {arn("a1"): 2, arn("a2"): 1, arn("b1"): 1, arn("b2"): 1}
    landed = cluster([inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")],
                     [svc("web")], {"web": {"a1": 3, "b1": 1, "b2": 2, "a2": 1}})
    removed = choose_removals(landed.tasks["web"], targets)
    by_arn = {t.arn: t for t in landed.tasks["web"]}
    assert sorted(ref(by_arn[a].instance_arn) for a in removed) == ["a1", "b2"]
    assert len(snap.tasks["web"]) == 5


def test_protected_tasks_are_never_removed():
    insts = [inst("a1", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 3, "b1": 1}},
                   task_fields={"web-000001": {"protected": True},
                                "web-000002": {"protected": True}})
    removed = choose_removals(snap.tasks["web"], {arn("a1"): 1, arn("b1"): 1})
    assert removed == [snap.tasks["web"][2].arn, snap.tasks["web"][3].arn]


def test_bad_k_and_strategy():
    snap = three_two_with_empty()
    with pytest.raises(ValueError):
        plan_surge(snap, "web", {}, 0)
    web = replace(snap.services["web"],
                  placement_strategy=(PlacementStrategy("binpack", "memory"),))
    binpack = replace(snap, services={"web": web})
    with pytest.raises(ValueError, match="binpack"):
        plan_surge(binpack, "web", {}, 1)
