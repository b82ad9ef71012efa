"""The service scheduler (docs/ecs-facts.md §1-3, §5.2): replica and daemon services.

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

A deployment of a native strategy (BLUE_GREEN, LINEAR, CANARY; docs/ecs-facts.md §1.8,
§1.11) that replaces a revision with tasks walks the lifecycle stages instead (``_native_step``):
PAUSE hooks hold it at their stage until ContinueServiceDeployment or their timeout; SCALE_UP
starts the green revision's full desired count beside the blue one (maximumPercent does not
bound it); traffic shifts (all at once, by canary or by linear steps, each step baked on the
sandbox clock); BAKE_TIME waits ``bakeTimeInMinutes``; CLEAN_UP stops the blue tasks. From
SCALE_UP on, a green task that stops is replaced. A rollback makes the blue revision primary
again and the rolling step stops the green tasks.

Layer: controller (``sandbox/ecs/controllers``); imports the store and the shared task
mechanics (``launch``, ``lifecycle``, ``network``, ``hosts``), never another controller.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Optional

from .. import launch, lifecycle, network, revisions
from ..hosts import build_hosts
from ..models import Service, Task
from ..placement import Failure
from ..state import events

if TYPE_CHECKING:
    from ..state.store import EcsState

STUCK = ("service ({}) was unable to stop or start tasks during a deployment because of the "
         "service deployment configuration. Update the minimumHealthyPercent or "
         "maximumPercent value and try again.")


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
        if _container_checks(plane, svc, t, now, grace):
            continue            # failing its container health checks: not healthy
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


def _container_checks(plane: "EcsState", svc: Service, t: Task, now: float,
                      grace: float) -> bool:
    """Apply a failing (or recovered) container health check to the task; True while it
    fails. Past the grace period a failing task is flagged for replacement."""
    failing = lifecycle.health_checks_failing(plane, t)
    if not failing:
        if t.health_checks_fail_until is not None:
            t.health_checks_fail_until = None           # the checks pass again
            if t.unhealthy_reason == lifecycle.CONTAINER_HEALTH_FAILED:
                t.unhealthy_reason = None
            t.health_status = "UNKNOWN"                 # HEALTHY again once counted healthy
            plane.task_changed(t)
        return False
    if t.health_status != "UNHEALTHY":
        t.health_status = "UNHEALTHY"
        checked = {c["name"] for c in t.task_definition.containers if c.get("healthCheck")}
        for c in t.containers:
            if c.name in checked:
                c.health_status = "UNHEALTHY"
        plane.task_changed(t)
    if t.unhealthy_reason is None and t.started_at is not None and now - t.started_at >= grace:
        t.unhealthy_reason = lifecycle.CONTAINER_HEALTH_FAILED
    return True


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
    step = _daemon_step if svc.scheduling_strategy == "DAEMON" else (
        _native_step if _native_active(svc) else _replica_step)
    for _ in range(8):
        if not step(plane, svc):
            break
    _settle_rollbacks(plane, svc)
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
    strategies = launch.strategies(svc)
    changed = False

    live, good, bad = _classify(plane, svc)
    healthy = _healthy_set(plane, svc, live)
    live, good, bad = _classify(plane, svc)   # health checks may have flagged some

    # 1. scale-in (leaving alone the tasks ECS's AZ rebalancing started and still warms up)
    excess = len(good) - D - plane.az_rebalancing_surplus(svc)
    if excess > 0:
        cands = [t for t in good if not t.protected(now)]
        waiting = [t for t in cands if t.last_status == "PROVISIONING"][:excess]
        if waiting:   # tasks still waiting for capacity go first
            changed |= _stop(plane, svc, waiting) > 0
            excess -= len(waiting)
            cands = [t for t in cands if t not in waiting]
        if cands and excess > 0:
            picks = launch.pick_to_stop(plane, svc, cands, lambda t: t.arn in healthy, excess)
            changed |= _stop(plane, svc, picks) > 0
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
            cons = launch.constraints_for(td, svc.placement_constraints)
        except ValueError:
            cons = None
        if cons is not None:
            placed, failure = launch.place_tasks(
                plane, svc.cluster_name, td, n, group=svc.group, constraints=cons,
                strategies=strategies, started_by=svc.primary.id, service=svc,
                deployment=svc.primary, tags=launch.task_tags(plane, svc, td),
                enable_execute_command=svc.enable_execute_command)
            _started(plane, svc, placed)
            if failure is not None:
                _placement_failed(plane, svc, failure)
            if placed:
                changed = True
                live, good, bad = _classify(plane, svc)

    # 4. stop bad tasks: PENDING ones and those that failed health checks freely, healthy ones
    #    down to `lower` (docs/ecs-facts.md §3.5). An old task that is RUNNING but not healthy
    #    *yet* (younger than 40 s, or its target still initial) waits: stopping it would not
    #    keep the minimum, it would only hide that the service is below it.
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
        picks = launch.pick_to_stop(plane, svc, healthy_bad, lambda t: t.arn in healthy, k)
        changed |= _stop(plane, svc, picks) > 0
    elif healthy_bad and not changed and upper - len(live) <= 0 and \
            all(t.arn in healthy for t in live):
        plane.service_event(svc, STUCK.format(svc.name), key="stuck")
    return changed


def _daemon_step(plane: "EcsState", svc: Service) -> bool:
    now = plane.now()
    td = svc.primary.task_definition
    try:
        cons = launch.constraints_for(td, svc.placement_constraints)
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
        result = launch.place_on(plane, h, td, svc.group, cons, svc.primary.network_configuration)
        if isinstance(result, str):
            _placement_failed(plane, svc, Failure(result, [h], {h.arn: result}))
            continue
        shape = lifecycle.task_shape(td, svc.group)
        started.append(lifecycle.start_task(
            plane, td=td, ci=plane.container_instances[h.arn], shape=shape,
            dynamic_ports=result.dynamic_ports, group=svc.group,
            started_by=svc.primary.id, service=svc, deployment=svc.primary,
            tags=launch.task_tags(plane, svc, td),
            enable_execute_command=svc.enable_execute_command))
        live_n += 1
    _started(plane, svc, started)
    return changed or bool(started)


# ------------------------------------------------------- native strategies
def _native_active(svc: Service) -> bool:
    dep = svc.primary
    return (dep.strategy in revisions.NATIVE and bool(dep.lifecycle_stage)
            and dep.rollout_state == "IN_PROGRESS" and not dep.sd_status)


def _native_step(plane: "EcsState", svc: Service) -> bool:
    """One pass of the primary (green) deployment through its lifecycle stages; True when it
    changed something (the caller repeats while it does)."""
    dep = svc.primary
    if _expire_hooks(plane, svc, dep):
        return True
    changed = False
    for _ in range(len(revisions.STAGES) + 1):
        if dep.sd_status:
            return True             # a hook's timeout rolled it back
        if dep.lifecycle_stage not in ("RECONCILE_SERVICE", "PRE_SCALE_UP"):
            changed |= _top_up_green(plane, svc, dep)
        done, worked = _stage_work(plane, svc, dep)
        changed |= worked
        if not done:
            return changed
        index = revisions.STAGES.index(dep.lifecycle_stage)
        if index + 1 == len(revisions.STAGES):
            _native_completed(plane, svc, dep)
            return True
        _enter(plane, dep, revisions.STAGES[index + 1])
        changed = True
    return changed


def _enter(plane: "EcsState", dep, stage: str) -> None:
    now = plane.now()
    dep.lifecycle_stage, dep.updated_at, dep.stage_until = stage, now, None
    if stage == "BAKE_TIME":
        minutes = int(dep.config.get("bakeTimeInMinutes") or 0)
        if minutes:
            dep.stage_until = now + minutes * 60.0
            plane.runtime.call_later(minutes * 60.0, lambda: None)


def _stage_work(plane: "EcsState", svc: Service, dep) -> tuple[bool, bool]:
    """(the stage is done, something changed)."""
    stage = dep.lifecycle_stage
    if _hooks_open(plane, svc, dep, stage):
        return False, False
    if stage == "SCALE_UP":
        green = [t for t in svc.tasks.values() if t.live and t.deployment_id == dep.id]
        healthy = [t for t in green if lifecycle.is_healthy(plane, t)]
        return len(healthy) >= svc.desired_count, False
    if stage == "TEST_TRAFFIC_SHIFT":
        dep.test_weight = 100.0
        return True, True
    if stage == "PRODUCTION_TRAFFIC_SHIFT":
        return _shift_production(plane, svc, dep)
    if stage == "BAKE_TIME":
        return dep.stage_until is None or plane.now() >= dep.stage_until, False
    if stage == "CLEAN_UP":
        blue = [t for t in svc.tasks.values() if t.deployment_id != dep.id
                and t.last_status != "STOPPED"]
        stoppable = [t for t in blue if t.live and not t.protected(plane.now())]
        stopped = _stop(plane, svc, stoppable, lifecycle.SCALING.format(dep.id)) if stoppable \
            else 0
        return not any(t.last_status != "STOPPED" for t in blue), stopped > 0
    return True, False          # RECONCILE_SERVICE, PRE_/POST_ stages: hook points only


def _shift_production(plane: "EcsState", svc: Service, dep) -> tuple[bool, bool]:
    weights, bake = revisions.production_steps(dep.strategy, dep.config)
    now = plane.now()
    changed = False
    while dep.step < len(weights):
        if dep.stage_until is not None and now < dep.stage_until:
            return False, changed                   # a traffic step still bakes
        if _hooks_open(plane, svc, dep, "PRE_PRODUCTION_TRAFFIC_SHIFT", dep.step):
            return False, changed
        dep.production_weight = weights[dep.step]
        dep.step += 1
        dep.updated_at = now
        changed = True
        if dep.step < len(weights):
            dep.stage_until = now + bake
            if bake:
                plane.runtime.call_later(bake, lambda: None)
    dep.stage_until = None
    return True, changed


def _top_up_green(plane: "EcsState", svc: Service, dep) -> bool:
    """Start green tasks up to the desired count; one that failed its health checks goes."""
    now = plane.now()
    green = [t for t in svc.tasks.values() if t.live and t.deployment_id == dep.id]
    _healthy_set(plane, svc, green)            # flags tasks whose checks failed
    sick = [t for t in green if t.unhealthy_reason and not t.protected(now)]
    changed = _stop(plane, svc, sick) > 0 if sick else False
    n = svc.desired_count - sum(1 for t in green if t not in sick)
    if n <= 0:
        return changed
    td = dep.task_definition
    try:
        cons = launch.constraints_for(td, svc.placement_constraints)
    except ValueError:
        return changed
    placed, failure = launch.place_tasks(
        plane, svc.cluster_name, td, n, group=svc.group, constraints=cons,
        strategies=launch.strategies(svc), started_by=dep.id, service=svc, deployment=dep,
        tags=launch.task_tags(plane, svc, td), enable_execute_command=svc.enable_execute_command)
    _started(plane, svc, placed)
    if failure is not None:
        _placement_failed(plane, svc, failure)
    return changed or bool(placed)


def _hooks_open(plane: "EcsState", svc: Service, dep, stage: str, step: int = 0) -> bool:
    """Open the PAUSE hooks configured at ``stage`` (once per stage and traffic step); True
    while one of them awaits action."""
    waiting = False
    for n, hook in enumerate(dep.config.get("lifecycleHooks") or []):
        if hook.get("targetType") != "PAUSE" or stage not in (hook.get("lifecycleStages") or []):
            continue
        key = (n, stage, step)
        execution = next((h for h in dep.hooks if h["key"] == key), None)
        if execution is None:
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = int(timeout.get("timeoutInMinutes") or revisions.PAUSE_TIMEOUT_MINUTES[2])
            execution = {"key": key, "hookId": f"ecs-pause-{plane.new_uuid().replace('-', '')}",
                         "targetType": "PAUSE", "stage": stage, "status": "AWAITING_ACTION",
                         "expiresAt": plane.now() + minutes * 60.0,
                         "timeoutAction": timeout.get("action") or "ROLLBACK"}
            dep.hooks.append(execution)
            dep.updated_at = plane.now()
            plane.runtime.call_later(minutes * 60.0, lambda: None)
            plane.service_event(svc, f"(service {svc.name}) (deployment {dep.id}) is paused at "
                                     f"{stage} by lifecycle hook {execution['hookId']}.")
            plane.emit(events.hook_state_change(plane, svc, revisions.deployment_arn(svc, dep),
                                                execution))
        waiting |= execution["status"] == "AWAITING_ACTION"
    return waiting


def _expire_hooks(plane: "EcsState", svc: Service, dep) -> bool:
    """A PAUSE hook past its ``expiresAt`` takes its timeout action."""
    now = plane.now()
    fired = False
    for hook in dep.hooks:
        if hook["status"] == "AWAITING_ACTION" and now >= hook["expiresAt"]:
            hook["status"] = "TIMED_OUT"
            fired = True
            if hook["timeoutAction"] == "ROLLBACK":
                start_rollback(plane, svc, dep, f"lifecycle hook {hook['hookId']} timed out.")
                return True
    return fired


def continue_hook(plane: "EcsState", svc: Service, dep, hook_id: str, action: str) -> None:
    """ContinueServiceDeployment: the hook awaiting action continues or rolls back."""
    hook = next((h for h in dep.hooks if h["hookId"] == hook_id), None)
    if hook is None or hook["status"] != "AWAITING_ACTION":
        raise ValueError(f"lifecycle hook {hook_id} is not awaiting action")
    hook["status"] = "SUCCEEDED"
    dep.updated_at = plane.now()
    if action == "ROLLBACK":
        start_rollback(plane, svc, dep, f"lifecycle hook {hook_id} asked for a rollback.")


def start_rollback(plane: "EcsState", svc: Service, dep, reason: str,
                   status: str = "ROLLBACK_IN_PROGRESS") -> None:
    """Roll a native deployment back: the revision it replaced is primary again, the rolling
    step stops the green tasks; ROLLBACK_SUCCESSFUL once none is left (``_settle_rollbacks``)."""
    now = plane.now()
    sources = [d for d in svc.deployments if d is not dep]
    target = sources[0] if sources else None
    dep.sd_status, dep.sd_reason, dep.updated_at = status, reason, now
    dep.rollout_state, dep.rollout_state_reason = "FAILED", f"Rolled back: {reason}"
    dep.rollback = {"reason": reason, "startedAt": now,
                    "to": revisions.revision_arn(svc, target) if target else ""}
    for hook in dep.hooks:
        if hook["status"] == "AWAITING_ACTION":
            hook["status"] = "FAILED"
    if target is not None:
        svc.deployments = [target] + [d for d in svc.deployments if d is not target]
        target.status, dep.status = "PRIMARY", "ACTIVE"
    svc.steady = False
    plane.service_event(svc, f"(service {svc.name}) (deployment {dep.id}) is rolling back: "
                             f"{reason}")
    plane.emit(events.deployment_state_change(plane, svc, dep, "SERVICE_DEPLOYMENT_FAILED",
                                              dep.rollout_state_reason, event_type="ERROR"))


def _settle_rollbacks(plane: "EcsState", svc: Service) -> None:
    for dep in svc.deployments[1:]:
        if dep.sd_status == "ROLLBACK_REQUESTED":
            dep.sd_status = "ROLLBACK_IN_PROGRESS"
        if dep.sd_status == "ROLLBACK_IN_PROGRESS" and not any(
                t.deployment_id == dep.id and t.last_status != "STOPPED"
                for t in svc.tasks.values()):
            dep.sd_status, dep.finished_at = "ROLLBACK_SUCCESSFUL", plane.now()
            dep.updated_at = plane.now()


def _native_completed(plane: "EcsState", svc: Service, dep) -> None:
    now = plane.now()
    dep.rollout_state = "COMPLETED"
    dep.rollout_state_reason = f"ECS deployment {dep.id} completed."
    dep.updated_at = dep.finished_at = now
    plane.service_event(svc, f"(service {svc.name}) (deployment {dep.id}) deployment completed.")
    plane.emit(events.deployment_state_change(plane, svc, dep, "SERVICE_DEPLOYMENT_COMPLETED",
                                              dep.rollout_state_reason))


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
