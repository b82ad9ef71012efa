"""Container health checks in the sandbox: a task with a checked container turns HEALTHY, and
the test control ``EcsControlPlane.fail_health_checks`` makes its checks fail for a while (a
flapping container): UNHEALTHY, not counted healthy, replaced by the service scheduler with
stoppedReason "Task failed container health checks"; a protected task rides it out and turns
HEALTHY again. Time moves only through ``sandbox.advance``."""

from __future__ import annotations

import pytest

from ecs_world import World
from sandbox.ecs import lifecycle

CHECK = {"command": ["CMD-SHELL", "curl -f http://localhost/"], "interval": 10, "retries": 2}


@pytest.fixture
def world(sandbox, aws):
    w = World(sandbox, aws)
    w.launch("us-east-1a")
    w.launch("us-east-1b")
    w.boot()
    return w


def checked_service(world: World, name: str = "web", count: int = 2) -> None:
    td = world.ecs.register_task_definition(family=name, containerDefinitions=[{
        "name": name, "image": "nginx:1.27", "cpu": 256, "memory": 512, "essential": True,
        "healthCheck": CHECK}])["taskDefinition"]
    world.service(name, count, td=f"{name}:{td['revision']}")


def test_checked_tasks_turn_healthy_then_flap_and_are_replaced(world):
    checked_service(world)
    world.settle(60)
    tasks = world.tasks("web")
    assert {t["healthStatus"] for t in tasks} == {"HEALTHY"}
    victim, other = sorted(t["taskArn"] for t in tasks)

    world.sb.ecs.fail_health_checks(victim, 120)
    (doc,) = world.ecs.describe_tasks(cluster="demo", tasks=[victim])["tasks"]
    assert doc["healthStatus"] == "UNHEALTHY"
    assert doc["containers"][0]["healthStatus"] == "UNHEALTHY"
    assert not lifecycle.is_healthy(world.sb.ecs, world.sb.ecs.tasks[victim])
    assert lifecycle.is_healthy(world.sb.ecs, world.sb.ecs.tasks[other])

    world.settle(60)
    (doc,) = world.ecs.describe_tasks(cluster="demo", tasks=[victim])["tasks"]
    assert doc["desiredStatus"] == "STOPPED"
    assert doc["stoppedReason"] == "Task failed container health checks"
    live = world.tasks("web")
    assert len(live) == 2 and victim not in {t["taskArn"] for t in live}
    assert {t["healthStatus"] for t in live} == {"HEALTHY"}


def test_a_protected_task_rides_out_the_flap_and_turns_healthy_again(world):
    checked_service(world, count=1)
    world.settle(60)
    (task,) = world.tasks("web")
    arn = task["taskArn"]
    world.ecs.update_task_protection(cluster="demo", tasks=[arn], protectionEnabled=True,
                                     expiresInMinutes=10)
    world.sb.ecs.fail_health_checks(arn, 30)
    world.settle(20)
    (doc,) = world.ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"]
    assert (doc["lastStatus"], doc["healthStatus"]) == ("RUNNING", "UNHEALTHY")
    world.settle(60)                    # the checks pass again after 30 s
    (doc,) = world.ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"]
    assert (doc["lastStatus"], doc["healthStatus"]) == ("RUNNING", "HEALTHY")
    assert lifecycle.is_healthy(world.sb.ecs, world.sb.ecs.tasks[arn])


def test_only_tasks_with_a_container_health_check_can_fail_it(world):
    world.service("plain", 1)
    world.settle(60)
    (task,) = world.tasks("plain")
    with pytest.raises(ValueError, match="no container health check"):
        world.sb.ecs.fail_health_checks(task["taskArn"], 30)
