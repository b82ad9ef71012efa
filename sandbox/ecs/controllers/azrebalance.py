"""ECS's own Availability Zone rebalancing (docs/ecs-facts.md §1.4; AWS service-rebalancing.html,
track-service-rebalancing.html, service-rebalancing-event-messages-list.html).

What AWS documents and this module does:

* Eligible services: REPLICA, first placement strategy spread on
  ``attribute:ecs.availability-zone`` (or no strategy), maximumPercent above 100, no placement
  constraint on ``attribute:ecs.availability-zone``, no Classic Load Balancer, not EXTERNAL.
* Monitoring starts once the service is at steady state. When the per-AZ task counts are
  uneven (target: desired / AZs, the remainder one each), ECS sends
  SERVICE_REBALANCING_STARTED, **starts** tasks in the short AZs, waits until they are RUNNING
  and HEALTHY, then **stops** tasks in the over AZs (stoppedReason ``Availability-zone
  rebalancing initiated by (deployment ecs-svc/<id>)``), then SERVICE_REBALANCING_COMPLETED.
* It uses existing instances only, respects strategies and constraints, and sends
  SERVICE_TASK_PLACEMENT_FAILURE when the short AZ has no room; task scale-in protection blocks
  it (TASKSET_SCALE_IN_FAILURE_BY_TASK_PROTECTION); a new deployment stops it
  (SERVICE_REBALANCING_STOPPED). It never balances instances inside an AZ.

Undocumented, so configurable in ``sandbox/config.py``: how long after steady state the first
check runs (``az_rebalancing_check_seconds``) and how many tasks one batch moves
(``az_rebalancing_batch_size``); the temporary extra tasks also stay within maximumPercent.

The scheduler asks the store (``EcsState.az_rebalancing_surplus``) so that it does not scale in
the extra tasks while they warm up; everything else happens in ``reconcile_service``, called by
the plane after the scheduler's pass.

Layer: controller (``sandbox/ecs/controllers``); imports the store and the shared task
mechanics (``launch``, ``lifecycle``, ``network``, ``hosts``), never another controller.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Optional

from .. import errors, launch, lifecycle, network
from ..hosts import build_hosts
from ..models import Service, Task, TaskDefinition
from ..placement import Constraints, Failure, choose
from ..state import events
from ..state.records import Operation

if TYPE_CHECKING:
    from ..placement import Host
    from ..state.store import EcsState

AZ_ATTRIBUTE = "ecs.availability-zone"
AZ_FIELD = f"attribute:{AZ_ATTRIBUTE}"
STOP_REASON = "Availability-zone rebalancing initiated by (deployment {})"


# ----------------------------------------------------------------- eligibility
def ineligible_reason(svc: Service, td: Optional[TaskDefinition] = None) -> Optional[str]:
    """Why AWS would not rebalance this service across AZs, or None when it would.
    ``td``: the task definition, for a service whose deployment does not exist yet."""
    if svc.scheduling_strategy != "REPLICA":
        return "the service uses the DAEMON scheduling strategy"
    if (svc.launch_type or "EC2") == "EXTERNAL":
        return "the service uses the EXTERNAL launch type"
    if svc.max_percent() <= 100:
        return "the service's maximumPercent is 100"
    if svc.placement_strategy:
        first = svc.placement_strategy[0]
        if first.get("type") != "spread" or (first.get("field") or "") != AZ_FIELD:
            return ("the service's first placement strategy is not spread on "
                    f"{AZ_FIELD}")
    td = td or (svc.primary.task_definition if svc.deployments else None)
    td_constraints = td.body.get("placementConstraints") if td is not None else None
    for c in list(svc.placement_constraints) + list(td_constraints or []):
        if AZ_FIELD in (c.get("expression") or ""):
            return f"the service has a placement constraint on {AZ_FIELD}"
    if any(lb.get("loadBalancerName") and not lb.get("targetGroupArn")
           for lb in svc.load_balancers):
        return "the service uses a Classic Load Balancer"
    return None


def default_for(svc: Service, td: TaskDefinition, configured_default: str) -> str:
    """CreateService without a value: ENABLED for eligible services (AWS's default since
    2025-09-05), DISABLED otherwise; ``configured_default`` DISABLED turns it off."""
    if configured_default == "ENABLED" and ineligible_reason(svc, td) is None:
        return "ENABLED"
    return "DISABLED"


def check_requested(svc: Service, value: Optional[str], td: Optional[TaskDefinition] = None
                    ) -> None:
    """Reject a value other than ENABLED/DISABLED, and ENABLED on an ineligible service.
    ECS's exact wording is not public; the message names the documented rule."""
    if value is None:
        return
    if value not in ("ENABLED", "DISABLED"):
        raise errors.invalid("availabilityZoneRebalancing must be ENABLED or DISABLED.")
    reason = ineligible_reason(svc, td) if value == "ENABLED" else None
    if reason:
        raise errors.invalid(f"Availability Zone rebalancing cannot be ENABLED because "
                             f"{reason}. See Balancing an Amazon ECS service across "
                             "Availability Zones in the Amazon ECS Developer Guide.")


# ------------------------------------------------------------------- the view
def _operation(plane: "EcsState", svc: Service) -> Optional[Operation]:
    return plane.az_rebalancing.get(svc.arn)


def _hosts_for(plane: "EcsState", svc: Service) -> list["Host"]:
    """ACTIVE, agent-connected instances that satisfy the service's constraints."""
    hosts = build_hosts(plane, svc.cluster_name)
    try:
        cons = launch.constraints_for(svc.primary.task_definition, svc.placement_constraints)
    except ValueError:
        return []
    subnets = network.subnets_of(svc.primary.network_configuration)
    out = [h for h in hosts if h.status == "ACTIVE" and h.agent_connected
           and all(pred(h.resolve) for pred in cons.member_of)
           and (not subnets or h.attributes.get("ecs.subnet-id") in subnets)]
    return _in_capacity_providers(svc, out)


def _in_capacity_providers(svc: Service, hosts: list["Host"]) -> list["Host"]:
    """With a capacity provider strategy, only its providers' instances count (§1.5: tasks
    go only to instances of the providers in the strategy)."""
    names = {i.get("capacityProvider") for i in svc.capacity_provider_strategy or []}
    if not names:
        return hosts
    return [h for h in hosts if h.facts.get("capacityProviderName") in names]


def service_azs(plane: "EcsState", svc: Service) -> list[str]:
    """The AZs the service can place in, sorted: those of its eligible instances."""
    return sorted({h.attributes.get(AZ_ATTRIBUTE) for h in _hosts_for(plane, svc)
                   if h.attributes.get(AZ_ATTRIBUTE)})


def az_counts(svc: Service, azs: list[str]) -> Counter:
    """Live tasks per usable AZ; a task in an AZ the service cannot place in (its instance
    lost its agent, say) is the scheduler's business, not a rebalancing target."""
    counts: Counter = Counter({az: 0 for az in azs})
    for t in svc.tasks.values():
        if t.live and t.availability_zone in counts:
            counts[t.availability_zone] += 1
    return counts


def targets(counts: Counter, azs: list[str], desired: int) -> dict[str, int]:
    """desired / len(azs) each, the remainder one each to the AZs already holding most (so the
    fewest tasks move): 2 over 2 = 1/1, 3 over 2 = 1/2, 5 over 3 = 1/2/2."""
    if not azs:
        return {}
    base, extra = divmod(desired, len(azs))
    order = sorted(azs, key=lambda az: (-counts[az], az))
    return {az: base + (1 if i < extra else 0) for i, az in enumerate(order)}


def balanced(counts: Counter, azs: list[str]) -> bool:
    """The AZ counts within one of each other (any split of the remainder is balanced)."""
    values = [counts[az] for az in azs]
    return not values or max(values) - min(values) <= 1


def describe_counts(counts: Counter, azs: list[str], repeat_tasks: bool) -> str:
    """'2 tasks in us-east-1a, 1 in us-east-1b, and 0 in us-east-1c' (the STARTED form) or
    with 'tasks' after every count (the COMPLETED form), as the documented messages read."""
    parts = []
    for i, az in enumerate(azs):
        word = " tasks" if i == 0 or repeat_tasks else ""
        parts.append(f"{counts[az]}{word} in {az}")
    if len(parts) <= 1:
        return "".join(parts)
    if len(parts) == 2:
        return f"{parts[0]} and {parts[1]}"
    return ", ".join(parts[:-1]) + f", and {parts[-1]}"


# ------------------------------------------------------------------ reconcile
def reconcile_service(plane: "EcsState", svc: Service) -> None:
    """One level-triggered look at one service; at most one phase change per call."""
    op = _operation(plane, svc)
    if op is not None:
        _continue(plane, svc, op)
        return
    if not _may_start(plane, svc):
        return
    azs = service_azs(plane, svc)
    counts = az_counts(svc, azs)
    if balanced(counts, azs):
        return
    op = Operation(deployment_id=svc.primary.id, desired_count=svc.desired_count)
    plane.az_rebalancing[svc.arn] = op
    plane.service_event(svc, f"service ({svc.name}) is not AZ balanced with "
                             f"{describe_counts(counts, azs, False)}. "
                             "AZ Rebalancing in progress.")
    plane.emit(events.service_action(plane, svc, "SERVICE_REBALANCING_STARTED"))
    _start_batch(plane, svc, op, azs, counts)


def _may_start(plane: "EcsState", svc: Service) -> bool:
    """ENABLED, eligible, ACTIVE and at steady state for az_rebalancing_check_seconds."""
    if svc.status != "ACTIVE" or svc.availability_zone_rebalancing != "ENABLED" \
            or not svc.deployments or not svc.steady or ineligible_reason(svc):
        return False
    since = svc.last_messages.get("steady", ("", plane.now()))[1]
    due = since + plane.config.az_rebalancing_check_seconds
    if plane.now() < due:
        if plane.az_rebalancing_wake.get(svc.arn) != due:   # one wake-up timer per due time
            plane.az_rebalancing_wake[svc.arn] = due
            plane.runtime.call_at(due, lambda: None)
        return False
    return True


def _continue(plane: "EcsState", svc: Service, op: Operation) -> None:
    if svc.status != "ACTIVE" or not svc.deployments \
            or svc.primary.id != op.deployment_id or svc.desired_count != op.desired_count \
            or svc.availability_zone_rebalancing != "ENABLED":
        _end(plane, svc, "SERVICE_REBALANCING_STOPPED")
        return
    started = [svc.tasks[a] for a in op.started if a in svc.tasks and svc.tasks[a].live]
    op.started = [t.arn for t in started]
    if started:
        if all(lifecycle.is_healthy(plane, t) for t in started):
            _stop_batch(plane, svc, op, started)
        return
    azs = service_azs(plane, svc)
    counts = az_counts(svc, azs)
    if _settling(svc):
        return
    if balanced(counts, azs):
        plane.service_event(svc, f"service ({svc.name}) is AZ balanced with "
                                 f"{describe_counts(counts, azs, True)}.")
        _end(plane, svc, "SERVICE_REBALANCING_COMPLETED")
        return
    _start_batch(plane, svc, op, azs, counts)


def _settling(svc: Service) -> bool:
    """Tasks still on their way to STOPPED, or live ones not yet RUNNING."""
    return any((t.last_status != "STOPPED" and not t.live)
               or (t.live and t.last_status != "RUNNING") for t in svc.tasks.values())


def _end(plane: "EcsState", svc: Service, event_name: str) -> None:
    plane.az_rebalancing.pop(svc.arn, None)
    plane.emit(events.service_action(plane, svc, event_name))


# ------------------------------------------------------------------ start first
def _start_batch(plane: "EcsState", svc: Service, op: Operation, azs: list[str],
                 counts: Counter) -> None:
    """Start up to a batch of tasks in the short AZs, within maximumPercent."""
    goal = targets(counts, azs, svc.desired_count)
    live = sum(1 for t in svc.tasks.values() if t.live)
    room = math.floor(svc.desired_count * svc.max_percent() / 100) - live
    budget = min(plane.config.az_rebalancing_batch_size, room)
    shortfall = {az: goal[az] - counts[az] for az in azs if goal[az] > counts[az]}
    if budget <= 0 or not shortfall:
        return
    for az in sorted(shortfall, key=lambda a: (-shortfall[a], a)):
        n = min(shortfall[az], budget)
        if n <= 0:
            break
        placed = _place_in(plane, svc, az, n)
        budget -= len(placed)
        op.started += [t.arn for t in placed]


def _place_in(plane: "EcsState", svc: Service, az: str, n: int) -> list[Task]:
    """Place ``n`` tasks in ``az`` under the service's own strategies and constraints."""
    td = svc.primary.task_definition
    pin = {"type": "memberOf", "expression": f"{AZ_FIELD} == {az}"}
    try:
        cons: Constraints = launch.constraints_for(td, list(svc.placement_constraints)
                                                      + [pin])
    except ValueError:
        return []
    placed, failure = launch.place_tasks(
        plane, svc.cluster_name, td, n, group=svc.group, constraints=cons,
        strategies=launch.strategies(svc), started_by=svc.primary.id, service=svc,
        deployment=svc.primary, tags=launch.task_tags(plane, svc, td),
        enable_execute_command=svc.enable_execute_command)
    if placed:
        ids = ", ".join(t.id for t in placed)
        plane.service_event(svc, f"{svc.name} has started {len(placed)} tasks in {az} to "
                                 f"AZ Rebalance: {ids}.")
    if failure is not None:
        _placement_failed(plane, svc, az, _failure_in(plane, svc, az) or failure)
    return placed


def _failure_in(plane: "EcsState", svc: Service, az: str) -> Optional[Failure]:
    """Why the AZ's own instances cannot take the task (the AZ pin would otherwise make
    every other AZ's instance the "closest" with an ATTRIBUTE failure)."""
    td = svc.primary.task_definition
    try:
        cons = launch.constraints_for(td, svc.placement_constraints)
    except ValueError:
        return None
    hosts = [h for h in _in_capacity_providers(svc, build_hosts(
        plane, svc.cluster_name)) if h.attributes.get(AZ_ATTRIBUTE) == az]
    shape = launch.shape_for(td, svc.group, svc.primary.network_configuration)
    result = choose(hosts, shape, cons, launch.strategies(svc), rng=plane.runtime.rng,
                    port_range=plane.config.dynamic_port_range)
    return result if isinstance(result, Failure) else None


def _placement_failed(plane: "EcsState", svc: Service, az: str,
                      failure: Failure) -> None:
    message = (f"service ({svc.name}) is unable to place a task in {az} because no "
               "container instance met all of its requirements.")
    if plane.service_event(svc, message, key=f"az-placement:{az}"):
        reason = failure.reason if failure.reason not in ("NO_INSTANCES", "AGENT") \
            else "NO_CONTAINER_INSTANCES"
        plane.emit(events.service_action(
            plane, svc, "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR",
            containerInstanceArns=[h.arn for h in failure.closest], reason=reason))


# -------------------------------------------------------------------- then stop
def _stop_batch(plane: "EcsState", svc: Service, op: Operation,
                started: list[Task]) -> None:
    """The started tasks are healthy: stop as many tasks in the over AZs, never a protected
    one; inside an AZ the scheduler's own scale-in choice (§2) picks which. Started tasks
    whose counterpart is protected stay (above desiredCount) until the protection ends."""
    now = plane.now()
    azs = service_azs(plane, svc)
    counts = az_counts(svc, azs)
    goal = targets(_without(counts, started), azs, svc.desired_count)
    surplus = {az: counts[az] - goal[az] for az in azs if counts[az] > goal[az]}
    want = min(len(started), sum(surplus.values()))
    started_arns = {t.arn for t in started}
    victims: list[Task] = []
    blocked = False
    for az in sorted(surplus, key=lambda a: (-surplus[a], a)):
        k = min(surplus[az], want - len(victims))
        if k <= 0:
            break
        pool = [t for t in svc.tasks.values() if t.live and t.availability_zone == az
                and t.arn not in started_arns]
        free = [t for t in pool if not t.protected(now)]
        blocked |= len(free) < k
        victims += _choose(plane, svc, free, min(k, len(free)))
    if blocked and not op.blocked:
        op.blocked = True
        plane.emit(events.service_action(
            plane, svc, "TASKSET_SCALE_IN_FAILURE_BY_TASK_PROTECTION", "WARN"))
    reason = STOP_REASON.format(svc.primary.id)
    by_az: dict[str, list[Task]] = {}
    for t in victims:
        if lifecycle.stop(plane, t, reason, "ServiceSchedulerInitiated"):
            by_az.setdefault(t.availability_zone, []).append(t)
    for az, tasks in sorted(by_az.items()):
        ids = ", ".join(t.id for t in tasks)
        plane.service_event(svc, f"{svc.name} has stopped {len(tasks)} running tasks in {az} "
                                 f"due to AZ rebalancing: {ids}.")
    stopped = sum(len(v) for v in by_az.values())
    # the started tasks that found a counterpart are now ordinary tasks of the service
    op.started = op.started[stopped:] if blocked else []
    if not op.started:
        op.blocked = False


def _without(counts: Counter, started: list[Task]) -> Counter:
    out = Counter(counts)
    for t in started:
        out[t.availability_zone] -= 1
    return out


def _choose(plane: "EcsState", svc: Service, pool: list[Task], k: int) -> list[Task]:
    return launch.pick_to_stop(plane, svc, pool, lambda t: lifecycle.is_healthy(plane, t), k)
