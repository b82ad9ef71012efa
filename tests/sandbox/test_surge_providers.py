"""Issue 18 part 3: a surge of a service whose capacity provider strategy splits its tasks by
base and weight (CapacityProviderStrategyItem: the base first, then the weight ratio;
docs/ecs-facts.md §1.5).

ECS gives each of a surge's new tasks a provider first (the one furthest below its share of
the new total) and only then places it inside that provider's instances. A prediction that
lets any provider of the strategy take any new task puts the first one on the instance the
plan wants and is wrong whenever the split sends it to the other pool: the run then stops
nothing that helps, or restarts a task in the pool that was balanced. The engine predicts
the split, keeps each provider's count, and restarts only tasks of the pool that was skewed,
at the lower bound; the new tasks the other pool gets are scaled in again (surge overhead).
"""

from __future__ import annotations

import base64
from collections import Counter

from ecs_world import ECS_AMI, World, user_data
from engine_harness import run_engine

CLUSTER, SERVICE = "demo", "web"
STRATEGY = [{"capacityProvider": "cp-a", "base": 2, "weight": 1},
            {"capacityProvider": "cp-b", "weight": 3}]


def group(world, name: str, desired: int) -> str:
    world.asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=6, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "ecs", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(world.subnets[az] for az in ("us-east-1a", "us-east-1b")))
    return world.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]["AutoScalingGroupARN"]


def build(sandbox, aws) -> World:
    """cp-a: one instance while the service is placed (its 4 tasks all land there), then a
    second one joins in the other AZ; cp-b: two instances, one per AZ (6 tasks, 3/3). The
    skew is inside cp-a's pool: 4/0, two moves to 2/2."""
    world = World(sandbox, aws, cluster=CLUSTER)
    aws("ec2").create_launch_template(LaunchTemplateName="ecs", LaunchTemplateData={
        "ImageId": ECS_AMI, "InstanceType": "m5.large",
        "UserData": base64.b64encode(user_data(CLUSTER).encode()).decode()})
    world.asg = aws("autoscaling")
    for name, desired in (("a", 1), ("b", 2)):
        arn = group(world, f"asg-{name}", desired)
        world.ecs.create_capacity_provider(name=f"cp-{name}",
                                           autoScalingGroupProvider={"autoScalingGroupArn": arn})
    world.ecs.put_cluster_capacity_providers(cluster=CLUSTER, capacityProviders=["cp-a", "cp-b"],
                                             defaultCapacityProviderStrategy=[])
    world.boot()
    td = world.task_definition(family=SERVICE, cpu=128, memory=256)
    world.service(SERVICE, 10, td=td, capacityProviderStrategy=STRATEGY,
                  placementStrategy=[{"type": "spread",
                                      "field": "attribute:ecs.availability-zone"},
                                     {"type": "spread", "field": "instanceId"}],
                  deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
                  availabilityZoneRebalancing="DISABLED")
    world.settle(120)
    world.asg.set_desired_capacity(AutoScalingGroupName="asg-a", DesiredCapacity=2)
    world.settle(60)
    world.boot()
    return world


def providers(world) -> Counter:
    return Counter(t.get("capacityProviderName") for t in world.tasks(SERVICE))


def pool_layout(world, provider: str) -> list[int]:
    hosts = {ci["ec2InstanceId"]: ci.get("capacityProviderName") for ci in world.instances()}
    by_host = world.by_instance(SERVICE)
    return sorted(by_host.get(iid, 0) for iid, p in hosts.items() if p == provider)


def test_weighted_providers_surge_keeps_each_providers_count(sandbox, aws):
    world = build(sandbox, aws)
    assert providers(world) == {"cp-a": 4, "cp-b": 6}
    assert pool_layout(world, "cp-a") == [0, 4] and pool_layout(world, "cp-b") == [3, 3]

    preview = run_engine(sandbox, cluster=CLUSTER, check_mode=True, max_moves=5)
    sp = preview.plan.service(SERVICE)
    assert sp.moves_needed == 2, preview.plan.to_dict()["services"]
    (grant,) = preview.decision.grants
    assert grant.mode == "surge" and grant.surge.remaining_moves == 0
    # Restarts only in cp-a's pool, at the lower bound; every new task cp-b's share takes
    # is scaled in again.
    assert grant.surge.restarts == 2
    assert grant.surge.overhead == grant.surge.k - 2 > 0

    result = run_engine(sandbox, cluster=CLUSTER, max_moves=5, wait_timeout=1800)
    surges = [a for s in result.steps for a in s.actions if a.mode == "surge"]
    assert len(surges) == 1, [a.to_dict() for a in surges]
    (action,) = surges
    assert action.landing["as_predicted"], action.landing
    assert len(action.stopped_tasks) == 2 and not action.error, action.to_dict()
    assert len(action.surge_overhead) == grant.surge.k - 2
    world.settle(120)
    assert providers(world) == {"cp-a": 4, "cp-b": 6}
    assert pool_layout(world, "cp-a") == [2, 2] and pool_layout(world, "cp-b") == [3, 3]
    again = run_engine(sandbox, cluster=CLUSTER, max_moves=5)
    assert not again.changed and again.to_dict()["balanced"], again.message()

