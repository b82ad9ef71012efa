"""Load-balanced services (bridge mode, targets keyed by instance and dynamic port) and the
EventBridge envelopes ECS emits."""

from __future__ import annotations

import pytest

from sandbox.aws import elbv2

from ecs_world import World


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def target_group(world: World, delay: int = 60) -> str:
    client = world_client(world, "elbv2")
    tg = client.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=world.vpc,
                                    TargetType="instance", HealthCheckIntervalSeconds=10)[
        "TargetGroups"][0]["TargetGroupArn"]
    client.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    # A group no listener forwards to reports every target unused (Target.NotInUse).
    lb = client.create_load_balancer(Name="web", Subnets=list(world.subnets.values()))[
        "LoadBalancers"][0]["LoadBalancerArn"]
    client.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    return tg


def world_client(world: World, service: str):
    import boto3

    return boto3.client(service, endpoint_url=world.sb.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def lb_service(world: World, tg: str, count: int = 2, **kw) -> dict:
    return world.service("web", count, loadBalancers=[
        {"targetGroupArn": tg, "containerName": "web", "containerPort": 80}], **kw)


def targets(world: World, tg: str) -> dict:
    out = world_client(world, "elbv2").describe_target_health(TargetGroupArn=tg)
    return {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]["State"]
            for d in out["TargetHealthDescriptions"]}


def test_tasks_register_instance_and_dynamic_port(world):
    a = world.launch("us-east-1a")
    world.boot()
    tg = target_group(world)
    lb_service(world, tg, 2)
    world.sb.advance(6)
    tasks = world.tasks("web")
    ports = sorted(t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks)
    assert ports == [32768, 32769]
    assert targets(world, tg) == {(a, 32768): "initial", (a, 32769): "initial"}
    assert world.messages("web")[0] == f"(service web) registered 2 targets in (target-group {tg})"
    svc = world.describe_service("web")
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"   # targets not healthy yet
    world.sb.advance(15)
    assert set(targets(world, tg).values()) == {"healthy"}
    svc = world.describe_service("web")
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["roleArn"].endswith("AWSServiceRoleForECS")


def test_stop_drains_for_the_deregistration_delay(world):
    world.launch("us-east-1a")
    world.boot()
    tg = target_group(world, delay=60)
    lb_service(world, tg, 2)
    world.settle(30)
    world.ecs.update_service(cluster="demo", service="web", desiredCount=1)
    world.sb.advance(1)
    (stopping,) = world.tasks("web", desired="STOPPED")
    assert stopping["lastStatus"] == "DEACTIVATING"
    assert "draining" in targets(world, tg).values()
    messages = world.messages("web")
    assert messages[0] == "(service web) has begun draining connections on 1 tasks."
    assert messages[1] == f"(service web) deregistered 1 targets in (target-group {tg})"
    world.sb.advance(50)
    (stopping,) = world.tasks("web", desired="STOPPED")
    assert stopping["lastStatus"] == "DEACTIVATING"
    world.sb.advance(10)
    (stopping,) = world.tasks("web", desired="STOPPED")
    assert stopping["lastStatus"] == "STOPPING"
    assert world.messages("web")[0] == (
        f"(service web) has stopped 1 running tasks: (task {stopping['taskArn'].split('/')[-1]}).")
    world.sb.advance(2)
    (stopped,) = world.tasks("web", desired="STOPPED")
    assert stopped["lastStatus"] == "STOPPED"
    assert world.messages("web")[0] == "(service web) has reached a steady state."


def test_unhealthy_target_is_replaced(world):
    a = world.launch("us-east-1a")
    world.boot()
    tg = target_group(world, delay=0)
    lb_service(world, tg, 1)
    world.settle(30)
    (task,) = world.tasks("web")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    elbv2.set_unhealthy(world.sb, tg, a, port, immediately=True)
    world.sb.advance(1)
    messages = world.messages("web")
    assert any(m.startswith(f"(service web) (task {task['taskArn'].split('/')[-1]}) (instance {a}) "
                            f"(port {port}) is unhealthy in (target-group {tg})")
               for m in messages)
    world.settle(30)
    (old,) = world.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]])["tasks"]
    assert old["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    (new,) = world.tasks("web")
    assert new["taskArn"] != task["taskArn"] and new["lastStatus"] == "RUNNING"


def test_load_balancer_change_starts_deployment(world):
    a = world.launch("us-east-1a")
    world.boot()
    world.service("web", 1)
    world.settle(60)
    tg = target_group(world)
    svc = world.ecs.update_service(cluster="demo", service="web", loadBalancers=[
        {"targetGroupArn": tg, "containerName": "web", "containerPort": 80}])["service"]
    assert len(svc["deployments"]) == 2
    world.settle(120)
    (task,) = world.tasks("web")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    assert targets(world, tg) == {(a, port): "healthy"}


def test_task_state_change_envelopes(world):
    world.launch("us-east-1a")
    world.boot()
    world.service("web", 1)
    world.settle(60)
    (task,) = world.tasks("web")
    world.ecs.stop_task(cluster="demo", task=task["taskArn"])
    world.settle(10)
    mine = [e for e in world.events("ECS Task State Change")
            if e["resources"] == [task["taskArn"]]]
    seen = [(e["detail"]["lastStatus"], e["detail"]["desiredStatus"], e["detail"]["version"])
            for e in mine]
    assert seen == [("PENDING", "RUNNING", 1), ("RUNNING", "RUNNING", 2),
                    ("RUNNING", "STOPPED", 3), ("STOPPING", "STOPPED", 4),
                    ("STOPPED", "STOPPED", 5)]
    last = mine[-1]
    assert set(last) == {"version", "id", "detail-type", "source", "account", "time",
                         "region", "resources", "detail"}
    d = last["detail"]
    assert d["group"] == "service:web" and d["launchType"] == "EC2"
    assert d["stopCode"] == "UserInitiated" and d["stoppedReason"] == "Task stopped by user"
    assert d["stoppedAt"].endswith("Z") and "." in d["stoppedAt"]
    assert d["containers"][0]["exitCode"] == 0
    assert d["startedBy"].startswith("ecs-svc/")
    assert len({e["id"] for e in mine}) == len(mine)


def test_service_action_and_deployment_events(world):
    world.launch("us-east-1a")
    world.boot()
    world.service("web", 1)
    world.settle(60)
    steady = [e for e in world.events("ECS Service Action")
              if e["detail"]["eventName"] == "SERVICE_STEADY_STATE"]
    assert len(steady) == 1
    assert steady[0]["resources"] == ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"]
    assert steady[0]["detail"]["eventType"] == "INFO"
    deployments = world.events("ECS Deployment State Change")
    assert [e["detail"]["eventName"] for e in deployments] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]
    dep = deployments[-1]["detail"]
    assert dep["reason"] == f"ECS deployment {dep['deploymentId']} completed."
