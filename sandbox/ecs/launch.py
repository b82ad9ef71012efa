"""Starting and choosing a service's tasks, the way every controller that does it does.

Layer: shared task mechanics, below the controllers (the scheduler, ECS's AZ rebalancing) and
``api.py`` (RunTask, StartTask), above the store. Imports the store (type only), ``hosts``,
``lifecycle``, ``network``, ``provisioning`` and ``placement``; never a controller.

* ``place_tasks``: place tasks one at a time through the placement engine (§1.3), each on its
  capacity provider's instances, or waiting in PROVISIONING (``provisioning.py``);
* ``place_on``: StartTask and daemon placement on one given host;
* ``pick_to_stop``: which tasks a scale-in stops (§2);
* ``constraints_for``, ``shape_for``, ``strategies``, ``task_tags``: what a service's new
  task is placed with and carries.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Optional

from . import lifecycle, network, provisioning
from .hosts import build_hosts
from .models import Service, Task, TaskDefinition
from .placement import (DEFAULT_STRATEGY, Constraints, Failure, Host, Placement, Victim,
                        check, choose, choose_to_stop, free_dynamic_ports, occupy)

if TYPE_CHECKING:
    from .state.store import EcsState


def constraints_for(td: TaskDefinition, extra: Optional[list]) -> Constraints:
    merged = list(extra or []) + [c for c in (td.body.get("placementConstraints") or [])
                                  if c.get("type") == "memberOf"]
    return Constraints(merged)


def place_tasks(plane: "EcsState", cluster_name: str, td: TaskDefinition, count: int,
                *, group: str, constraints: Constraints, strategies: list[dict],
                started_by: Optional[str], service: Optional[Service] = None,
                deployment=None, overrides: Optional[dict] = None,
                tags: Optional[list] = None,
                enable_execute_command: bool = False,
                network_configuration: Optional[dict] = None,
                capacity_strategy: Optional[list] = None,
                ) -> tuple[list[Task], Optional[Failure]]:
    """Place ``count`` tasks one at a time (§1.3); stops at the first that cannot be placed.

    ``network_configuration``: RunTask's; a service's tasks use their deployment's.
    ``capacity_strategy``: RunTask's resolved capacity provider strategy; a service's tasks
    use the service's. Each task then goes only to its provider's instances, or waits in
    PROVISIONING when that provider has managed scaling (sandbox/ecs/capacity.py)."""
    hosts = build_hosts(plane, cluster_name)
    if network_configuration is None and deployment is not None:
        network_configuration = deployment.network_configuration
    shape = shape_for(td, group, network_configuration)
    placed: list[Task] = []
    if capacity_strategy is None and service is not None:
        capacity_strategy = service.capacity_provider_strategy
    for provider in provisioning.providers_for(plane, capacity_strategy or [], service, count):
        result = choose(provisioning.pool(hosts, provider), shape, constraints, strategies,
                        rng=plane.runtime.rng,
                        tie_break=plane.config.placement_tie_break,
                        missing_is_value=plane.config.spread_missing_attribute_is_value,
                        port_range=plane.config.dynamic_port_range)
        if isinstance(result, Failure) and provisioning.can_provision(plane, provider):
            placed.append(provisioning.provision(
                plane, cluster_name=cluster_name, td=td, shape=shape, group=group,
                started_by=started_by, service=service, deployment=deployment,
                overrides=overrides, tags=tags, enable_execute_command=enable_execute_command,
                provider=provider, constraints=constraints, strategies=strategies))
            continue
        if isinstance(result, Failure):
            return placed, result
        ci = plane.container_instances[result.host.arn]
        placed.append(lifecycle.start_task(
            plane, td=td, ci=ci, shape=shape, dynamic_ports=result.dynamic_ports,
            group=group, started_by=started_by, service=service, deployment=deployment,
            overrides=overrides, tags=tags, enable_execute_command=enable_execute_command))
        placed[-1].capacity_provider_name = provider
        occupy(result.host, shape, result.dynamic_ports)
    return placed, None


def shape_for(td: TaskDefinition, group: str, network_configuration: Optional[dict]):
    """The task's shape, with the awsvpc subnets its instance must be in."""
    shape = lifecycle.task_shape(td, group)
    if shape.awsvpc:
        shape = dataclasses.replace(shape, subnets=network.subnets_of(network_configuration))
    return shape


def place_on(plane: "EcsState", host: Host, td: TaskDefinition, group: str,
             constraints: Constraints, network_configuration: Optional[dict] = None
             ) -> Placement | str:
    """StartTask and daemon placement: this host or the reason it cannot take the task."""
    shape = shape_for(td, group, network_configuration)
    reason = check(host, shape, constraints, plane.config.dynamic_port_range)
    if reason:
        return reason
    ports = free_dynamic_ports(host, shape.dynamic_tcp + shape.dynamic_udp,
                               plane.config.dynamic_port_range) or []
    return Placement(host, ports)


def strategies(svc: Service) -> list[dict]:
    return list(svc.placement_strategy) or list(DEFAULT_STRATEGY)


def pick_to_stop(plane: "EcsState", svc: Service, tasks: list[Task],
                 healthy: Callable[[Task], bool], k: int) -> list[Task]:
    """The ``k`` of ``tasks`` ECS's scale-in choice (§2) stops, under the service's own
    strategies: the scheduler's scale-in and old tasks, and ECS's AZ rebalancing inside an AZ.
    ``healthy`` is asked once per task, in order."""
    if k <= 0:
        return []
    hosts = build_hosts(plane, svc.cluster_name)
    victims = [Victim(task_arn=t.arn, host_arn=t.container_instance_arn,
                      last_status=t.last_status, healthy=healthy(t),
                      created_at=t.created_at, cpu=t.cpu, memory=t.memory) for t in tasks]
    picks = choose_to_stop(victims, hosts, svc.group, strategies(svc), k,
                           rng=plane.runtime.rng, tie_break=plane.config.placement_tie_break,
                           missing_is_value=plane.config.spread_missing_attribute_is_value)
    by_arn = {t.arn: t for t in tasks}
    return [by_arn[v.task_arn] for v in picks]


def task_tags(plane: "EcsState", svc: Service, td: TaskDefinition) -> list[dict]:
    tags: list[dict] = []
    if svc.propagate_tags == "SERVICE":
        tags = list(svc.tags)
    elif svc.propagate_tags == "TASK_DEFINITION":
        tags = list(td.tags)
    if svc.enable_ecs_managed_tags:
        tags = tags + [{"key": "aws:ecs:clusterName", "value": svc.cluster_name},
                       {"key": "aws:ecs:serviceName", "value": svc.name}]
    return tags
