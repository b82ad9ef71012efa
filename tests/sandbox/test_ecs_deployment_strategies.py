"""Native deployment strategies in the sandbox (docs/ecs-facts.md §1.8, §1.11): BLUE_GREEN,
LINEAR and CANARY walk the lifecycle stages with two revisions running, bake on the sandbox
clock, PAUSE hooks hold them until ContinueServiceDeployment, rollbacks restore the blue
revision. Manual clock: time moves only through ``sandbox.advance``."""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from ecs_world import World

BAKE_MINUTES = 30


@pytest.fixture
def world(sandbox, aws):
    w = World(sandbox, aws)
    for az in ("us-east-1a", "us-east-1b"):
        w.launch(az)
        w.launch(az)
    w.boot()
    return w


def _service(world, strategy: str = "BLUE_GREEN", hooks=None, count: int = 4, **cfg) -> str:
    config = {"strategy": strategy, "bakeTimeInMinutes": BAKE_MINUTES, **cfg}
    if hooks:
        config["lifecycleHooks"] = hooks
    world.service("web", count, world.task_definition(ports=()), deploymentConfiguration=config)
    world.settle(120)
    return world.describe_service("web")["taskDefinition"]


def _redeploy(world) -> dict:
    world.ecs.update_service(cluster=world.cluster, service="web", forceNewDeployment=True)
    return _current(world)


def _current(world) -> dict:
    arn = world.describe_service("web")["currentServiceDeployment"]
    return world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
        "serviceDeployments"][0]


def _revisions_running(world) -> list[int]:
    return [r["runningTaskCount"] for r in world.describe_service("web")["currentServiceRevisions"]]


def test_blue_green_runs_both_revisions_through_the_bake_then_cleans_up(world):
    _service(world)
    assert _revisions_running(world) == [4]
    first = _redeploy(world)
    assert first["lifecycleStage"] in ("SCALE_UP", "RECONCILE_SERVICE", "PRE_SCALE_UP")
    world.settle(120)
    dep = _current(world)
    assert (dep["status"], dep["lifecycleStage"]) == ("IN_PROGRESS", "BAKE_TIME")
    assert _revisions_running(world) == [4, 4]          # green and blue, full size each
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    svc = world.describe_service("web")
    assert len(svc["deployments"]) == 2 and svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    world.settle(BAKE_MINUTES * 60 - 300)                # still baking
    assert _current(world)["lifecycleStage"] == "BAKE_TIME"
    assert _revisions_running(world) == [4, 4]
    world.settle(400)                                    # bake over: CLEAN_UP stops blue
    dep = _current(world)
    assert (dep["status"], dep["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    assert _revisions_running(world) == [4]
    assert len(world.tasks("web")) == 4
    names = [e["detail"]["eventName"] for e in world.events("ECS Deployment State Change")]
    assert names[-1] == "SERVICE_DEPLOYMENT_COMPLETED"


def test_a_green_task_stopped_during_the_bake_is_replaced(world):
    _service(world)
    _redeploy(world)
    world.settle(120)
    dep = _current(world)
    green = dep["targetServiceRevision"]["arn"]
    assert dep["lifecycleStage"] == "BAKE_TIME"
    mine = [t for t in world.tasks("web") if t["startedBy"] == world.describe_service("web")[
        "deployments"][0]["id"]]
    world.ecs.stop_task(cluster=world.cluster, task=mine[0]["taskArn"])
    world.settle(60)
    assert _current(world)["targetServiceRevision"]["arn"] == green
    assert _revisions_running(world) == [4, 4]


def test_pause_hook_holds_the_deployment_until_continued(world, sandbox):
    hook = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
            "timeoutConfiguration": {"timeoutInMinutes": 600, "action": "ROLLBACK"}}
    _service(world, hooks=[hook], bakeTimeInMinutes=0)
    _redeploy(world)
    world.settle(120)
    dep = _current(world)
    assert (dep["status"], dep["lifecycleStage"]) == ("IN_PROGRESS", "POST_SCALE_UP")
    [detail] = dep["lifecycleHookDetails"]
    assert detail["status"] == "AWAITING_ACTION" and detail["targetType"] == "PAUSE"
    assert detail["timeoutAction"] == "ROLLBACK" and detail["hookId"].startswith("ecs-pause-")
    [event] = world.events("ECS Hook State Change")
    assert event["detail"]["eventName"] == "HOOK_AWAITING_ACTION"
    assert event["detail"]["hookId"] == detail["hookId"]
    assert event["detail"]["serviceDeploymentArn"] == dep["serviceDeploymentArn"]
    world.settle(3600)                                   # an hour later: still held
    assert _current(world)["lifecycleStage"] == "POST_SCALE_UP"
    assert _revisions_running(world) == [4, 4]
    with pytest.raises(ClientError) as e:
        world.ecs.continue_service_deployment(serviceDeploymentArn=dep["serviceDeploymentArn"],
                                              hookId="ecs-pause-nope", action="CONTINUE")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    world.ecs.continue_service_deployment(serviceDeploymentArn=dep["serviceDeploymentArn"],
                                          hookId=detail["hookId"], action="CONTINUE")
    world.settle(60)
    dep = _current(world)
    assert dep["status"] == "SUCCESSFUL"
    assert dep["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    assert _revisions_running(world) == [4]


def test_pause_hook_rollback_and_timeout_restore_blue(world):
    hook = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 10}}      # action: ROLLBACK by default
    blue_td = _service(world, hooks=[hook])
    _redeploy(world)
    world.settle(120)
    dep = _current(world)
    assert dep["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    world.settle(11 * 60)                                # the hook times out: rollback
    dep = _current(world)
    assert dep["status"] == "ROLLBACK_SUCCESSFUL"
    assert dep["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert dep["rollback"]["serviceRevisionArn"] != dep["targetServiceRevision"]["arn"]
    svc = world.describe_service("web")
    assert svc["taskDefinition"] == blue_td and len(svc["deployments"]) == 1
    assert _revisions_running(world) == [4]
    statuses = [d["status"] for d in world.ecs.list_service_deployments(
        cluster=world.cluster, service="web")["serviceDeployments"]]
    assert statuses[0] == "ROLLBACK_SUCCESSFUL"


def test_stop_service_deployment_rolls_back(world):
    _service(world)
    _redeploy(world)
    world.settle(120)
    arn = _current(world)["serviceDeploymentArn"]
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    world.settle(60)
    assert _current(world)["status"] == "ROLLBACK_SUCCESSFUL"
    assert _revisions_running(world) == [4]
    with pytest.raises(ClientError):
        world.ecs.stop_service_deployment(serviceDeploymentArn=arn)   # no longer IN_PROGRESS


def test_canary_and_linear_shift_in_baked_steps(world):
    _service(world, strategy="CANARY", bakeTimeInMinutes=0,
             canaryConfiguration={"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 15})
    _redeploy(world)
    world.settle(120)
    dep = _current(world)
    assert dep["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 20.0
    assert dep["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 80.0
    world.settle(15 * 60)
    assert _current(world)["status"] == "SUCCESSFUL"

    world.ecs.update_service(cluster=world.cluster, service="web", deploymentConfiguration={
        "strategy": "LINEAR", "bakeTimeInMinutes": 0,
        "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 5}})
    world.settle(60)
    _redeploy(world)
    world.settle(120)
    weights = [_current(world)["targetServiceRevision"]["requestedProductionTrafficWeight"]]
    world.settle(5 * 60)
    assert weights == [50.0] and _current(world)["status"] == "SUCCESSFUL"


@pytest.mark.parametrize("config, message", [
    ({"strategy": "PURPLE"}, "Invalid deployment strategy"),
    ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "bakeTimeInMinutes"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "AWS_LAMBDA", "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:"
         "function:f", "roleArn": "arn:aws:iam::123456789012:role/r",
         "lifecycleStages": ["POST_SCALE_UP"]}]}, "AWS_LAMBDA"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}]},
     "PAUSE hooks cannot"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
         "timeoutConfiguration": {"timeoutInMinutes": 20161}}]}, "timeoutInMinutes"),
])
def test_bad_strategy_configurations_are_refused(world, config, message):
    with pytest.raises(ClientError) as e:
        world.service("web", 2, world.task_definition(ports=()), deploymentConfiguration=config)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in e.value.response["Error"]["Message"]


def test_rolling_services_report_their_current_revisions(world):
    world.service("web", 2, world.task_definition(ports=()))
    world.settle(120)
    svc = world.describe_service("web")
    assert [r["runningTaskCount"] for r in svc["currentServiceRevisions"]] == [2]
    assert svc["currentServiceDeployment"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/")
    assert "lifecycleStage" not in _current(world)
    assert Counter(t["lastStatus"] for t in world.tasks("web")) == {"RUNNING": 2}
