"""The engine (snapshot -> plan -> executor loop) against the sandbox's ECS.

Each test first reproduces the skew of the reference walkthrough (scale in, scale out), then
rebalances with ``runner.rebalance`` on the sandbox's manual clock and asserts the final
distribution, the number of moves and what never happened in between.
"""

from __future__ import annotations

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    ClusterNotFound, UnknownServices, runner,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.executor import SURGE_TAG
from sandbox.scenario import Driver, Seed, counts, distribution


def rebalance(sandbox, aws, sample=None, **kw):
    """Run the engine; ``sample`` is called after every emulated second it waits."""
    def sleep(seconds):
        for _ in range(int(seconds)):
            sandbox.advance(1)
            if sample:
                sample()

    request = runner.RebalanceRequest(cluster=kw.pop("cluster", "demo"), poll_interval=5,
                                      wait_timeout=kw.pop("wait_timeout", 1800), **kw)
    return runner.rebalance(aws("ecs"), request, sleep=sleep, clock=sandbox.now,
                            elb_client=aws("elbv2"))


def test_seed_scenario_one_move_ends_one_task_per_instance(sandbox, walk):
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=2, min_healthy_percent=50)
    assert counts(run(seed)["up"]) == [2, 0]
    result = rebalance(sandbox, aws)
    assert result.changed and len(result.moves) == 1
    assert [a.mode for s in result.steps for a in s.actions] == ["stop"]
    assert counts(distribution(aws, "demo", "sample-app")) == [1, 1]
    assert result.to_dict()["balanced"] is True
    again = rebalance(sandbox, aws)
    assert not again.changed and again.moves == []
    assert again.message().startswith("nothing to move")


def test_four_tasks_on_one_of_two_instances_two_moves(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=50))
    result = rebalance(sandbox, aws)
    assert len(result.moves) == 2
    assert counts(distribution(aws, "demo", "sample-app")) == [2, 2]


def test_three_azs(sandbox, walk):
    aws, run = walk
    run(Seed(azs=3, instances=3, tasks=6, min_healthy_percent=50))
    result = rebalance(sandbox, aws)
    assert counts(distribution(aws, "demo", "sample-app")) == [2, 2, 2]
    assert len(result.moves) == result.plan.moves_needed == 2


def test_min_healthy_100_surges_and_never_drops_below_desired(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200))
    ecs = aws("ecs")
    seen = []

    def sample():
        svc = ecs.describe_services(cluster="demo", services=["sample-app"])["services"][0]
        seen.append(svc["runningCount"])

    result = rebalance(sandbox, aws, sample=sample)
    assert {a.mode for s in result.steps for a in s.actions} == {"surge"}
    assert counts(distribution(aws, "demo", "sample-app")) == [2, 2]
    assert seen and min(seen) >= 4, f"running count dipped to {min(seen)}"
    svc = ecs.describe_services(cluster="demo", services=["sample-app"],
                                include=["TAGS"])["services"][0]
    assert svc["desiredCount"] == 4
    assert SURGE_TAG not in {t["key"] for t in svc.get("tags", [])}
    tasks = ecs.list_tasks(cluster="demo", serviceName="sample-app")["taskArns"]
    protection = ecs.get_task_protection(cluster="demo", tasks=tasks)["protectedTasks"]
    assert not any(p["protectionEnabled"] for p in protection)


def test_check_mode_plans_and_changes_nothing(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=50))
    before = distribution(aws, "demo", "sample-app")
    result = rebalance(sandbox, aws, check_mode=True)
    # The planner proposes both moves; the evictor's default budget (10% of 4 tasks, at
    # least 1) grants the first step one of them.
    assert result.changed is True and result.steps == []
    assert result.plan.moves_needed == 2 and len(result.plan.moves) == 2
    assert result.decision.max_moves == 1 and len(result.decision.moves) == 1
    assert result.message() == "check mode: 2 move(s) planned, 1 would be made in the first step"
    wide = rebalance(sandbox, aws, check_mode=True, max_moves=2)
    assert len(wide.decision.moves) == 2 and wide.decision.refusals == []
    sandbox.advance(120)
    assert distribution(aws, "demo", "sample-app") == before


def test_binpack_and_daemon_services_are_left_alone(sandbox, walk):
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=2, min_healthy_percent=50)
    run(seed)
    ecs = aws("ecs")
    ecs.create_service(cluster="demo", serviceName="packed", taskDefinition=seed.service,
                       desiredCount=2, placementStrategy=[{"type": "binpack", "field": "memory"}],
                       deploymentConfiguration={"minimumHealthyPercent": 0})
    ecs.create_service(cluster="demo", serviceName="agent", taskDefinition=seed.service,
                       schedulingStrategy="DAEMON")
    Driver(advance=sandbox.advance).wait_for(
        lambda: _running(ecs, "packed") == 2 and _running(ecs, "agent") == 2, 300)
    packed_before = _task_arns(ecs, "packed")
    agent_before = _task_arns(ecs, "agent")
    result = rebalance(sandbox, aws)
    skipped = {s["service"]: s["code"] for s in result.to_dict()["skipped"]}
    assert skipped == {"packed": "unsupported_strategy", "agent": "daemon"}
    assert {m.service for m in result.moves} == {"sample-app"}
    assert _task_arns(ecs, "packed") == packed_before
    assert _task_arns(ecs, "agent") == agent_before


def test_twelve_services_past_the_describe_limit(sandbox, walk):
    aws, run = walk
    # 12 services x 2 tasks x 500 MiB do not fit on two m3.medium; m5.xlarge has room.
    seed = Seed(azs=2, instances=2, tasks=2, min_healthy_percent=50, instance_type="m5.xlarge")
    run(seed)
    ecs = aws("ecs")
    for i in range(11):                      # with sample-app: 12 services
        ecs.create_service(cluster="demo", serviceName=f"svc-{i:02d}",
                           taskDefinition=seed.service, desiredCount=2,
                           deploymentConfiguration={"minimumHealthyPercent": 50})
    Driver(advance=sandbox.advance).wait_for(
        lambda: all(_running(ecs, f"svc-{i:02d}") == 2 for i in range(11)), 600)
    result = rebalance(sandbox, aws, max_moves=20)
    assert len(result.before) == 12
    assert len(result.moves) == 1            # only sample-app was skewed
    assert result.to_dict()["balanced"] is True


def test_unknown_service_and_cluster_are_clear_errors(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=2))
    with pytest.raises(UnknownServices, match="unknown service.*nope"):
        rebalance(sandbox, aws, services=("nope",))
    with pytest.raises(ClusterNotFound, match="'missing' not found"):
        rebalance(sandbox, aws, cluster="missing")


def _running(ecs, name):
    return ecs.describe_services(cluster="demo", services=[name])["services"][0]["runningCount"]


def _task_arns(ecs, name):
    return sorted(ecs.list_tasks(cluster="demo", serviceName=name)["taskArns"])
