"""Issue 18, native deployment strategies: the engine's gates on the sandbox's manual clock.
A service acts only with exactly one current service revision, no service deployment in
progress (bake time included) or rolling back, and no lifecycle hook awaiting action; strategy
``redeploy`` refuses BLUE_GREEN, LINEAR and CANARY services. Each test failed on the engine
before these gates (it reported ``deployment_in_progress`` for the first two and started a
canary deployment for the third)."""

from __future__ import annotations

from engine_harness import (SERVICE, engine_client, live_task_arns, refusals, run_engine,
                            service_doc, skewed_cluster, spread)
from sandbox.scenario import Seed

SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200)
CLUSTER = "demo"


def _deploy(ecs, **config) -> None:
    ecs.update_service(cluster=CLUSTER, service=SERVICE, deploymentConfiguration=config)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)


def _current(ecs) -> dict:
    arn = service_doc(ecs)["currentServiceDeployment"]
    return ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def _skip(result, service: str = SERVICE) -> dict:
    return next(s for s in result.to_dict()["skipped"] if s["service"] == service)


def _calls(sandbox) -> dict:
    """A client counting its own requests per operation."""
    from collections import Counter
    client = engine_client(sandbox)
    seen: Counter = Counter()
    client.meta.events.register("before-send.ecs.*",
                                lambda request, **_: seen.update(
                                    [request.headers["X-Amz-Target"].decode().split(".")[-1]]))
    return client, seen


def test_blue_green_service_mid_bake_is_untouched(sandbox):
    aws, _ = skewed_cluster(sandbox, Seed(**SEED))
    ecs = aws("ecs")
    _deploy(ecs, strategy="BLUE_GREEN", bakeTimeInMinutes=60,
            minimumHealthyPercent=100, maximumPercent=200)
    sandbox.advance(180)
    dep = _current(ecs)
    assert (dep["status"], dep["lifecycleStage"]) == ("IN_PROGRESS", "BAKE_TIME")
    before = sorted(live_task_arns(ecs))
    assert len(before) == 8                                   # blue 4 and green 4

    client, seen = _calls(sandbox)
    result = run_engine(sandbox, ecs=client, wait=False, max_moves=4)
    skip = _skip(result)
    assert skip["code"] == "service_deployment_active", skip
    assert "BLUE_GREEN service deployment IN_PROGRESS at BAKE_TIME" in skip["message"]
    assert result.to_dict()["moves_made"] == 0 and not result.to_dict()["changed"]
    assert sorted(live_task_arns(ecs)) == before
    # one DescribeServiceDeployments per read of the cluster, never a ListServiceDeployments
    assert seen["DescribeServiceDeployments"] >= 1 and seen["ListServiceDeployments"] == 0
    assert seen["DescribeServiceDeployments"] <= seen["DescribeServices"]

    sandbox.advance(60 * 60)                                  # the bake ends, blue goes
    assert _current(ecs)["status"] == "SUCCESSFUL"
    assert sorted(spread(aws)) == [0, 4]                      # ECS spread green against blue
    after = run_engine(sandbox, max_moves=4)
    assert after.to_dict()["balanced"] is True and spread(aws) == [2, 2]


def test_pause_hook_holds_the_engine_until_continued(sandbox):
    aws, _ = skewed_cluster(sandbox, Seed(**SEED))
    ecs = aws("ecs")
    _deploy(ecs, strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[
        {"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"],
         "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}}])
    sandbox.advance(60)
    dep = _current(ecs)
    [hook] = dep["lifecycleHookDetails"]
    assert (dep["lifecycleStage"], hook["status"]) == ("PRE_SCALE_UP", "AWAITING_ACTION")
    assert spread(aws) == [4, 0]                              # blue alone, skewed
    before = sorted(live_task_arns(ecs))

    held = run_engine(sandbox, wait=False, max_moves=4)
    skip = _skip(held)
    assert skip["code"] == "lifecycle_hook_awaiting_action", skip
    assert hook["hookId"] in skip["message"] and "PRE_SCALE_UP" in skip["message"]
    assert held.to_dict()["moves_made"] == 0
    assert sorted(live_task_arns(ecs)) == before

    ecs.continue_service_deployment(serviceDeploymentArn=dep["serviceDeploymentArn"],
                                    hookId=hook["hookId"], action="CONTINUE")
    sandbox.advance(180)
    assert _current(ecs)["status"] == "SUCCESSFUL"
    result = run_engine(sandbox, max_moves=4)
    out = result.to_dict()
    assert out["balanced"] is True and out["moves_made"] >= 1
    assert spread(aws) == [2, 2]


def test_redeploy_is_refused_on_a_canary_service(sandbox):
    aws, _ = skewed_cluster(sandbox, Seed(**SEED))
    ecs = aws("ecs")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, deploymentConfiguration={
        "strategy": "CANARY", "bakeTimeInMinutes": 10,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}})
    sandbox.advance(30)
    deployments = len(ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)[
        "serviceDeployments"])
    before = sorted(live_task_arns(ecs))

    result = run_engine(sandbox, strategy="redeploy", wait=False, max_moves=4)
    assert refusals(result) == {SERVICE: "redeploy_native_strategy"}
    refusal = result.to_dict()["decision"]["refused"][0]
    assert "CANARY" in refusal["message"]
    assert len(ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)[
        "serviceDeployments"]) == deployments                # no deployment started
    assert sorted(live_task_arns(ecs)) == before and spread(aws) == [4, 0]
