"""The service scheduler end to end: spread, host loss, deployments, scale-in, protection,
draining. Instances join the way real ones do (UserData ECS_CLUSTER=...), time moves only
through ``sandbox.advance``."""

from __future__ import annotations

import pytest

from ecs_world import World


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def two_azs(world: World) -> tuple[str, str]:
    a = world.launch("us-east-1a")
    b = world.launch("us-east-1b")
    world.boot()
    return a, b


def test_two_tasks_spread_one_per_az(world):
    a, b = two_azs(world)
    world.service("web", 2)
    world.settle(60)
    assert world.by_az("web") == {"us-east-1a": 1, "us-east-1b": 1}
    assert world.by_instance("web") == {a: 1, b: 1}
    svc = world.describe_service("web")
    assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (2, 0, 2)
    assert svc["placementStrategy"] == []          # the implicit default is not stored
    dep = svc["deployments"]
    assert len(dep) == 1 and dep[0]["status"] == "PRIMARY"
    assert dep[0]["rolloutState"] == "COMPLETED"
    assert dep[0]["rolloutStateReason"] == f"ECS deployment {dep[0]['id']} completed."
    messages = world.messages("web")
    assert messages[0] == "(service web) has reached a steady state."
    assert messages[1] == f"(service web) (deployment {dep[0]['id']}) deployment completed."
    assert messages[2].startswith("(service web) has started 2 tasks: (task ")


def test_four_tasks_two_per_az(world):
    two_azs(world)
    world.service("web", 4)
    world.settle(60)
    assert world.by_az("web") == {"us-east-1a": 2, "us-east-1b": 2}
    tasks = world.tasks("web")
    assert {t["group"] for t in tasks} == {"service:web"}
    dep_id = world.describe_service("web")["deployments"][0]["id"]
    assert {t["startedBy"] for t in tasks} == {dep_id}


def test_task_lifecycle_timestamps_and_versions(world):
    two_azs(world)
    world.service("web", 1)
    world.sb.advance(1)
    (task,) = world.tasks("web")
    assert task["lastStatus"] == "PENDING" and task["desiredStatus"] == "RUNNING"
    world.sb.advance(10)
    (task,) = world.tasks("web")
    assert task["lastStatus"] == "RUNNING"
    assert task["createdAt"] <= task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
    assert task["version"] == 2
    stopped = world.ecs.stop_task(cluster="demo", task=task["taskArn"])["task"]
    assert stopped["desiredStatus"] == "STOPPED" and stopped["lastStatus"] == "RUNNING"
    world.sb.advance(30)
    (task,) = world.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]])["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "Task stopped by user"
    assert task["stopCode"] == "UserInitiated"
    assert task["startedAt"] <= task["stoppingAt"] <= task["stoppedAt"]
    assert task["containers"][0]["exitCode"] == 0
    # the scheduler replaced it
    assert len(world.tasks("web")) == 1
    # stopped tasks stay describable for an hour, then disappear
    world.sb.advance(3700)
    assert world.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]])["failures"][0][
        "reason"] == "MISSING"


def test_terminated_host_tasks_stop_and_are_replaced_on_survivor(world):
    a, b = two_azs(world)
    # DISABLED: ECS's own AZ rebalancing (on by default since 2025-09-05) would move a task
    world.service("web", 2, availabilityZoneRebalancing="DISABLED")
    world.settle(60)
    lost = [t["taskArn"] for t in world.tasks("web") if t["availabilityZone"] == "us-east-1b"]
    world.ec2.terminate_instances(InstanceIds=[b])
    world.sb.advance(1)
    stopped = world.ecs.describe_tasks(cluster="demo", tasks=lost)["tasks"]
    assert [(t["lastStatus"], t["stoppedReason"], t["stopCode"]) for t in stopped] == [
        ("STOPPED", f"Host EC2 (instance {b}) terminated.", "TerminationNotice")]
    ci = world.ecs.describe_container_instances(
        cluster="demo", containerInstances=[stopped[0]["containerInstanceArn"]])[
        "containerInstances"][0]
    assert ci["status"] == "INACTIVE" and ci["agentConnected"] is False
    assert [c["ec2InstanceId"] for c in world.instances()] == [a]
    world.settle(60)
    assert world.by_instance("web") == {a: 2}
    assert world.describe_service("web")["runningCount"] == 2

    # a new instance registers and stays empty: ECS does not move tasks
    c = world.launch("us-east-1b")
    world.boot()
    world.settle(300)
    assert world.by_instance("web") == {a: 2}
    assert world.instance(c)["runningTasksCount"] == 0


def skewed(world: World):
    """Two tasks piled on `a` (us-east-1a), an empty new instance `c` in us-east-1b (AZ
    rebalancing DISABLED, else ECS itself would move one)."""
    a, b = two_azs(world)
    world.service("web", 2, availabilityZoneRebalancing="DISABLED")
    world.settle(60)
    world.ec2.terminate_instances(InstanceIds=[b])
    world.settle(60)
    c = world.launch("us-east-1b")
    world.boot()
    world.settle(60)
    assert world.by_instance("web") == {a: 2}
    return a, c


def test_force_new_deployment_max_200_piles_new_tasks_onto_empty_instance(world):
    a, c = skewed(world)
    old = world.describe_service("web")["deployments"][0]["id"]
    svc = world.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)[
        "service"]
    new = svc["deployments"][0]["id"]
    assert new != old and [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]
    world.sb.advance(1)
    # AZ a holds 2 of the group, AZ b none: both new tasks go to c
    new_tasks = [t for t in world.tasks("web") if t["startedBy"] == new]
    assert len(new_tasks) == 2
    assert {t["availabilityZone"] for t in new_tasks} == {"us-east-1b"}
    world.settle(120)
    assert world.by_instance("web") == {c: 2}
    svc = world.describe_service("web")
    assert [d["id"] for d in svc["deployments"]] == [new]
    stopped = world.tasks("web", desired="STOPPED", startedBy=old)
    reasons = {t["stoppedReason"] for t in stopped if t["stopCode"] == "ServiceSchedulerInitiated"}
    assert reasons == {f"Scaling activity initiated by (deployment {new})"}


def test_min_50_max_100_deployment_ends_balanced(world):
    a, c = skewed(world)
    world.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True,
                             deploymentConfiguration={"minimumHealthyPercent": 50,
                                                      "maximumPercent": 100})
    for _ in range(20):
        world.sb.advance(10)
        live = world.tasks("web")
        assert len(live) <= 2                       # maximumPercent 100
        healthy_floor = [t for t in live if t["lastStatus"] == "RUNNING"]
        assert len(healthy_floor) >= 1              # minimumHealthyPercent 50
    assert world.by_instance("web") == {a: 1, c: 1}
    svc = world.describe_service("web")
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED"


def test_new_task_definition_starts_deployment_and_events(world):
    two_azs(world)
    world.service("web", 2)
    world.settle(60)
    td2 = world.task_definition(memory=256)
    svc = world.ecs.update_service(cluster="demo", service="web", taskDefinition=td2)["service"]
    assert svc["taskDefinition"].endswith(":2")
    new = svc["deployments"][0]
    assert new["rolloutState"] == "IN_PROGRESS"
    assert new["rolloutStateReason"] == f"ECS deployment {new['id']} in progress."
    world.settle(120)
    assert {t["taskDefinitionArn"].rsplit(":", 1)[-1] for t in world.tasks("web")} == {"2"}
    kinds = [(e["detail"]["eventName"], e["detail"]["deploymentId"])
             for e in world.events("ECS Deployment State Change")]
    assert ("SERVICE_DEPLOYMENT_IN_PROGRESS", new["id"]) in kinds
    assert ("SERVICE_DEPLOYMENT_COMPLETED", new["id"]) in kinds
    # desiredCount alone does not start a deployment
    svc = world.ecs.update_service(cluster="demo", service="web", desiredCount=3)["service"]
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["id"] == new["id"]


def test_both_limits_100_cannot_deploy(world):
    two_azs(world)
    world.service("web", 2, deploymentConfiguration={"minimumHealthyPercent": 100,
                                                     "maximumPercent": 100})
    world.settle(60)
    world.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    world.settle(60)
    assert len(world.describe_service("web")["deployments"]) == 2
    assert ("service (web) was unable to stop or start tasks during a deployment because of the "
            "service deployment configuration. Update the minimumHealthyPercent or "
            "maximumPercent value and try again.") in world.messages("web")


def test_scale_in_takes_from_the_fullest_az_and_instance(world):
    a = world.launch("us-east-1a")
    a2 = world.launch("us-east-1a")
    b = world.launch("us-east-1b")
    world.boot()
    world.service("web", 6)
    world.settle(60)
    assert world.by_az("web") == {"us-east-1a": 3, "us-east-1b": 3}
    # 3 in AZ a over two instances (2+1), 3 on b
    world.ecs.update_service(cluster="demo", service="web", desiredCount=4)
    world.settle(30)
    assert world.by_az("web") == {"us-east-1a": 2, "us-east-1b": 2}
    assert world.by_instance("web") == {a: 1, a2: 1, b: 2}
    stopped = world.tasks("web", desired="STOPPED")
    dep = world.describe_service("web")["deployments"][0]["id"]
    assert {(t["stoppedReason"], t["stopCode"]) for t in stopped} == {
        (f"Scaling activity initiated by (deployment {dep})", "ServiceSchedulerInitiated")}
    assert any(m.startswith("(service web) has stopped 2 running tasks: (task ")
               for m in world.messages("web"))


def test_scale_in_respects_task_protection(world):
    two_azs(world)
    world.service("web", 2)
    world.settle(60)
    tasks = world.tasks("web")
    resp = world.ecs.update_task_protection(cluster="demo", tasks=[t["taskArn"] for t in tasks],
                                            protectionEnabled=True, expiresInMinutes=10)
    assert {p["protectionEnabled"] for p in resp["protectedTasks"]} == {True}
    expiry = resp["protectedTasks"][0]["expirationDate"].timestamp()
    assert expiry == pytest.approx(world.sb.now() + 600, abs=1)
    world.ecs.update_service(cluster="demo", service="web", desiredCount=1)
    world.settle(60)
    assert len(world.tasks("web")) == 2            # protection blocks scale-in
    got = world.ecs.get_task_protection(cluster="demo", tasks=[tasks[0]["taskArn"]])
    assert got["protectedTasks"][0]["protectionEnabled"] is True
    world.settle(600)                               # protection expires on the emulated clock
    assert len(world.tasks("web")) == 1
    got = world.ecs.get_task_protection(cluster="demo", tasks=[t["taskArn"] for t in tasks])
    assert {p["protectionEnabled"] for p in got["protectedTasks"]} == {False}


def test_task_protection_only_for_service_tasks(world):
    two_azs(world)
    td = world.task_definition("batch", ports=())
    task = world.ecs.run_task(cluster="demo", taskDefinition=td)["tasks"][0]
    resp = world.ecs.update_task_protection(cluster="demo", tasks=[task["taskArn"]],
                                            protectionEnabled=True)
    assert resp["protectedTasks"] == []
    assert resp["failures"][0]["reason"] == "TASK_NOT_VALID"


@pytest.mark.parametrize("minutes", [0, 2881])
def test_task_protection_expiry_bounds(world, minutes):
    two_azs(world)
    world.service("web", 1)
    world.settle(10)
    (task,) = world.tasks("web")
    with pytest.raises(world.ecs.exceptions.InvalidParameterException):
        world.ecs.update_task_protection(cluster="demo", tasks=[task["taskArn"]],
                                         protectionEnabled=True, expiresInMinutes=minutes)


def test_draining_replaces_tasks_and_active_undoes(world):
    a, b = two_azs(world)
    c = world.launch("us-east-1a")
    world.boot()
    world.service("web", 3)
    world.settle(60)
    assert world.by_instance("web") == {a: 1, b: 1, c: 1}
    ci = world.instance(a)["containerInstanceArn"]
    resp = world.ecs.update_container_instances_state(cluster="demo", containerInstances=[ci],
                                                      status="DRAINING")
    assert resp["containerInstances"][0]["status"] == "DRAINING"
    world.sb.advance(1)
    # maximumPercent 200 lets the replacement start before the old task stops
    live = world.tasks("web")
    assert len(live) == 4
    world.settle(120)
    dist = world.by_instance("web")
    assert a not in dist and sum(dist.values()) == 3
    assert world.instance(a)["runningTasksCount"] == 0
    # no new task lands on a draining instance; ACTIVE makes it eligible again
    world.ecs.update_service(cluster="demo", service="web", desiredCount=5)
    world.settle(60)
    assert a not in world.by_instance("web")
    world.ecs.update_container_instances_state(cluster="demo", containerInstances=[ci],
                                               status="ACTIVE")
    # AZ a ends with 4 of 8; instance a, empty, takes the AZ's new tasks first
    world.ecs.update_service(cluster="demo", service="web", desiredCount=8)
    world.settle(60)
    dist = world.by_instance("web")
    assert dist[a] >= 1 and dist[a] + dist[c] == 4 and dist[b] == 4


def test_draining_stops_pending_tasks_at_once(world):
    a = world.launch("us-east-1a")
    world.boot()
    world.service("web", 1)
    world.sb.advance(1)
    (task,) = world.tasks("web")
    assert task["lastStatus"] == "PENDING"
    ci = world.instance(a)["containerInstanceArn"]
    world.ecs.update_container_instances_state(cluster="demo", containerInstances=[ci],
                                               status="DRAINING")
    world.sb.advance(1)
    (old,) = world.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]])["tasks"]
    assert old["lastStatus"] == "STOPPED"
    # nowhere to go: the placement failure names the reason
    assert any("was unable to place a task" in m for m in world.messages("web"))


def test_deregister_container_instance(world):
    a, b = two_azs(world)
    world.service("web", 2)
    world.settle(60)
    ci = world.instance(a)["containerInstanceArn"]
    with pytest.raises(world.ecs.exceptions.InvalidParameterException):
        world.ecs.deregister_container_instance(cluster="demo", containerInstance=ci)
    out = world.ecs.deregister_container_instance(cluster="demo", containerInstance=ci,
                                                  force=True)["containerInstance"]
    assert out["status"] == "INACTIVE"
    orphaned = [t for t in world.tasks("web", desired="STOPPED")
                if t["containerInstanceArn"] == ci]
    assert orphaned and orphaned[0]["stoppedReason"] == \
        "Container instance deregistration forced by user"
    world.settle(60)
    assert world.by_instance("web") == {b: 2}
    # the agent does not register the still-running instance again
    world.settle(120)
    assert [c["ec2InstanceId"] for c in world.instances()] == [b]


def test_stopped_host_disconnects_agent_and_reconnects(world):
    a, b = two_azs(world)
    world.service("web", 2)
    world.settle(60)
    world.ec2.stop_instances(InstanceIds=[a])
    world.sb.advance(1)
    ci = world.instance(a)
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is False
    reasons = {t["stoppedReason"] for t in world.tasks("web", desired="STOPPED")}
    assert reasons == {f"Host EC2 (instance {a}) stopped."}
    world.settle(60)
    assert world.by_instance("web") == {b: 2}
    world.ec2.start_instances(InstanceIds=[a])
    world.boot()
    assert world.instance(a)["agentConnected"] is True


def test_placement_failure_event(world):
    world.launch("us-east-1a", "t3.medium")
    world.boot()
    td = world.task_definition(cpu=1536, memory=512)
    world.service("big", 2, td=td)
    world.settle(30)
    assert len(world.tasks("big")) == 1
    ci = world.instances()[0]["containerInstanceArn"].rsplit("/", 1)[-1]
    expected = (f"(service big) was unable to place a task because no container instance met "
                f"all of its requirements. The closest matching (container-instance {ci}) has "
                f"insufficient CPU units available. For more information, see the "
                f"Troubleshooting section of the Amazon ECS Developer Guide.")
    assert world.messages("big").count(expected) == 1   # repeated failures are not repeated
    failures = [e for e in world.events("ECS Service Action")
                if e["detail"]["eventName"] == "SERVICE_TASK_PLACEMENT_FAILURE"]
    assert failures[0]["detail"]["reason"] == "RESOURCE:CPU"
    assert failures[0]["detail"]["eventType"] == "ERROR"


def test_no_instances_placement_message(world):
    world.service("web", 1)
    world.sb.advance(1)
    assert world.messages("web")[0] == (
        "(service web) was unable to place a task because no container instance met all of "
        "its requirements. Reason: No Container Instances were found in your cluster. For more "
        "information, see the Troubleshooting section of the Amazon ECS Developer Guide.")


def test_delete_service(world):
    two_azs(world)
    world.service("web", 2)
    world.settle(60)
    with pytest.raises(world.ecs.exceptions.InvalidParameterException):
        world.ecs.delete_service(cluster="demo", service="web")
    out = world.ecs.delete_service(cluster="demo", service="web", force=True)["service"]
    assert out["status"] == "DRAINING"
    world.settle(30)
    assert world.describe_service("web")["status"] == "INACTIVE"
    assert world.tasks(desired="RUNNING") == []
    assert world.ecs.list_services(cluster="demo")["serviceArns"] == []
    with pytest.raises(world.ecs.exceptions.ServiceNotActiveException):
        world.ecs.update_service(cluster="demo", service="web", desiredCount=1)
    # the name can be used again
    world.service("web", 1)


def test_daemon_service_one_task_per_instance(world):
    a, b = two_azs(world)
    td = world.task_definition("agent", cpu=64, memory=64, ports=())
    world.ecs.create_service(cluster="demo", serviceName="agent", taskDefinition=td,
                             schedulingStrategy="DAEMON")
    world.settle(60)
    assert world.by_instance("agent") == {a: 1, b: 1}
    c = world.launch("us-east-1a")
    world.boot()
    world.settle(10)
    assert world.by_instance("agent") == {a: 1, b: 1, c: 1}
    assert world.describe_service("agent")["desiredCount"] == 3


def test_task_protection_beyond_desired_count_is_deployment_blocked(world):
    """task-scale-in-protection.html: a DEPLOYMENT_BLOCKED failure "means the service has more
    protected tasks than the desired count of tasks for the service". Mid-deployment (maximum
    200%) four tasks of a 2-task service run; protecting all four protects the first two in
    the call's order and fails the other two, task by task; renewing a protected task adds
    none and is allowed."""
    two_azs(world)
    world.service("web", 2, deploymentConfiguration={"minimumHealthyPercent": 100,
                                                      "maximumPercent": 200})
    world.settle(60)
    world.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    arns = [t["taskArn"] for t in world.tasks("web")]
    assert len(arns) == 4, arns
    resp = world.ecs.update_task_protection(cluster="demo", tasks=arns, protectionEnabled=True)
    assert [p["taskArn"] for p in resp["protectedTasks"]] == arns[:2]
    assert resp["failures"] == [{"arn": a, "reason": "DEPLOYMENT_BLOCKED"} for a in arns[2:]]
    renew = world.ecs.update_task_protection(cluster="demo", tasks=arns[:1],
                                             protectionEnabled=True)
    assert renew["failures"] == [] and renew["protectedTasks"][0]["protectionEnabled"] is True
