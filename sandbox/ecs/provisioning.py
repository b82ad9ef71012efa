"""Capacity providers as placement sees them: which provider each new task goes to, the
instances it may use, and the PROVISIONING task that waits for its provider to grow.

Layer: shared task mechanics, below the controllers (the scheduler places through it, the
agent asks which provider launched an instance, the capacity controller reconciles what it
records) and above the store. Imports the store (type only), ``models`` and ``placement``'s
types. The base/weight split is described in ``controllers/capacity.py``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

from .models import Container, Task
from .state.records import PlacementRequest

if TYPE_CHECKING:
    from .models import Deployment, Service, TaskDefinition
    from .placement import Constraints, Host, TaskShape
    from .state.store import EcsState


# ------------------------------------------------------------------- strategies
def _targets(strategy: list[dict], total: int) -> dict[str, int]:
    """Largest-remainder split of ``total`` tasks: the base first, the rest by weight."""
    out = {i["capacityProvider"]: 0 for i in strategy}
    rest = total
    for item in strategy:
        if item["base"] > 0:
            out[item["capacityProvider"]] = min(item["base"], total)
            rest = total - out[item["capacityProvider"]]
    weights = [(i["capacityProvider"], i["weight"]) for i in strategy if i["weight"] > 0]
    weight_sum = sum(w for _, w in weights)
    if not weights or rest <= 0:
        return out
    shares = [(name, rest * w / weight_sum) for name, w in weights]
    for name, share in shares:
        out[name] += math.floor(share)
    left = rest - sum(math.floor(s) for _, s in shares)
    order = sorted(range(len(shares)), key=lambda k: (-(shares[k][1] % 1), k))
    for k in order[:left]:
        out[shares[k][0]] += 1
    return out


def assign(strategy: list[dict], counts: dict[str, int], k: int) -> list[str]:
    """The providers of the next ``k`` tasks, given how many each already has."""
    have = {i["capacityProvider"]: counts.get(i["capacityProvider"], 0) for i in strategy}
    order = {i["capacityProvider"]: n for n, i in enumerate(strategy)}
    picks = []
    for _ in range(k):
        target = _targets(strategy, sum(have.values()) + 1)
        name = max(have, key=lambda n: (target[n] - have[n], -order[n]))
        picks.append(name)
        have[name] += 1
    return picks


def providers_for(plane: "EcsState", strategy: list[dict], svc: "Optional[Service]",
                  k: int) -> list[Optional[str]]:
    """One provider per task to place (None: launch type, any instance)."""
    if not strategy:
        return [None] * k
    counts: dict[str, int] = {}
    if svc is not None:
        for t in svc.tasks.values():
            if t.live and t.deployment_id == svc.primary.id and t.capacity_provider_name:
                counts[t.capacity_provider_name] = counts.get(t.capacity_provider_name, 0) + 1
    return list(assign(strategy, counts, k))


def pool(hosts: list["Host"], provider: Optional[str]) -> list["Host"]:
    """The instances a task of ``provider`` may use: only that provider's (§1.5)."""
    if provider is None:
        return hosts
    return [h for h in hosts if h.facts.get("capacityProviderName") == provider]


def provider_of_instance(plane: "EcsState", instance) -> Optional[str]:
    """The ACTIVE provider whose Auto Scaling group launched ``instance`` (its
    aws:autoscaling:groupName tag, set at launch), for RegisterContainerInstance."""
    group = getattr(instance, "autoscaling_group", None)
    name = getattr(group, "name", None)
    if name is None:
        tags = {t.get("key"): t.get("value") for t in (instance.get_tags() or [])} \
            if hasattr(instance, "get_tags") else {}
        name = tags.get("aws:autoscaling:groupName")
    cp = next((c for c in plane.capacity.providers.values()
               if c.asg_name == name and c.status == "ACTIVE"), None)
    return cp.name if cp else None


# ------------------------------------------------------------------ PROVISIONING
def can_provision(plane: "EcsState", provider: Optional[str]) -> bool:
    cp = plane.capacity.providers.get(provider or "")
    return cp is not None and cp.status == "ACTIVE" and cp.scaling


def provision(plane: "EcsState", *, cluster_name: str, td: "TaskDefinition",
              shape: "TaskShape", group: str, started_by: Optional[str],
              service: "Optional[Service]", deployment: "Optional[Deployment]",
              overrides: Optional[dict], tags: Optional[list], enable_execute_command: bool,
              provider: str, constraints: "Constraints", strategies: list[dict]) -> Task:
    """A task that waits in PROVISIONING, without a container instance, for its provider to
    grow (cluster-auto-scaling.html, "Managed scale-out behavior")."""
    now = plane.now()
    task_id = plane.new_id()
    cluster = plane.clusters[cluster_name]
    containers = [Container(
        name=c.get("name", ""), image=c.get("image", ""),
        arn=plane.arn(f"container/{cluster_name}/{task_id}/{plane.new_uuid()}"),
        cpu=int(c.get("cpu") or 0),
        memory=int(c["memory"]) if c.get("memory") is not None else None,
        memory_reservation=int(c["memoryReservation"])
        if c.get("memoryReservation") is not None else None) for c in td.containers]
    if overrides is None:
        overrides = {"containerOverrides": [{"name": c.name} for c in containers],
                     "inferenceAcceleratorOverrides": []}
    task = Task(
        arn=plane.arn(f"task/{cluster_name}/{task_id}"), id=task_id, cluster_name=cluster_name,
        cluster_arn=cluster.arn, task_definition=td, container_instance_arn="",
        ec2_instance_id="", availability_zone=None, group=group, started_by=started_by,
        created_at=now, cpu=shape.cpu, memory=shape.memory, shape=shape,
        containers=containers, overrides=overrides,
        service_name=service.name if service else None,
        deployment_id=deployment.id if deployment else None, tags=list(tags or []),
        last_status="PROVISIONING", updated_at=now, version=0,
        load_balancers=list(deployment.load_balancers) if deployment else [],
        enable_execute_command=enable_execute_command, capacity_provider_name=provider)
    plane.tasks[task.arn] = task
    plane.cluster_tasks[cluster_name][task.arn] = task
    if service is not None:
        service.tasks[task.arn] = task
    plane.capacity.requests[task.arn] = PlacementRequest(constraints, list(strategies))
    plane.task_changed(task)
    return task
