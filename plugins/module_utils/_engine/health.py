"""Health as ECS counts it for minimumHealthyPercent. Pure (no I/O).

ECS's DeploymentConfiguration (docs/ecs-facts.md §3.2) counts a task toward the minimum only when
it is healthy, and a task is healthy here when

* its lastStatus is RUNNING;
* its healthStatus is HEALTHY, if any essential container of its task definition has a health
  check (with or without a load balancer: ECS waits for the container check either way);
* its target is ``healthy`` in *every* target group the service registers it in (a task is one
  target per load balancer entry of the service: instance id or ENI address, and the host port
  mapped to the entry's container port). A task not (yet) registered in one of them is not
  healthy.

``task_targets`` reads a task's targets from its DescribeTasks document and the service's
``loadBalancers``; ``target_states`` folds DescribeTargetHealth responses into a lookup;
``task_healthy`` is the predicate; ``count_healthy`` and ``unhealthy_targets`` are what the
evictor (the floor, ``auto``'s refusal) and the executor (when a surge may lower) ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Target = tuple[str, str, int]           # (target group ARN, target id, port)
TargetStates = Mapping[str, Mapping[tuple[str, int], str]]


@dataclass(frozen=True, slots=True)
class TaskHealth:
    """What the predicate needs of one task."""

    arn: str
    last_status: str
    health: str = "UNKNOWN"
    targets: tuple[Target, ...] = ()


def task_targets(doc: Mapping, load_balancers: Sequence[Mapping],
                 ec2_instance_id: str = "") -> tuple[Target, ...]:
    """The targets a task is (or will be) registered as: for each of the service's load
    balancer entries with a target group, (group, id, port). ``id`` is the task's ENI address
    (awsvpc) or its instance's EC2 id (bridge/host); ``port`` is the host port bound to the
    entry's container port (the container port itself for awsvpc). Entries whose binding is not
    known yet (the task is not running) are left out."""
    ip = _eni_address(doc)
    out: list[Target] = []
    for lb in load_balancers:
        group = lb.get("targetGroupArn")
        if not group:
            continue
        port = _host_port(doc, lb.get("containerName", ""), lb.get("containerPort"))
        if ip:
            out.append((group, ip, int(lb.get("containerPort") or 0)))
        elif port is not None and ec2_instance_id:
            out.append((group, ec2_instance_id, port))
    return tuple(out)


def target_states(responses: Mapping[str, Mapping]) -> dict[str, dict[tuple[str, int], str]]:
    """{target group ARN: DescribeTargetHealth response} -> {group: {(id, port): state}}."""
    out: dict[str, dict[tuple[str, int], str]] = {}
    for group, resp in responses.items():
        states = out.setdefault(group, {})
        for desc in resp.get("TargetHealthDescriptions", []):
            target = desc.get("Target", {})
            states[(str(target.get("Id", "")), int(target.get("Port") or 0))] = \
                desc.get("TargetHealth", {}).get("State", "")
    return out


def task_healthy(task: TaskHealth, container_health_check: bool,
                 target_groups: Sequence[str] = (), states: TargetStates | None = None) -> bool:
    """Whether ECS counts ``task`` as healthy (see the module docstring). ``target_groups``:
    the service's; ``states``: their targets' health (``target_states``). Without ``states``
    for a load-balanced service the task is not known to be healthy: False."""
    if task.last_status != "RUNNING":
        return False
    if container_health_check and task.health != "HEALTHY":
        return False
    if not target_groups:
        return True
    if states is None:
        return False
    for group in target_groups:
        mine = [(tid, port) for g, tid, port in task.targets if g == group]
        if not mine or any(states.get(group, {}).get(t) != "healthy" for t in mine):
            return False
    return True


def count_healthy(tasks: Iterable[TaskHealth], container_health_check: bool,
                  target_groups: Sequence[str] = (), states: TargetStates | None = None) -> int:
    return sum(1 for t in tasks
               if task_healthy(t, container_health_check, target_groups, states))


def unhealthy_targets(target_groups: Sequence[str], states: TargetStates) -> list[str]:
    """'group: id:port state' for every target of the service's groups that is not healthy
    (draining targets of tasks already leaving are not counted: they are on their way out)."""
    out = []
    for group in target_groups:
        for (tid, port), state in sorted(states.get(group, {}).items()):
            if state not in ("healthy", "draining", "unused"):
                out.append(f"{group.rsplit('/', 2)[-2] if '/' in group else group}: "
                           f"{tid}:{port} {state}")
    return out


def _eni_address(doc: Mapping) -> str:
    for attachment in doc.get("attachments", []) or []:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details", []) or []:
            if detail.get("name") == "privateIPv4Address":
                return str(detail.get("value", ""))
    return ""


def _host_port(doc: Mapping, container: str, container_port) -> int | None:
    for c in doc.get("containers", []) or []:
        if container and c.get("name") != container:
            continue
        for binding in c.get("networkBindings", []) or []:
            if binding.get("containerPort") == container_port and binding.get("hostPort"):
                return int(binding["hostPort"])
    return None


__all__ = ["TaskHealth", "count_healthy", "target_states", "task_healthy", "task_targets",
           "unhealthy_targets"]
