"""The service scheduler (ecs-semantics §1-3, §5.2): replica and daemon services.

``reconcile_service`` is level-triggered: it looks at the service's tasks as they are now and
takes the steps the rules allow, repeating until nothing more can be done in this instant.

One replica step (D = desiredCount, upper = floor(D*max%), lower = ceil(D*min%)):
  live   = tasks with desiredStatus RUNNING (every deployment)
  bad    = live tasks of older deployments, on a DRAINING host, or failing ELB health checks
  good   = the other live tasks (PRIMARY deployment, ACTIVE host)
  1. scale-in: stop good tasks beyond D (never a protected one), chosen by §2;
  2. stop bad tasks that are still PENDING (they are not healthy anyway);
  3. start min(upper - |live|, D - |good|) PRIMARY tasks through placement (§1);
  4. stop bad tasks that are not healthy, then min(|healthy| - lower, |healthy bad|) healthy
     bad tasks, chosen by §2 (protected tasks are never chosen).
After the steps: deployment counts, completion, old deployments dropped, steady state.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import TYPE_CHECKING, Optional

from . import azrebalance, capacity
from .. import lifecycle, network
from ..hosts import build_hosts
from ..models import Service, Task, TaskDefinition
from ..placement import (DEFAULT_STRATEGY, Constraints, Failure, Host, Placement, Victim,
                         check, choose, choose_to_stop, free_dynamic_ports, occupy)
from ..state import events

if TYPE_CHECKING:
    from ..state.store import EcsState

STUCK = ("service ({}) was unable to stop or start tasks during a deployment because of the "
         "service deployment configuration. Update the minimumHealthyPercent or "
         "maximumPercent value and try again.")


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
    for provider in capacity.providers_for(plane, capacity_strategy or [], service, count):
        result = choose(capacity.pool(hosts, provider), shape, constraints, strategies,
                        rng=plane.runtime.rng,
                        tie_break=plane.config.placement_tie_break,
                        missing_is_value=plane.config.spread_missing_attribute_is_value,
                        port_range=plane.config.dynamic_port_range)
        if isinstance(result, Failure) and capacity.can_provision(plane, provider):
            placed.append(capacity.provision(
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


def _victims(plane: "EcsState", tasks: list[Task], healthy: set[str]) -> list[Victim]:
    return [Victim(task_arn=t.arn, host_arn=t.container_instance_arn,
                   last_status=t.last_status, healthy=t.arn in healthy,
                   created_at=t.created_at, cpu=t.cpu, memory=t.memory) for t in tasks]


def _strategies(svc: Service) -> list[dict]:
    return list(svc.placement_strategy) or list(DEFAULT_STRATEGY)


# ------------------------------------------------------------------ messages
def _started(plane: "EcsState", svc: Service, tasks: list[Task]) -> None:
    if tasks:
        ids = " ".join(f"(task {t.id})" for t in tasks)
        plane.service_event(svc, f"(service {svc.name}) has started {len(tasks)} tasks: {ids}.")
        svc.last_messages.pop("placement", None)


def _placement_failed(plane: "EcsState", svc: Service, failure: Failure) -> None:
    if plane.service_event(svc, failure.service_message(svc.name), key="placement"):
        reason = failure.reason if failure.reason not in ("NO_INSTANCES", "AGENT") \
            else "NO_CONTAINER_INSTANCES"
        plane.emit(events.service_action(
            plane, svc, "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR",
            containerInstanceArns=[h.arn for h in failure.closest], reason=reason))


def _stop(plane: "EcsState", svc: Service, tasks: list[Task], reason: Optional[str] = None,
          ) -> int:
    why = reason or lifecycle.SCALING.format(svc.primary.id)
    n = 0
    for t in tasks:
        if lifecycle.stop(plane, t, t.unhealthy_reason or why, "ServiceSchedulerInitiated",
                          scheduler=True):
            n += 1
    return n


# ------------------------------------------------------------------- health
def _healthy_set(plane: "EcsState", svc: Service, live: list[Task]) -> set[str]:
    healthy = set()
    grace = svc.health_check_grace_period_seconds or 0
    now = plane.now()
    for t in live:
        if t.last_status != "RUNNING":
            continue
        if t.targets:
            states = lifecycle.target_states(plane, t)
            if states and all(s == "healthy" for s in states):
                healthy.add(t.arn)
            elif "unhealthy" in states and t.unhealthy_reason is None and \
                    t.started_at is not None and now - t.started_at >= grace:
                tg, instance_id, port = t.targets[states.index("unhealthy")]
                t.unhealthy_reason = f"Task failed ELB health checks in (target-group {tg})"
                where = f"(port {port})" if t.eni is not None else \
                    f"(instance {instance_id}) (port {port})"   # awsvpc: no instance part
                plane.service_event(svc, (
                    f"(service {svc.name}) (task {t.id}) {where} "
                    f"is unhealthy in (target-group {tg}) due to (reason Health checks failed)."))
        elif t.started_at is not None and \
                now - t.started_at >= plane.config.task_healthy_after_seconds:
            healthy.add(t.arn)
        if t.arn in healthy and t.health_status != "HEALTHY" and any(
                c.get("healthCheck") for c in t.task_definition.containers):
            t.health_status = "HEALTHY"
            for c in t.containers:
                c.health_status = "HEALTHY"
            plane.task_changed(t)
    return healthy


# ------------------------------------------------------------------ reconcile
def reconcile_service(plane: "EcsState", svc: Service) -> None:
    if svc.status == "DRAINING":
        _drain_deleted(plane, svc)
        return
    if svc.status != "ACTIVE" or not svc.deployments:
        return
    cluster = plane.clusters.get(svc.cluster_name)
    if cluster is None or cluster.status != "ACTIVE":
        return
    step = _daemon_step if svc.scheduling_strategy == "DAEMON" else _replica_step
    for _ in range(8):
        if not step(plane, svc):
            break
    _bookkeeping(plane, svc)


def _classify(plane: "EcsState", svc: Service) -> tuple[list[Task], list[Task], list[Task]]:
    live = [t for t in svc.tasks.values() if t.live]
    prim = svc.primary.id
    bad, good = [], []
    for t in live:
        ci = plane.container_instances.get(t.container_instance_arn)
        hostless = t.last_status == "PROVISIONING"   # waits for capacity, no host yet
        if t.deployment_id != prim or t.unhealthy_reason or not hostless and (
                ci is None or ci.status != "ACTIVE"):
            bad.append(t)
        else:
            good.append(t)
    return live, good, bad


def _replica_step(plane: "EcsState", svc: Service) -> bool:
    now = plane.now()
    D = svc.desired_count
    upper = math.floor(D * svc.max_percent() / 100)
    lower = math.ceil(D * svc.min_healthy_percent() / 100)
    strategies = _strategies(svc)
    changed = False

    live, good, bad = _classify(plane, svc)
    healthy = _healthy_set(plane, svc, live)
    live, good, bad = _classify(plane, svc)   # health checks may have flagged some

    # 1. scale-in (leaving alone the tasks ECS's AZ rebalancing started and still warms up)
    excess = len(good) - D - azrebalance.surplus_allowance(plane, svc)
    if excess > 0:
        cands = [t for t in good if not t.protected(now)]
        waiting = [t for t in cands if t.last_status == "PROVISIONING"][:excess]
        if waiting:   # tasks still waiting for capacity go first
            changed |= _stop(plane, svc, waiting) > 0
            excess -= len(waiting)
            cands = [t for t in cands if t not in waiting]
        if cands and excess > 0:
            hosts = build_hosts(plane, svc.cluster_name)
            picks = choose_to_stop(_victims(plane, cands, healthy), hosts, svc.group,
                                   strategies, excess, rng=plane.runtime.rng,
                                   tie_break=plane.config.placement_tie_break,
                                   missing_is_value=plane.config.spread_missing_attribute_is_value)
            by_arn = {t.arn: t for t in cands}
            changed |= _stop(plane, svc, [by_arn[v.task_arn] for v in picks]) > 0
        live, good, bad = _classify(plane, svc)

    # 2. bad tasks still PENDING stop at once
    pending_bad = [t for t in bad if t.last_status in ("PENDING", "PROVISIONING")
                   and not t.protected(now)]
    if pending_bad:
        changed |= _stop(plane, svc, pending_bad) > 0
        live, good, bad = _classify(plane, svc)

    # 3. start PRIMARY tasks
    n = min(upper - len(live), D - len(good))
    if n > 0 and svc.primary.rollout_state != "FAILED":
        td = svc.primary.task_definition
        try:
            cons = constraints_for(td, svc.placement_constraints)
        except ValueError:
            cons = None
        if cons is not None:
            placed, failure = place_tasks(
                plane, svc.cluster_name, td, n, group=svc.group, constraints=cons,
                strategies=strategies, started_by=svc.primary.id, service=svc,
                deployment=svc.primary, tags=_task_tags(plane, svc, td),
                enable_execute_command=svc.enable_execute_command)
            _started(plane, svc, placed)
            if failure is not None:
                _placement_failed(plane, svc, failure)
            if placed:
                changed = True
                live, good, bad = _classify(plane, svc)

    # 4. stop bad tasks: PENDING ones and those that failed health checks freely, healthy ones
    #    down to `lower` (ecs-semantics §3.5). An old task that is RUNNING but not healthy *yet*
    #    (younger than 40 s, or its target still initial) waits: stopping it would not keep
    #    the minimum, it would only hide that the service is below it.
    stoppable = [t for t in bad if not t.protected(now)]
    unhealthy_bad = [t for t in stoppable if t.arn not in healthy
                     and (t.last_status in ("PENDING", "PROVISIONING")
                          or t.unhealthy_reason)]
    if unhealthy_bad:
        changed |= _stop(plane, svc, unhealthy_bad) > 0
        live, good, bad = _classify(plane, svc)
        stoppable = [t for t in bad if not t.protected(now)]
    healthy_bad = [t for t in stoppable if t.arn in healthy]
    healthy_live = sum(1 for t in live if t.arn in healthy)
    k = min(healthy_live - lower, len(healthy_bad))
    if k > 0:
        hosts = build_hosts(plane, svc.cluster_name)
        picks = choose_to_stop(_victims(plane, healthy_bad, healthy), hosts, svc.group,
                               strategies, k, rng=plane.runtime.rng,
                               tie_break=plane.config.placement_tie_break,
                               missing_is_value=plane.config.spread_missing_attribute_is_value)
        by_arn = {t.arn: t for t in healthy_bad}
        changed |= _stop(plane, svc, [by_arn[v.task_arn] for v in picks]) > 0
    elif healthy_bad and not changed and upper - len(live) <= 0 and \
            all(t.arn in healthy for t in live):
        plane.service_event(svc, STUCK.format(svc.name), key="stuck")
    return changed


def _daemon_step(plane: "EcsState", svc: Service) -> bool:
    now = plane.now()
    td = svc.primary.task_definition
    try:
        cons = constraints_for(td, svc.placement_constraints)
    except ValueError:
        return False
    hosts = build_hosts(plane, svc.cluster_name)
    subnets = network.subnets_of(svc.primary.network_configuration)   # awsvpc only
    eligible = [h for h in hosts if h.status == "ACTIVE" and h.agent_connected
                and all(pred(h.resolve) for pred in cons.member_of)
                and (not subnets or h.attributes.get("ecs.subnet-id") in subnets)]
    eligible_arns = {h.arn for h in eligible}
    D = len(eligible)
    if svc.desired_count != D:
        svc.desired_count = D
    upper = math.floor(D * svc.max_percent() / 100)
    lower = math.ceil(D * svc.min_healthy_percent() / 100)
    live = [t for t in svc.tasks.values() if t.live]
    healthy = _healthy_set(plane, svc, live)
    changed = False
    seen: set[str] = set()
    bad = []
    for t in sorted(live, key=lambda t: (t.deployment_id != svc.primary.id, t.created_at)):
        if t.container_instance_arn not in eligible_arns or t.deployment_id != svc.primary.id \
                or t.unhealthy_reason or t.container_instance_arn in seen:
            bad.append(t)
        else:
            seen.add(t.container_instance_arn)
    stoppable = [t for t in bad if not t.protected(now)]
    free = [t for t in stoppable if t.arn not in healthy]
    rest = [t for t in stoppable if t.arn in healthy]
    k = min(sum(1 for t in live if t.arn in healthy) - lower, len(rest))
    to_stop = free + (rest[:k] if k > 0 else [])
    if to_stop:
        changed |= _stop(plane, svc, to_stop) > 0
    live_n = sum(1 for t in svc.tasks.values() if t.live)
    occupied = {t.container_instance_arn for t in svc.tasks.values() if t.live}
    started = []
    for h in sorted(eligible, key=lambda h: (h.ec2_instance_id, h.arn)):
        if h.arn in occupied or live_n >= upper:
            continue
        result = place_on(plane, h, td, svc.group, cons, svc.primary.network_configuration)
        if isinstance(result, str):
            _placement_failed(plane, svc, Failure(result, [h], {h.arn: result}))
            continue
        shape = lifecycle.task_shape(td, svc.group)
        started.append(lifecycle.start_task(
            plane, td=td, ci=plane.container_instances[h.arn], shape=shape,
            dynamic_ports=result.dynamic_ports, group=svc.group,
            started_by=svc.primary.id, service=svc, deployment=svc.primary,
            tags=_task_tags(plane, svc, td),
            enable_execute_command=svc.enable_execute_command))
        live_n += 1
    _started(plane, svc, started)
    return changed or bool(started)


def _task_tags(plane: "EcsState", svc: Service, td: TaskDefinition) -> list[dict]:
    tags: list[dict] = []
    if svc.propagate_tags == "SERVICE":
        tags = list(svc.tags)
    elif svc.propagate_tags == "TASK_DEFINITION":
        tags = list(td.tags)
    if svc.enable_ecs_managed_tags:
        tags = tags + [{"key": "aws:ecs:clusterName", "value": svc.cluster_name},
                       {"key": "aws:ecs:serviceName", "value": svc.name}]
    return tags


# ------------------------------------------------------------- bookkeeping
def _bookkeeping(plane: "EcsState", svc: Service) -> None:
    now = plane.now()
    prim = svc.primary
    prim.desired_count = svc.desired_count
    alive: Counter = Counter()     # tasks not yet STOPPED per deployment
    live_per: Counter = Counter()
    for t in svc.tasks.values():
        if t.last_status != "STOPPED":
            alive[t.deployment_id] += 1
        if t.live:
            live_per[t.deployment_id] += 1
    for d in svc.deployments[1:]:
        d.desired_count = live_per[d.id]
    kept = [prim] + [d for d in svc.deployments[1:] if alive[d.id] > 0]
    if len(kept) != len(svc.deployments):
        svc.deployments = kept

    live, good, bad = _classify(plane, svc)
    healthy = {t.arn for t in good if lifecycle.is_healthy(plane, t)}
    if prim.rollout_state == "IN_PROGRESS" and len(svc.deployments) == 1 and not bad \
            and len(healthy) >= svc.desired_count:
        prim.rollout_state = "COMPLETED"
        prim.rollout_state_reason = f"ECS deployment {prim.id} completed."
        prim.updated_at = now
        plane.service_event(svc, f"(service {svc.name}) (deployment {prim.id}) "
                                 "deployment completed.")
        plane.emit(events.deployment_state_change(plane, svc, prim,
                                                  "SERVICE_DEPLOYMENT_COMPLETED",
                                                  prim.rollout_state_reason))
    settling = any(t.last_status != "STOPPED" and not t.live for t in svc.tasks.values())
    steady = (len(svc.deployments) == 1 and prim.rollout_state == "COMPLETED" and not bad
              and len(live) == svc.desired_count and not settling
              and all(t.last_status == "RUNNING" for t in live))
    if steady:
        repeat = plane.config.steady_state_repeat_seconds
        last = svc.last_messages.get("steady")
        if not svc.steady or (repeat and last and now - last[1] >= repeat):
            svc.steady = True
            svc.last_messages["steady"] = ("steady", now)
            plane.service_event(svc, f"(service {svc.name}) has reached a steady state.")
            plane.emit(events.service_action(plane, svc, "SERVICE_STEADY_STATE"))
            if repeat:
                plane.runtime.call_later(repeat, lambda: None)
    else:
        svc.steady = False


def _drain_deleted(plane: "EcsState", svc: Service) -> None:
    live = [t for t in svc.tasks.values() if t.live]
    if live:
        _stop(plane, svc, live)
    if all(t.last_status == "STOPPED" for t in svc.tasks.values()):
        svc.status = "INACTIVE"
        svc.deployments = svc.deployments[:1]
        svc.steady = False
        svc.deleted_at = plane.now()
        key = (svc.cluster_name, svc.name)

        def forget() -> None:
            if plane.services.get(key) is svc and svc.status == "INACTIVE":
                del plane.services[key]
        plane.runtime.call_later(plane.config.inactive_retention_seconds, forget)
