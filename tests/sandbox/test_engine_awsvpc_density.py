"""awsvpc density against the sandbox's ECS (issue 18): the engine plans only moves whose
replacement has a free task ENI to land on, and only onto instances in the service's subnets.

An m5.large runs 2 awsvpc tasks without ENI trunking (3 ENIs, the primary one counts;
container-instance-eni.html), 10 with it. Each run is ``runner.rebalance`` on the manual
clock, the way the Lambda calls it (one step a run, the cluster settling between runs).
Before this change the engine planned moves onto the full AZ b instances; ECS placed each
replacement back in AZ a: restarts for nothing.
"""

from __future__ import annotations

from collections import Counter

from engine_harness import CLUSTER, SERVICE, run_engine
from ecs_world import World
from sandbox.scenario import Driver, steady

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
    take_snapshot,
)
from engine_harness import engine_client

A, B, C = "us-east-1a", "us-east-1b", "us-east-1c"
STOP_MODE = {"minimumHealthyPercent": 50, "maximumPercent": 200}


def _stopped(result) -> list[str]:
    return [t for a in result.to_dict()["actions"] for t in a["stopped_tasks"]]


def _reason(result) -> tuple[str, str]:
    planned = {sp["service"]: sp for sp in result.to_dict()["plan"]["services"]}[SERVICE]
    reason = planned.get("reason") or {}
    return reason.get("code", ""), reason.get("message", "")


def _settle(sandbox, aws) -> None:
    Driver(advance=sandbox.advance).wait_for(lambda: steady(aws, CLUSTER, SERVICE), 300,
                                             what=f"{SERVICE} steady")


def _world(sandbox, aws, fillers_per_new_instance: int, subnets=(A, B)):
    """AZ a: two m5.large holding the service's 4 awsvpc tasks (2 each: every task ENI
    used). Then AZ b: two m5.large, each with ``fillers_per_new_instance`` standalone awsvpc
    tasks started on it (StartTask), so 2 - that many task ENIs are free there."""
    world = World(sandbox, aws, cluster=CLUSTER, azs=(A, B, C))
    olds = [world.launch(A), world.launch(A)]
    world.boot()
    td = world.task_definition("vpcweb", networkMode="awsvpc")
    net = {"awsvpcConfiguration": {"subnets": [world.subnets[az] for az in subnets]}}
    world.service(SERVICE, 4, td, networkConfiguration=net,
                  availabilityZoneRebalancing="DISABLED", deploymentConfiguration=STOP_MODE)
    _settle(sandbox, aws)
    news = [world.launch(B), world.launch(B)]
    world.boot()
    filler = world.task_definition("filler", cpu=64, memory=64, networkMode="awsvpc")
    for ec2 in news:
        ci = world.instance(ec2)["containerInstanceArn"]
        for _ in range(fillers_per_new_instance):
            world.ecs.start_task(cluster=CLUSTER, taskDefinition=filler, containerInstances=[ci],
                                 networkConfiguration={"awsvpcConfiguration": {
                                     "subnets": [world.subnets[B]]}})
    sandbox.advance(30)
    return world, olds, news


def test_no_free_eni_in_the_new_az_means_no_restart_and_at_capacity_naming_enis(sandbox, aws):
    world, olds, news = _world(sandbox, aws, fillers_per_new_instance=2)
    before = sorted(t["taskArn"] for t in world.tasks(SERVICE))
    result = run_engine(sandbox, wait=False)
    assert _stopped(result) == [] and result.to_dict()["changed"] is False
    code, message = _reason(result)
    assert code == "at_capacity", (code, message)
    assert "ENI on 4 (awsvpc task limit reached)" in message, message
    assert sorted(t["taskArn"] for t in world.tasks(SERVICE)) == before
    assert world.by_instance(SERVICE) == {olds[0]: 2, olds[1]: 2}


def test_one_free_eni_on_each_new_instance_balances_with_the_fewest_moves(sandbox, aws):
    world, olds, news = _world(sandbox, aws, fillers_per_new_instance=1)
    stopped: list[str] = []
    for _ in range(4):
        result = run_engine(sandbox, wait=False)
        stopped += _stopped(result)
        _settle(sandbox, aws)
        if result.to_dict()["after"][SERVICE]["balanced"] and not _stopped(result):
            break
    assert world.by_instance(SERVICE) == {olds[0]: 1, olds[1]: 1, news[0]: 1, news[1]: 1}
    assert world.by_az(SERVICE) == Counter({A: 2, B: 2})
    assert len(stopped) == 2, f"{len(stopped)} restarts for the 2 moves needed"


def test_the_snapshot_reads_free_task_enis_and_the_service_subnets(sandbox, aws):
    """The engine's read: free awsvpc slots per instance (m5.large: 2 - task ENIs in use;
    standalone tasks count), the trunk limit for an instance registered after
    awsvpcTrunking, and the service's subnets."""
    world, olds, news = _world(sandbox, aws, fillers_per_new_instance=1, subnets=(A, B))
    world.ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
    trunked = world.launch(C)
    world.boot()
    snap = take_snapshot(engine_client(sandbox), CLUSTER)
    slots = {i.ec2_instance_id: i.awsvpc_slots for i in snap.instances}
    assert slots == {olds[0]: 0, olds[1]: 0, news[0]: 1, news[1]: 1, trunked: 10}
    assert snap.services[SERVICE].subnets == (world.subnets[A], world.subnets[B])
    assert snap.services[SERVICE].resources.enis == 1
    # a scoped read sees only the service's tasks: the fillers' ENIs still count (from the
    # instances' task counts), never fewer ENIs in use than there are
    scoped = take_snapshot(engine_client(sandbox), CLUSTER, services=[SERVICE])
    assert {i.ec2_instance_id: i.awsvpc_slots for i in scoped.instances} == slots


def test_an_awsvpc_service_is_not_moved_outside_its_subnets(sandbox, aws):
    """task-networking.html: tasks are placed "on valid container instances in those
    subnets". The service names AZ a's subnet only; AZ b's free instances are no domain of
    it: nothing moves there (before, the engine planned AZ b and ECS put the replacements
    back in AZ a)."""
    world, olds, news = _world(sandbox, aws, fillers_per_new_instance=0, subnets=(A,))
    result = run_engine(sandbox, wait=False)
    assert _stopped(result) == []
    assert set(world.by_instance(SERVICE)) == set(olds)
    assert result.to_dict()["after"][SERVICE]["azs"] == {A: 4}
