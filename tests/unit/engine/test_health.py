"""Health as ECS counts it for minimumHealthyPercent (``_engine/health.py``): RUNNING, HEALTHY when
a container has a health check (load balancer or not), healthy in every target group."""

from __future__ import annotations

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.health import (
    TaskHealth, count_healthy, target_states, task_healthy, task_targets, unhealthy_targets,
)

TG1 = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/2"


def states(*rows):
    out = {}
    for group, tid, port, state in rows:
        out.setdefault(group, {})[(tid, port)] = state
    return out


def test_plain_task_counts_once_running():
    assert task_healthy(TaskHealth("t", "RUNNING"), False)
    assert not task_healthy(TaskHealth("t", "PENDING"), False)
    assert not task_healthy(TaskHealth("t", "ACTIVATING"), False)


def test_container_health_check_without_load_balancer_needs_healthy():
    assert not task_healthy(TaskHealth("t", "RUNNING", "UNKNOWN"), True)
    assert not task_healthy(TaskHealth("t", "RUNNING", "UNHEALTHY"), True)
    assert task_healthy(TaskHealth("t", "RUNNING", "HEALTHY"), True)


def test_load_balanced_task_must_be_healthy_in_every_group():
    task = TaskHealth("t", "RUNNING", "HEALTHY",
                      ((TG1, "i-1", 32768), (TG2, "i-1", 32769)))
    both = states((TG1, "i-1", 32768, "healthy"), (TG2, "i-1", 32769, "healthy"))
    one = states((TG1, "i-1", 32768, "healthy"), (TG2, "i-1", 32769, "initial"))
    assert task_healthy(task, True, (TG1, TG2), both)
    assert not task_healthy(task, True, (TG1, TG2), one)
    assert not task_healthy(task, False, (TG1, TG2), None)        # health unknown
    unregistered = TaskHealth("t", "RUNNING", "HEALTHY", ((TG1, "i-1", 32768),))
    assert not task_healthy(unregistered, False, (TG1, TG2), both)
    # A healthy target but a container health check not yet passing: not healthy.
    assert not task_healthy(TaskHealth("t", "RUNNING", "UNKNOWN", task.targets), True,
                            (TG1, TG2), both)


def test_count_healthy_counts_only_healthy_tasks():
    tasks = [TaskHealth("a", "RUNNING", "HEALTHY", ((TG1, "i-1", 1),)),
             TaskHealth("b", "RUNNING", "HEALTHY", ((TG1, "i-2", 1),)),
             TaskHealth("c", "PENDING", "UNKNOWN", ())]
    st = states((TG1, "i-1", 1, "healthy"), (TG1, "i-2", 1, "unhealthy"))
    assert count_healthy(tasks, True, (TG1,), st) == 1
    assert count_healthy(tasks, False) == 2


def test_targets_from_bridge_and_awsvpc_documents():
    lbs = [{"targetGroupArn": TG1, "containerName": "web", "containerPort": 80}]
    bridge = {"containers": [{"name": "web", "networkBindings": [
        {"containerPort": 80, "hostPort": 32768}]}]}
    assert task_targets(bridge, lbs, "i-abc") == ((TG1, "i-abc", 32768),)
    awsvpc = {"attachments": [{"type": "ElasticNetworkInterface", "details": [
        {"name": "privateIPv4Address", "value": "10.0.1.5"}]}], "containers": [{"name": "web"}]}
    assert task_targets(awsvpc, lbs, "i-abc") == ((TG1, "10.0.1.5", 80),)
    assert task_targets({"containers": [{"name": "web"}]}, lbs, "i-abc") == ()


def test_target_states_and_unhealthy_targets():
    resp = {TG1: {"TargetHealthDescriptions": [
        {"Target": {"Id": "i-1", "Port": 1}, "TargetHealth": {"State": "healthy"}},
        {"Target": {"Id": "i-2", "Port": 1}, "TargetHealth": {"State": "unhealthy"}},
        {"Target": {"Id": "i-3", "Port": 1}, "TargetHealth": {"State": "draining"}}]}}
    st = target_states(resp)
    assert st == {TG1: {("i-1", 1): "healthy", ("i-2", 1): "unhealthy",
                        ("i-3", 1): "draining"}}
    assert unhealthy_targets((TG1,), st) == ["web: i-2:1 unhealthy"]
