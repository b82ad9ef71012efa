"""Stable pagination of the sandbox's ECS List* operations (issue 13 item 2), and the cluster
statistics DescribeClusters returns with include=STATISTICS (issue 11 item 6).

The API reference of every List* call: nextToken is "an opaque identifier that is only used to
retrieve the next items in a list", and "If maxResults was provided, it's possible the number
of results to be fewer than maxResults". A token bound to the last item returned (in a stable
order) keeps a list that changes between calls from skipping or repeating what stayed in it.
Time moves only through ``sandbox.advance``.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ecs_world import World


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def small_tasks(world: World, n: int) -> list[str]:
    """``n`` standalone tasks (RunTask, at most 10 a call) on the cluster's instances."""
    td = world.task_definition("small", cpu=16, memory=32, ports=())
    arns: list[str] = []
    while len(arns) < n:
        out = world.ecs.run_task(cluster="demo", taskDefinition=td,
                                 count=min(10, n - len(arns)))
        assert not out["failures"]
        arns += [t["taskArn"] for t in out["tasks"]]
    return arns


def test_list_tasks_sees_every_task_running_throughout_exactly_once(world):
    """API ListTasks (nextToken "to retrieve the next items in a list"): stopping listed tasks
    and starting new ones between pages neither skips nor repeats a task that ran throughout
    (with offset tokens, each stop shifted a still-running task past the next page)."""
    world.launch("us-east-1a")
    world.launch("us-east-1b")
    world.boot()
    initial = small_tasks(world, 20)
    world.sb.advance(10)
    td = world.task_definition("small", cpu=16, memory=32, ports=())
    seen: list[str] = []
    stopped: set[str] = set()
    token = None
    pages = 0
    while True:
        kw = {"nextToken": token} if token else {}
        page = world.ecs.list_tasks(cluster="demo", maxResults=3, **kw)
        seen += page["taskArns"]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
        # between pages: stop a task already listed, one not listed yet, and start a new one
        listed = [a for a in seen if a not in stopped]
        unlisted = [a for a in initial if a not in seen and a not in stopped]
        for arn in (listed[0], unlisted[-1] if unlisted else None):
            if arn:
                world.ecs.stop_task(cluster="demo", task=arn)
                stopped.add(arn)
        world.ecs.run_task(cluster="demo", taskDefinition=td, count=1)
        assert pages < 50
    throughout = [a for a in initial if a not in stopped]
    assert len(seen) == len(set(seen))                       # nothing twice
    assert set(throughout) <= set(seen)                      # nothing running throughout missed
    assert len(throughout) >= 8                              # the test did stop tasks


def test_other_lists_resume_after_the_last_item(world):
    """API ListClusters / ListServices / ListContainerInstances / ListTaskDefinitions: the same
    nextToken contract; removing an already-listed item between pages skips nothing."""
    for i in range(5):
        world.ecs.create_cluster(clusterName=f"c{i}")
    first = world.ecs.list_clusters(maxResults=2)
    world.ecs.delete_cluster(cluster=first["clusterArns"][0])
    rest = _drain(lambda **kw: world.ecs.list_clusters(maxResults=2, **kw), "clusterArns",
                  first["nextToken"])
    names = [a.rsplit("/", 1)[-1] for a in first["clusterArns"] + rest]
    assert sorted(names) == ["c0", "c1", "c2", "c3", "c4", "demo"]
    assert len(names) == len(set(names))

    td = world.task_definition()
    for i in range(5):
        world.service(f"s{i}", 0, td=td)
    first = world.ecs.list_services(cluster="demo", maxResults=2)
    world.ecs.delete_service(cluster="demo", service=first["serviceArns"][0])
    world.sb.advance(1)
    rest = _drain(lambda **kw: world.ecs.list_services(cluster="demo", maxResults=2, **kw),
                  "serviceArns", first["nextToken"])
    assert sorted(a.rsplit("/", 1)[-1] for a in first["serviceArns"] + rest) == \
        ["s0", "s1", "s2", "s3", "s4"]

    for az in ("us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b"):
        world.launch(az)
    world.boot()
    first = world.ecs.list_container_instances(cluster="demo", maxResults=2)
    world.ecs.deregister_container_instance(cluster="demo",
                                            containerInstance=first["containerInstanceArns"][0])
    rest = _drain(lambda **kw: world.ecs.list_container_instances(cluster="demo",
                                                                  maxResults=2, **kw),
                  "containerInstanceArns", first["nextToken"])
    assert len(set(first["containerInstanceArns"] + rest)) == 4


def test_list_task_definitions_keeps_its_order_across_pages(world):
    """API ListTaskDefinitions: results are sorted by family and revision, ASC or DESC (sort);
    a revision deregistered between pages shifts nothing."""
    arns = [world.ecs.register_task_definition(
        family=fam, containerDefinitions=[{"name": "c", "image": "nginx", "memory": 64}])[
        "taskDefinition"]["taskDefinitionArn"] for fam in ("b", "a", "b", "a", "c")]
    asc = sorted(arns, key=lambda a: (a.rsplit("/", 1)[-1].split(":")[0],
                                      int(a.rsplit(":", 1)[-1])))
    for sort, expected in (("ASC", asc), ("DESC", list(reversed(asc)))):
        first = world.ecs.list_task_definitions(sort=sort, maxResults=2)
        assert first["taskDefinitionArns"] == expected[:2]
        rest = _drain(lambda **kw: world.ecs.list_task_definitions(sort=sort, maxResults=2,
                                                                   **kw),
                      "taskDefinitionArns", first["nextToken"])
        assert first["taskDefinitionArns"] + rest == expected
    first = world.ecs.list_task_definitions(maxResults=2)
    world.ecs.deregister_task_definition(taskDefinition=first["taskDefinitionArns"][0])
    rest = _drain(lambda **kw: world.ecs.list_task_definitions(maxResults=2, **kw),
                  "taskDefinitionArns", first["nextToken"])
    assert rest == asc[2:]


def test_invalid_next_token_is_rejected(world):
    """API common errors: a malformed nextToken is an InvalidParameterException."""
    for token in ("garbage", "eyJvZmZzZXQiOiAyfQ=="):   # the second: an old offset token
        with pytest.raises(ClientError) as err:
            world.ecs.list_tasks(cluster="demo", nextToken=token)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert err.value.response["Error"]["Message"] == "Invalid nextToken."


STATISTICS = ["runningEC2TasksCount", "runningFargateTasksCount", "pendingEC2TasksCount",
              "pendingFargateTasksCount", "runningExternalTasksCount",
              "pendingExternalTasksCount", "activeEC2ServiceCount", "activeFargateServiceCount",
              "drainingEC2ServiceCount", "drainingFargateServiceCount",
              "activeExternalServiceCount", "drainingExternalServiceCount"]


def test_describe_clusters_statistics(world):
    """API Cluster.statistics ("Additional information about your clusters that are separated
    by launch type": runningEC2TasksCount, RunningFargateTasksCount, pendingEC2TasksCount,
    pendingFargateTasksCount, activeEC2ServiceCount, activeFargateServiceCount,
    drainingEC2ServiceCount, drainingFargateServiceCount); real responses also carry the
    EXTERNAL counts, in this order."""
    world.launch("us-east-1a")
    world.launch("us-east-1b")
    world.boot()
    td = world.task_definition()
    world.service("web", 2, td=td)
    world.service("old", 1, td=td)
    world.sb.advance(60)
    world.ecs.run_task(cluster="demo", taskDefinition=world.task_definition(
        "small", cpu=16, memory=32, ports=()))                  # PENDING for a few seconds
    world.ecs.delete_service(cluster="demo", service="old", force=True)   # DRAINING
    (cluster,) = world.ecs.describe_clusters(clusters=["demo"], include=["STATISTICS"])[
        "clusters"]
    stats = {s["name"]: s["value"] for s in cluster["statistics"]}
    assert [s["name"] for s in cluster["statistics"]] == STATISTICS
    tasks = world.tasks() + world.tasks(desired="STOPPED")
    running = sum(t["lastStatus"] == "RUNNING" for t in tasks)
    assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (running, 1)
    assert stats == {**{name: "0" for name in STATISTICS},
                     "runningEC2TasksCount": str(running), "pendingEC2TasksCount": "1",
                     "activeEC2ServiceCount": "1", "drainingEC2ServiceCount": "1"}
    world.sb.advance(60)
    (cluster,) = world.ecs.describe_clusters(clusters=["demo"], include=["STATISTICS"])[
        "clusters"]
    stats = {s["name"]: s["value"] for s in cluster["statistics"]}
    assert (stats["runningEC2TasksCount"], stats["pendingEC2TasksCount"],
            stats["drainingEC2ServiceCount"]) == ("3", "0", "0")
    assert world.ecs.describe_clusters(clusters=["demo"])["clusters"][0]["statistics"] == []


def _drain(call, key: str, token: str) -> list:
    out: list = []
    for _ in range(50):
        page = call(nextToken=token)
        out += page[key]
        token = page.get("nextToken")
        if not token:
            return out
    raise AssertionError("pagination did not end")
