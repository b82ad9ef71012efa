"""Issue 13.1: a surge's new tasks land where the engine predicted, so a move inside the
fullest AZ costs one surge, not two.

ECS places a surge's new tasks while the tasks they replace still run, and its spread counts
them (task-placement-strategies: spread places tasks "evenly based on the specified value").
With AZ counts 3/2 and an empty instance in the 3-task AZ, one new task goes to the 2-task AZ,
not to the empty instance; the engine must plan the surge ECS will actually make.
"""

from __future__ import annotations

from ecs_world import World
from engine_harness import Clock, run_engine

SERVICE = "web"


def build(sandbox, aws) -> tuple[World, str]:
    """AZ a: a1, a2 and (later) an empty a3; AZ b: b1, b2; five tasks spread AZ then instance,
    minimumHealthyPercent 100 (surge only). Returns the world and the EC2 id of the empty
    instance, which sits in the AZ holding three tasks."""
    world = World(sandbox, aws)
    for az in ("us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b"):
        world.launch(az)
    world.boot()
    world.service(SERVICE, 5, td=world.task_definition(cpu=128, memory=128,
                                                        ports=({"containerPort": 80},)),
                  placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                     {"type": "spread", "field": "instanceId"}],
                  deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
                  availabilityZoneRebalancing="DISABLED")
    world.settle(120)
    full_az = max(world.by_az(SERVICE).items(), key=lambda kv: kv[1])[0]
    assert sorted(world.by_az(SERVICE).values()) == [2, 3]
    empty = world.launch(full_az)
    world.boot()
    return world, empty


def test_a_move_inside_the_fullest_az_costs_one_surge(sandbox, aws):
    world, empty = build(sandbox, aws)
    preview = run_engine(sandbox, cluster=world.cluster, check_mode=True, max_moves=5)
    needed = preview.plan.moves_needed
    assert needed == 1, preview.plan.to_dict()["services"]
    (grant,) = preview.decision.grants
    assert grant.mode == "surge" and grant.surge is not None

    result = run_engine(sandbox, cluster=world.cluster, max_moves=5, wait_timeout=1800)
    surges = [a for s in result.steps for a in s.actions if a.mode == "surge"]
    assert len(surges) == 1, [a.to_dict() for a in surges]
    (action,) = surges
    assert action.landing is not None and action.landing["as_predicted"], action.landing
    # The smallest surge whose predicted layout is balanced within max_skew: a surge of one
    # where ECS's tie-break allows it, of two where the new task's landing needs a second
    # one; either way one restart (the lower bound): the second new task is scaled in
    # again (surge overhead), never a task that ran before; never a second surge.
    assert len(action.stopped_tasks) == needed == grant.surge.restarts
    assert len(action.surge_overhead) == grant.surge.k - needed <= needed
    assert action.to_dict()["surge_overhead"] == grant.surge.k - needed
    world.settle(120)
    assert sorted(world.by_az(SERVICE).values()) == [2, 3]
    again = run_engine(sandbox, cluster=world.cluster, max_moves=5)
    assert not again.changed and again.to_dict()["balanced"], again.message()
    assert sum(world.by_instance(SERVICE).values()) == 5 and empty


def test_the_default_budget_balances_it_with_one_restart(sandbox, aws):
    """Issue 18 part 4: ``max_moves`` counts restarts. The default budget here is one move
    (10% of 5 tasks, at least 1) and the lower bound is one restart, so even where ECS's
    tie-break needs a surge of two the step balances the service; the second new task is
    the surge's overhead (it was refused ``surge_would_not_help`` while the budget counted
    the surge's size)."""
    world, _empty = build(sandbox, aws)
    preview = run_engine(sandbox, cluster=world.cluster, check_mode=True)
    assert preview.decision.max_moves == 1 and not preview.decision.refusals, \
        preview.decision.to_dict()
    (grant,) = preview.decision.grants
    assert grant.surge.restarts == 1 and len(grant.moves) == 1
    assert preview.to_dict()["surge_overhead"] == grant.surge.k - 1

    result = run_engine(sandbox, cluster=world.cluster, wait_timeout=1800)
    out = result.to_dict()
    assert out["balanced"] and out["moves_made"] == 1, result.message()
    assert out["surge_overhead"] == grant.surge.k - 1
    assert out["decision"]["spent"] == 1
    world.settle(120)
    assert sorted(world.by_az(SERVICE).values()) == [2, 3]
    assert sum(world.by_instance(SERVICE).values()) == 5


def test_a_surge_moves_the_unprotected_task_past_tasks_their_owner_protected(sandbox, aws):
    """Issue 18 part 5: the owner protects both tasks of AZ b (task-scale-in-protection.html:
    set by anyone; the engine never stops nor unprotects them). The surge ECS makes lands one
    new task in AZ b, which is scaled in again (overhead), and moves AZ a's surplus task to the
    empty instance (or, on an ECS tie-break, to AZ b): balanced with one restart, the owner's
    tasks and protection untouched.
    While the surge's count is raised the engine never holds more tasks protected than the
    count it lowers to (ECS refuses more than desiredCount: DEPLOYMENT_BLOCKED). Before, the
    surge could only remove tasks that ran before it, and AZ b's were protected: refused
    surge_would_not_help, the service left unbalanced."""
    world, _ = build(sandbox, aws)
    az_b = min(world.by_az(SERVICE).items(), key=lambda kv: kv[1])[0]
    owners = sorted(t["taskArn"] for t in world.tasks(SERVICE) if t["availabilityZone"] == az_b)
    assert len(owners) == 2
    world.ecs.update_task_protection(cluster=world.cluster, tasks=owners, protectionEnabled=True,
                                     expiresInMinutes=600)
    most: list[int] = []

    def watch() -> None:
        live = [t["taskArn"] for t in world.tasks(SERVICE)]
        got = world.ecs.get_task_protection(cluster=world.cluster, tasks=live)
        most.append(sum(1 for p in got["protectedTasks"] if p["protectionEnabled"]))

    result = run_engine(sandbox, cluster=world.cluster, max_moves=5, wait_timeout=1800,
                        clock=Clock(sandbox, [watch]))
    out = result.to_dict()
    assert out["balanced"] and out["moves_made"] == 1 and not out["error"], result.message()
    assert not set(m["task_arn"] for m in out["moves"]) & set(owners)
    assert most and max(most) <= 5, most
    world.settle(120)
    live = {t["taskArn"] for t in world.tasks(SERVICE)}
    assert set(owners) <= live and len(live) == 5
    got = world.ecs.get_task_protection(cluster=world.cluster, tasks=sorted(live))
    assert sorted(p["taskArn"] for p in got["protectedTasks"] if p["protectionEnabled"]) == owners
    # Balanced as the engine defines it once ECS settled: AZ a's surplus task went to the
    # empty instance or, where ECS's tie-break (instance ids, random per run) lands the new
    # task in AZ b, to AZ b; either is one restart, the lower bound.
    assert sorted(world.by_az(SERVICE).values()) == [2, 3]
    again = run_engine(sandbox, cluster=world.cluster, check_mode=True, max_moves=5)
    assert again.plan.moves_needed == 0, again.plan.to_dict()["services"]
