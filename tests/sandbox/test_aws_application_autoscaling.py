"""Service Auto Scaling in the sandbox: Application Auto Scaling's ECS targets drive our ECS."""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.appautoscaling import next_run
from sandbox.scenario import schedule_desired_count

from ecs_world import World

DIM = "ecs:service:DesiredCount"


@pytest.fixture
def world(sandbox, aws):
    w = World(sandbox, aws)
    for az in ("us-east-1a", "us-east-1b", "us-east-1a", "us-east-1b"):
        w.launch(az)
    w.boot()
    w.service("web", 2, w.task_definition(ports=()))
    sandbox.advance(60)
    return w


def _at(sandbox, seconds: float) -> str:
    when = datetime.datetime.fromtimestamp(sandbox.now() + seconds, datetime.timezone.utc)
    return f"at({when:%Y-%m-%dT%H:%M:%S})"


def _register(aws, resource="service/demo/web", low=1, high=5):
    return aws("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=DIM,
        MinCapacity=low, MaxCapacity=high)


def _running(world) -> int:
    return len([t for t in world.tasks("web") if t["lastStatus"] == "RUNNING"])


def test_scheduled_action_clamped_to_max_scales_the_service_out(sandbox, aws, world):
    """AAS user guide, "How scheduled scaling works": a scheduled action sets MinCapacity and
    MaxCapacity; if current capacity is below the minimum it scales out to the minimum, but never
    above the maximum capacity of the scalable target."""
    scaling = aws("application-autoscaling")
    _register(aws, high=5)
    scaling.put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="grow", ResourceId="service/demo/web",
        ScalableDimension=DIM, Schedule=_at(sandbox, 60),
        ScalableTargetAction={"MinCapacity": 6})
    start = sandbox.now()
    sandbox.advance(59)
    assert world.describe_service("web")["desiredCount"] == 2
    assert scaling.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []
    sandbox.advance(1)
    assert world.describe_service("web")["desiredCount"] == 5
    sandbox.advance(60)
    assert _running(world) == 5
    [activity] = scaling.describe_scaling_activities(
        ServiceNamespace="ecs", ResourceId="service/demo/web")["ScalingActivities"]
    assert activity["Description"] == "Setting desired count to 5."
    assert activity["Cause"] == "scheduled action name grow was triggered"
    assert activity["StatusCode"] == "Successful"
    assert activity["StatusMessage"] == ("Successfully set desired count to 5. Change "
                                         "successfully fulfilled by ecs.")
    assert abs(activity["StartTime"].timestamp() - (start + 60)) < 1
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (5, 5)


def test_scheduled_max_below_current_scales_in(sandbox, aws, world):
    """AAS user guide: if current capacity is greater than the specified maximum capacity,
    Application Auto Scaling scales in to the specified maximum capacity."""
    _register(aws, low=0, high=10)
    aws("application-autoscaling").put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="shrink", ResourceId="service/demo/web",
        ScalableDimension=DIM, Schedule=_at(sandbox, 30),
        ScalableTargetAction={"MaxCapacity": 1})
    sandbox.advance(30)
    assert world.describe_service("web")["desiredCount"] == 1
    sandbox.advance(60)
    assert _running(world) == 1


def test_unknown_service_is_rejected(aws, world):
    """RegisterScalableTarget of a service that does not exist fails with ValidationException
    "ECS service doesn't exist: <resource id>" (observed, spinnaker/spinnaker#4371)."""
    with pytest.raises(ClientError) as err:
        _register(aws, resource="service/demo/nope")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == \
        "ECS service doesn't exist: service/demo/nope"


def test_scheduled_action_needs_a_target_and_a_bound(sandbox, aws, world):
    """PutScalingPolicy/PutScheduledAction on an unregistered target: ObjectNotFoundException
    (observed, ansible/ansible#35632); no MinCapacity or MaxCapacity: ValidationException "At
    least one of minimum capacity and maximum capacity should be provided" (observed,
    aws-cloudformation/community-registry-extensions#255)."""
    scaling = aws("application-autoscaling")
    with pytest.raises(ClientError) as err:
        scaling.put_scheduled_action(
            ServiceNamespace="ecs", ScheduledActionName="x", ResourceId="service/demo/web",
            ScalableDimension=DIM, Schedule=_at(sandbox, 60),
            ScalableTargetAction={"MinCapacity": 3})
    assert err.value.response["Error"]["Code"] == "ObjectNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        "No scalable target registered for service namespace: ecs, resource ID: "
        "service/demo/web, scalable dimension: ecs:service:DesiredCount")
    _register(aws)
    with pytest.raises(ClientError) as err:
        scaling.put_scheduled_action(
            ServiceNamespace="ecs", ScheduledActionName="x", ResourceId="service/demo/web",
            ScalableDimension=DIM, Schedule=_at(sandbox, 60), ScalableTargetAction={})
    assert err.value.response["Error"]["Message"] == (
        "At least one of minimum capacity and maximum capacity should be provided")


def test_deleted_or_suspended_action_does_nothing(sandbox, aws, world):
    """AAS API DeleteScheduledAction removes the action; RegisterScalableTarget SuspendedState
    ScheduledScalingSuspended stops scheduled actions from running."""
    scaling = aws("application-autoscaling")
    _register(aws, high=8)
    for name in ("a", "b"):
        scaling.put_scheduled_action(
            ServiceNamespace="ecs", ScheduledActionName=name, ResourceId="service/demo/web",
            ScalableDimension=DIM, Schedule=_at(sandbox, 30 if name == "a" else 60),
            ScalableTargetAction={"MinCapacity": 4 if name == "a" else 6})
    names = [a["ScheduledActionName"] for a in scaling.describe_scheduled_actions(
        ServiceNamespace="ecs")["ScheduledActions"]]
    assert names == ["a", "b"]
    scaling.delete_scheduled_action(ServiceNamespace="ecs", ScheduledActionName="a",
                                    ResourceId="service/demo/web", ScalableDimension=DIM)
    scaling.register_scalable_target(ServiceNamespace="ecs", ResourceId="service/demo/web",
                                     ScalableDimension=DIM,
                                     SuspendedState={"ScheduledScalingSuspended": True})
    sandbox.advance(120)
    assert world.describe_service("web")["desiredCount"] == 2
    assert scaling.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []


def test_rate_schedule_repeats_and_deregister_stops_it(sandbox, aws, world):
    """AAS API PutScheduledAction: rate(value unit) schedules recur; DeregisterScalableTarget
    deletes the target (and a deregistered target is no longer scaled)."""
    scaling = aws("application-autoscaling")
    _register(aws, high=8)
    scaling.put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="floor", ResourceId="service/demo/web",
        ScalableDimension=DIM, Schedule="rate(5 minutes)",
        ScalableTargetAction={"MinCapacity": 3})
    sandbox.advance(300)
    assert world.describe_service("web")["desiredCount"] == 3
    aws("ecs").update_service(cluster="demo", service="web", desiredCount=2)
    sandbox.advance(300)
    assert world.describe_service("web")["desiredCount"] == 3
    assert len(scaling.describe_scaling_activities(
        ServiceNamespace="ecs")["ScalingActivities"]) == 2
    scaling.deregister_scalable_target(ServiceNamespace="ecs", ResourceId="service/demo/web",
                                       ScalableDimension=DIM)
    aws("ecs").update_service(cluster="demo", service="web", desiredCount=2)
    sandbox.advance(600)
    assert world.describe_service("web")["desiredCount"] == 2


def test_schedule_desired_count_helper(sandbox, aws, world):
    """The scenario helper pins MinCapacity = MaxCapacity = count at(now + at_seconds): AAS
    user guide, a scheduled action scales to its minimum/maximum at the specified time."""
    name = schedule_desired_count(aws, "demo", "web", 90, 4)
    sandbox.advance(89)
    assert world.describe_service("web")["desiredCount"] == 2
    sandbox.advance(1)
    assert world.describe_service("web")["desiredCount"] == 4
    [activity] = aws("application-autoscaling").describe_scaling_activities(
        ServiceNamespace="ecs")["ScalingActivities"]
    assert activity["Cause"] == f"scheduled action name {name} was triggered"
    schedule_desired_count(aws, "demo", "web", 10, 1)
    sandbox.advance(10)
    assert world.describe_service("web")["desiredCount"] == 1


def test_schedule_expressions():
    """AAS API PutScheduledAction Schedule: at(yyyy-mm-ddThh:mm:ss), rate(value unit) and
    cron(minutes hours day-of-month month day-of-week year), in the given Timezone."""
    base = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert next_run("at(2026-01-05T10:01:00)", None, base) == base + 60
    assert next_run("at(2026-01-05T11:01:00)", "Europe/Berlin", base) == base + 60
    assert next_run("at(2026-01-05T09:00:00)", None, base) is None
    assert next_run("rate(2 hours)", None, base) == base + 7200
    # 2026-01-05 is a Monday; "0 8 ? * MON-FRI *" in UTC next runs on Tuesday 08:00.
    assert next_run("cron(0 8 ? * MON-FRI *)", None, base) == base + 22 * 3600
    assert next_run("cron(*/15 * * * ? *)", None, base) == base + 900
    for bad in ("at(tomorrow)", "rate(0 minutes)", "rate(5 weeks)", "cron(0 8 * *)"):
        with pytest.raises(ValueError):
            next_run(bad, None, base)


def test_scalable_target_reports_its_role_and_every_suspended_flag(aws, world):
    """RoleARN is the ECS service-linked role and SuspendedState lists every flag (moto
    echoed the request: None for both when absent); re-registering changes only the named
    flag."""
    aas = aws("application-autoscaling")
    target = dict(ServiceNamespace="ecs", ResourceId="service/demo/web",
                  ScalableDimension="ecs:service:DesiredCount")
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)

    def described():
        return aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]

    assert described()["RoleARN"] == (
        "arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling."
        "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
    assert described()["SuspendedState"] == {"DynamicScalingInSuspended": False,
                                             "DynamicScalingOutSuspended": False,
                                             "ScheduledScalingSuspended": False}
    aas.register_scalable_target(**target, SuspendedState={"ScheduledScalingSuspended": True})
    assert described()["SuspendedState"] == {"DynamicScalingInSuspended": False,
                                             "DynamicScalingOutSuspended": False,
                                             "ScheduledScalingSuspended": True}
    assert (described()["MinCapacity"], described()["MaxCapacity"]) == (1, 4)
