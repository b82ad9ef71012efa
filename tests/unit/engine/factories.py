"""Terse builders of ClusterSnapshots for engine tests and benchmarks.

    snap = cluster(
        [inst("a1", "a"), inst("b1", "b")],
        [svc("web", cpu=256)],
        {"web": {"a1": 2}},
    )

Instance refs are short ids; ``arn(ref)`` gives the full container-instance ARN. Remaining CPU,
memory and reserved ports are computed from the tasks placed (registered minus what they use).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    ClusterSnapshot, Instance, Move, PlacementConstraint, PlacementStrategy, Service, Task,
    TaskResources,
)

ACCOUNT = "arn:aws:ecs:us-east-1:123456789012"
AGENT_PORTS = frozenset({22, 2375, 2376, 51678, 51679})
CLUSTER = "test"


def arn(ref: str) -> str:
    return f"{ACCOUNT}:container-instance/{CLUSTER}/{ref}"


def ref(instance_arn: str) -> str:
    return instance_arn.rsplit("/", 1)[-1]


def inst(ref_: str, az: str, *, status: str = "ACTIVE", connected: bool = True,
         cpu: int = 4096, memory: int = 8192, attrs: Mapping[str, str] | None = None) -> Instance:
    """An instance with nothing running (``cluster`` subtracts the tasks placed)."""
    zone = az if az.startswith("us-") else f"us-east-1{az}"
    attributes = {"ecs.availability-zone": zone, "ecs.instance-type": "m5.large",
                  "ecs.os-type": "linux", **(attrs or {})}
    return Instance(arn=arn(ref_), ec2_instance_id=f"i-{ref_}", az=zone, status=status,
                    agent_connected=connected, attributes=attributes,
                    registered_cpu=cpu, registered_memory=memory, remaining_cpu=cpu,
                    remaining_memory=memory, reserved_tcp_ports=AGENT_PORTS)


def svc(name: str, desired: int | None = None, *, strategy: Sequence[tuple[str, str]] = (),
        constraints: Sequence[tuple[str, str]] = (), cpu: int = 0, memory: int = 0,
        ports: Iterable[int] = (), udp_ports: Iterable[int] = (), tags: Mapping | None = None,
        **fields) -> Service:
    """A steady REPLICA service. ``desired=None`` means: as many as ``cluster`` places."""
    return Service(
        name=name, arn=f"{ACCOUNT}:service/{CLUSTER}/{name}",
        desired=-1 if desired is None else desired,
        placement_strategy=tuple(PlacementStrategy(t, f) for t, f in strategy),
        placement_constraints=tuple(PlacementConstraint(t, e) for t, e in constraints),
        tags=dict(tags or {}), task_definition=f"{ACCOUNT}:task-definition/{name}:1",
        resources=TaskResources(cpu=cpu, memory=memory, tcp_ports=frozenset(ports),
                                udp_ports=frozenset(udp_ports)),
        **fields)


def task(service: str, n: int, instance: Instance, **fields) -> Task:
    values = {"started_by": "ecs-svc/1", "health": "HEALTHY", "started_at": 1_700_000_000.0 + n,
              "created_at": 1_700_000_000.0 + n,
              "task_definition": f"{ACCOUNT}:task-definition/{service}:1", **fields}
    return Task(arn=f"{ACCOUNT}:task/{CLUSTER}/{service}-{n:06d}", service=service,
                instance_arn=instance.arn, az=instance.az, **values)


def cluster(instances: Sequence[Instance], services: Sequence[Service],
            placement: Mapping[str, Mapping[str, int]],
            task_fields: Mapping[str, Mapping] | None = None) -> ClusterSnapshot:
    """Place ``placement[service][instance_ref]`` tasks; fix remaining resources and desired.

    ``task_fields[task_arn_suffix]`` overrides fields of one task (suffix ``web-000003``).
    """
    by_ref = {ref(i.arn): i for i in instances}
    task_fields = task_fields or {}
    tasks: dict[str, list[Task]] = {s.name: [] for s in services}
    used: dict[str, list[TaskResources]] = defaultdict(list)
    services_out = {}
    for service in services:
        n = 0
        for inst_ref, count in sorted(placement.get(service.name, {}).items()):
            for _ in range(count):
                n += 1
                extra = task_fields.get(f"{service.name}-{n:06d}", {})
                tasks[service.name].append(task(service.name, n, by_ref[inst_ref], **extra))
                used[by_ref[inst_ref].arn].append(service.resources)
        desired = n if service.desired == -1 else service.desired
        services_out[service.name] = replace(service, desired=desired, running=n)
    return ClusterSnapshot(
        cluster_name=CLUSTER, cluster_arn=f"{ACCOUNT}:cluster/{CLUSTER}",
        instances=tuple(sorted((_consume(i, used[i.arn]) for i in instances),
                               key=lambda i: i.arn)),
        services=dict(sorted(services_out.items())),
        tasks={name: tuple(sorted(ts, key=lambda t: t.arn)) for name, ts in tasks.items()})


def _consume(instance: Instance, resources: Sequence[TaskResources]) -> Instance:
    tcp, udp = set(instance.reserved_tcp_ports), set(instance.reserved_udp_ports)
    for res in resources:
        tcp |= res.tcp_ports
        udp |= res.udp_ports
    return replace(instance,
                   remaining_cpu=instance.remaining_cpu - sum(r.cpu for r in resources),
                   remaining_memory=instance.remaining_memory - sum(r.memory for r in resources),
                   reserved_tcp_ports=frozenset(tcp), reserved_udp_ports=frozenset(udp))


def counts(snapshot: ClusterSnapshot, service: str) -> dict[str, int]:
    """Task count per instance ref for one service (instances without tasks omitted)."""
    out: dict[str, int] = defaultdict(int)
    for t in snapshot.tasks[service]:
        out[ref(t.instance_arn)] += 1
    return dict(sorted(out.items()))


def apply_moves(snapshot: ClusterSnapshot, moves: Iterable[Move]) -> ClusterSnapshot:
    """The snapshot after every move ran as predicted (task relocated, resources moved)."""
    inst_map = snapshot.instance_map()
    tasks = {name: {t.arn: t for t in ts} for name, ts in snapshot.tasks.items()}
    delta: dict[str, list[tuple[int, TaskResources]]] = defaultdict(list)
    for move in moves:
        res = snapshot.services[move.service].resources
        old = tasks[move.service][move.task_arn]
        assert old.instance_arn == move.source_instance
        dst = inst_map[move.destination_instance]
        tasks[move.service][move.task_arn] = replace(old, instance_arn=dst.arn, az=dst.az)
        delta[move.source_instance].append((-1, res))
        delta[move.destination_instance].append((1, res))
    instances = tuple(_shift(i, delta.get(i.arn, [])) for i in snapshot.instances)
    return replace(snapshot, instances=instances,
                   tasks={n: tuple(sorted(ts.values(), key=lambda t: t.arn))
                          for n, ts in tasks.items()})


def _shift(instance: Instance, changes: Sequence[tuple[int, TaskResources]]) -> Instance:
    tcp, udp = set(instance.reserved_tcp_ports), set(instance.reserved_udp_ports)
    cpu, mem = instance.remaining_cpu, instance.remaining_memory
    for sign, res in sorted(changes, key=lambda c: c[0]):   # releases first, then takes
        cpu -= sign * res.cpu
        mem -= sign * res.memory
        (tcp.difference_update if sign < 0 else tcp.update)(res.tcp_ports)
        (udp.difference_update if sign < 0 else udp.update)(res.udp_ports)
    return replace(instance, remaining_cpu=cpu, remaining_memory=mem,
                   reserved_tcp_ports=frozenset(tcp), reserved_udp_ports=frozenset(udp))


def synthetic_cluster(instances: int, azs: int, services: int, tasks: int,
                      skew: str = "scale-out", seed: int = 0, task_cpu: int = 16,
                      task_memory: int = 32) -> ClusterSnapshot:
    """A big cluster for property tests and benchmarks.

    ``skew``: ``"scale-out"`` (tasks packed 4 per instance on the first half of the instances,
    the rest new and empty), ``"balanced"`` (round-robin over instances in AZ-interleaved order) or ``"random"``.
    Instances are interleaved over ``azs`` AZs; tasks are split evenly over the services.
    """
    rng = random.Random(seed)
    zones = "abcdefghij"[:azs]
    insts = [inst(f"c{k:05d}", zones[k % azs], cpu=1 << 20, memory=1 << 21)
             for k in range(instances)]
    pool = insts[: max(1, instances // 2)] if skew == "scale-out" else insts
    packed = 4 if skew == "scale-out" else 1   # old instances carry several tasks each
    svcs = [svc(f"svc{k:04d}", cpu=task_cpu, memory=task_memory) for k in range(services)]
    placement: dict[str, dict[str, int]] = {}
    for k, service in enumerate(svcs):
        n = tasks // services + (1 if k < tasks % services else 0)
        per: dict[str, int] = defaultdict(int)
        start = rng.randrange(len(pool))
        for j in range(n):
            target = pool[(start + j // packed) % len(pool)] if skew != "random" \
                else rng.choice(pool)
            per[ref(target.arn)] += 1
        placement[service.name] = dict(per)
    return cluster(insts, svcs, placement)
