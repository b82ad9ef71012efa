"""Placement (§1.2-1.3) and scale-in choice (§2) as pure functions, plus the cluster query
language; then the strategies end to end through CreateService and RunTask."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sandbox.ecs import placement, query
from sandbox.ecs.placement import Constraints, Failure, Host, TaskShape, Victim

from ecs_world import World


def host(name: str, az: str, cpu: int = 2048, mem: int = 4096, itype: str = "m5.large",
         **live: int) -> Host:
    h = Host(arn=f"arn:aws:ecs:us-east-1:1:container-instance/c/{name}",
             ec2_instance_id=f"i-{name}",
             attributes={"ecs.availability-zone": az, "ecs.instance-type": itype},
             remaining_cpu=cpu, remaining_memory=mem,
             ports_tcp={"22", "2375", "2376", "51678", "51679"})
    for group, n in live.items():
        h.groups[group.replace("_", ":")] += n
        h.live_groups[group.replace("_", ":")] += n
    return h


SHAPE = TaskShape(cpu=256, memory=512, group="service:web", dynamic_tcp=1)
NONE = Constraints([])


def place(hosts, n=1, shape=SHAPE, constraints=NONE, strategies=placement.DEFAULT_STRATEGY):
    chosen = []
    for _ in range(n):
        r = placement.choose(hosts, shape, constraints, strategies, rng=random.Random(0))
        if isinstance(r, Failure):
            return chosen, r
        placement.occupy(r.host, shape, r.dynamic_ports)
        chosen.append(r.host.ec2_instance_id)
    return chosen, None


def test_default_spreads_az_then_instance():
    hosts = [host("a1", "a"), host("a2", "a"), host("b1", "b")]
    chosen, _ = place(hosts, 6)
    per_az = Counter("a" if c.startswith("i-a") else "b" for c in chosen)
    assert per_az == {"a": 3, "b": 3}
    assert Counter(chosen)["i-b1"] == 3


def test_spread_counts_the_whole_group_over_all_instances():
    # the group already has 2 tasks in AZ a (old deployment): new tasks go to b first
    hosts = [host("a1", "a", service_web=2), host("b1", "b")]
    chosen, _ = place(hosts, 2)
    assert chosen == ["i-b1", "i-b1"]


def test_spread_ignores_other_groups():
    hosts = [host("a1", "a", service_other=5), host("b1", "b")]
    chosen, _ = place(hosts, 1)
    assert chosen == ["i-a1"]  # tie on the group's counts: lowest instance id


def test_binpack_memory_fills_the_fullest_instance():
    hosts = [host("a1", "a", mem=4096), host("b1", "b", mem=1024), host("c1", "c", mem=600)]
    chosen, _ = place(hosts, 3, strategies=[{"type": "binpack", "field": "memory"}])
    assert chosen == ["i-c1", "i-b1", "i-b1"]


def test_binpack_cpu():
    hosts = [host("a1", "a", cpu=1024), host("b1", "b", cpu=512)]
    chosen, _ = place(hosts, 2, strategies=[{"type": "binpack", "field": "cpu"}])
    assert chosen == ["i-b1", "i-b1"]


def test_random_is_seeded():
    hosts = [host(f"h{i}", "a") for i in range(5)]
    picks = [place([host(f"h{i}", "a") for i in range(5)], 1,
                   strategies=[{"type": "random"}])[0][0] for _ in range(3)]
    assert len(set(picks)) == 1 and hosts


def test_distinct_instance():
    hosts = [host("a1", "a"), host("b1", "b")]
    chosen, failure = place(hosts, 3, constraints=Constraints([{"type": "distinctInstance"}]))
    assert sorted(chosen) == ["i-a1", "i-b1"]
    assert failure.reason == placement.ATTRIBUTE


def test_member_of():
    hosts = [host("a1", "a", itype="t3.medium"), host("b1", "b", itype="m5.large")]
    cons = Constraints([{"type": "memberOf",
                         "expression": "attribute:ecs.instance-type =~ t3.*"}])
    chosen, _ = place(hosts, 2, constraints=cons)
    assert chosen == ["i-a1", "i-a1"]


def test_resource_failures_name_the_closest_instance():
    hosts = [host("a1", "a", cpu=128), host("b1", "b", cpu=1024, mem=100)]
    _, failure = place(hosts, 1)
    assert failure.reason == placement.MEMORY           # b1 got further than a1
    assert failure.closest[0].ec2_instance_id == "i-b1"
    assert failure.per_host[hosts[0].arn] == placement.CPU
    assert "(container-instance b1) has insufficient memory available." in \
        failure.service_message("web")


def test_static_port_conflict_and_dynamic_ports():
    shape = TaskShape(cpu=0, memory=10, group="g", tcp_ports=(80,))
    h = host("a1", "a")
    chosen, failure = place([h], 2, shape=shape)
    assert chosen == ["i-a1"] and failure.reason == placement.PORTS
    assert "80" in h.ports_tcp
    dyn = TaskShape(cpu=0, memory=10, group="g", dynamic_tcp=2)
    r1 = placement.choose([h], dyn, NONE, [], rng=random.Random(0))
    assert r1.dynamic_ports == [32768, 32769]
    placement.occupy(h, dyn, r1.dynamic_ports)
    r2 = placement.choose([h], dyn, NONE, [], rng=random.Random(0))
    assert r2.dynamic_ports == [32770, 32771]
    assert "32768" not in h.ports_tcp                  # dynamic ports are not in PORTS


def test_agent_disconnected_and_draining_hosts_get_nothing():
    a = host("a1", "a")
    a.agent_connected = False
    b = host("b1", "b")
    b.status = "DRAINING"
    _, failure = place([a, b], 1)
    assert failure.reason == "NO_INSTANCES"
    assert "No Container Instances were found in your cluster" in failure.service_message("x")


def victims(hosts, tasks):
    return [Victim(task_arn=f"t{i}", host_arn=h.arn, last_status=s, healthy=s == "RUNNING",
                   created_at=float(i)) for i, (h, s) in enumerate(tasks)]


def test_scale_in_takes_fullest_az_then_fullest_instance():
    a1, a2 = host("a1", "a", service_web=2), host("a2", "a", service_web=1)
    b1 = host("b1", "b", service_web=2)
    vs = victims([a1, a2, b1], [(a1, "RUNNING"), (a1, "RUNNING"), (a2, "RUNNING"),
                                (b1, "RUNNING"), (b1, "RUNNING")])
    picks = placement.choose_to_stop(vs, [a1, a2, b1], "service:web",
                                     placement.DEFAULT_STRATEGY, 2, rng=random.Random(0))
    assert [p.host_arn for p in picks] == [a1.arn, b1.arn]


def test_scale_in_prefers_pending_then_newest():
    a1 = host("a1", "a", service_web=3)
    vs = victims([a1], [(a1, "RUNNING"), (a1, "PENDING"), (a1, "RUNNING")])
    picks = placement.choose_to_stop(vs, [a1], "service:web", placement.DEFAULT_STRATEGY, 2,
                                     rng=random.Random(0))
    assert [p.task_arn for p in picks] == ["t1", "t2"]


def test_scale_in_binpack_frees_the_emptiest_instance():
    a1 = host("a1", "a", cpu=100, service_web=1)
    b1 = host("b1", "b", cpu=1500, service_web=1)
    vs = [Victim("t0", a1.arn, "RUNNING", True, 0, cpu=256),
          Victim("t1", b1.arn, "RUNNING", True, 0, cpu=256)]
    picks = placement.choose_to_stop(vs, [a1, b1], "service:web",
                                     [{"type": "binpack", "field": "cpu"}], 1,
                                     rng=random.Random(0))
    assert picks[0].task_arn == "t1"


# -------------------------------------------------------------------- query
ATTRS = {"attribute:ecs.instance-type": "t2.micro", "attribute:ecs.availability-zone":
         "us-east-1a", "task:group": ["service:db"], "ec2InstanceId": "i-1",
         "runningTasksCount": 3}


@pytest.mark.parametrize("expr,expected", [
    ("attribute:ecs.instance-type == t2.micro", True),
    ("attribute:ecs.instance-type equals t2.small", False),
    ("attribute:ecs.instance-type != t2.micro", False),
    ("attribute:ecs.instance-type =~ t2.*", True),
    ("attribute:ecs.instance-type !~ t2.*", False),
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", True),
    ("attribute:ecs.availability-zone not in [us-east-1a]", False),
    ("attribute:ecs.availability-zone !in [us-east-1b]", True),
    ("attribute:custom exists", False),
    ("attribute:custom !exists", True),
    ("task:group == service:db", True),
    ("runningTasksCount > 2", True),
    ("runningTasksCount <= 2", False),
    ("attribute:ecs.instance-type == t2.micro and ec2InstanceId == i-2", False),
    ("attribute:ecs.instance-type == t2.small or ec2InstanceId == i-1", True),
    ("(attribute:a exists or attribute:ecs.instance-type =~ t2\\..*) and "
     "attribute:ecs.availability-zone == us-east-1a", True),
])
def test_query_language(expr, expected):
    assert query.parse(expr)(ATTRS.get) is expected


@pytest.mark.parametrize("expr", ["", "attribute:x ==", "attribute:x in [a", "(a == b",
                                  "attribute:x ?? y", "attribute:x =~ ("])
def test_query_errors(expr):
    with pytest.raises(ValueError):
        query.parse(expr)


# ------------------------------------------------------------- end to end
@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def test_service_binpack(world):
    a = world.launch("us-east-1a")
    b = world.launch("us-east-1b")
    world.boot()
    world.service("packed", 4, placementStrategy=[{"type": "binpack", "field": "memory"}])
    world.settle(30)
    dist = world.by_instance("packed")
    assert sorted(dist.values()) == [4] and set(dist) <= {a, b}
    assert world.describe_service("packed")["placementStrategy"] == [
        {"type": "binpack", "field": "memory"}]


def test_service_distinct_instance_leaves_extra_tasks_unplaced(world):
    a = world.launch("us-east-1a")
    b = world.launch("us-east-1a")
    world.boot()
    world.service("one-per-host", 3, placementConstraints=[{"type": "distinctInstance"}])
    world.settle(30)
    assert world.by_instance("one-per-host") == {a: 1, b: 1}
    assert any("was unable to place a task" in m for m in world.messages("one-per-host"))


def test_member_of_custom_attribute_from_user_data(world):
    world.launch("us-east-1a", "m5.large", 'ECS_INSTANCE_ATTRIBUTES={"tier": "gold"}')
    gold = world.ec2.describe_instances()["Reservations"][-1]["Instances"][0]["InstanceId"]
    world.launch("us-east-1b")
    world.boot()
    world.service("gold", 2, placementConstraints=[
        {"type": "memberOf", "expression": "attribute:tier == gold"}])
    world.settle(30)
    assert world.by_instance("gold") == {gold: 2}
    got = world.ecs.list_container_instances(cluster="demo", filter="attribute:tier == gold")
    assert len(got["containerInstanceArns"]) == 1


def test_run_task_placement_and_network_bindings(world):
    a = world.launch("us-east-1a")
    world.boot()
    td = world.task_definition("batch", ports=({"containerPort": 8080},
                                               {"containerPort": 53, "protocol": "udp"}))
    out = world.ecs.run_task(cluster="demo", taskDefinition=td, count=2, startedBy="me")
    assert out["failures"] == []
    bindings = [t["containers"][0]["networkBindings"] for t in out["tasks"]]
    assert bindings[0] == [
        {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 32768, "protocol": "tcp"},
        {"bindIP": "0.0.0.0", "containerPort": 53, "hostPort": 32769, "protocol": "udp"}]
    assert [b["hostPort"] for b in bindings[1]] == [32770, 32771]
    assert {t["group"] for t in out["tasks"]} == {"family:batch"}
    ci = world.instance(a)
    remaining = {r["name"]: r for r in ci["remainingResources"]}
    assert remaining["CPU"]["integerValue"] == 2048 - 2 * 256
    assert remaining["MEMORY"]["integerValue"] == 7680 - 2 * 512
    assert remaining["PORTS"]["stringSetValue"] == ["22", "2375", "2376", "51678", "51679"]


def test_static_host_port_blocks_second_task(world):
    world.launch("us-east-1a")
    world.boot()
    td = world.task_definition("static", ports=({"containerPort": 80, "hostPort": 8080},))
    first = world.ecs.run_task(cluster="demo", taskDefinition=td)
    assert first["tasks"] and first["failures"] == []
    ci = world.instances()[0]
    ports = next(r for r in ci["remainingResources"] if r["name"] == "PORTS")
    assert "8080" in ports["stringSetValue"]
    second = world.ecs.run_task(cluster="demo", taskDefinition=td)
    assert second["tasks"] == []
    assert second["failures"] == [{"arn": ci["containerInstanceArn"],
                                   "reason": "RESOURCE:PORTS"}]
    # the port comes back when the task is STOPPED
    world.ecs.stop_task(cluster="demo", task=first["tasks"][0]["taskArn"])
    world.settle(10)
    assert world.ecs.run_task(cluster="demo", taskDefinition=td)["tasks"]


def test_start_task_on_named_instance(world):
    a = world.launch("us-east-1a")
    b = world.launch("us-east-1b")
    world.boot()
    td = world.task_definition("pinned", ports=())
    ci = world.instance(b)["containerInstanceArn"]
    out = world.ecs.start_task(cluster="demo", taskDefinition=td, containerInstances=[ci])
    assert [t["containerInstanceArn"] for t in out["tasks"]] == [ci]
    assert a
