"""Task lifecycle on the emulated clock (docs/ecs-facts.md §4).

PENDING --task_pending_seconds--> RUNNING (targets registered)
stop: desiredStatus STOPPED at once (an event with lastStatus unchanged), then
  with registered targets: DEACTIVATING for the target groups' deregistration delay,
  then STOPPING for task_stopping_seconds, then STOPPED (resources and ports released).
A PENDING task goes straight to STOPPED; a task whose host is gone is STOPPED at once.
STOPPED tasks stay describable for stopped_task_retention_seconds.

Timers carry the task ARN and the task's ``stop_epoch`` so a stale timer does nothing.

Layer: task mechanics shared by the controllers and the API; imports ``network``, the data
modules and the store (type only), never a controller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

from . import network
from .models import Container, ContainerInstance, Task, TaskDefinition
from .placement import TaskShape

if TYPE_CHECKING:
    from .models import Deployment, Service
    from .state.store import EcsState

LOG = logging.getLogger("sandbox.ecs")

SCALING = "Scaling activity initiated by (deployment {})"
USER = "Task stopped by user"


# ------------------------------------------------------------------------ shapes
def task_shape(td: TaskDefinition, group: str) -> TaskShape:
    tcp: list[int] = []
    udp: list[int] = []
    dyn_tcp = dyn_udp = 0
    mode = td.network_mode
    for _, m in td.port_mappings():
        proto = (m.get("protocol") or "tcp").lower()
        host_port = m.get("hostPort")
        if mode == "awsvpc":
            continue
        if mode == "host" and not host_port:
            host_port = m.get("containerPort")
        if host_port:
            (udp if proto == "udp" else tcp).append(int(host_port))
        elif mode == "bridge" or mode == "default":
            if proto == "udp":
                dyn_udp += 1
            else:
                dyn_tcp += 1
    return TaskShape(cpu=td.cpu_units(), memory=td.memory_mib(), group=group,
                     tcp_ports=tuple(tcp), udp_ports=tuple(udp),
                     dynamic_tcp=dyn_tcp, dynamic_udp=dyn_udp, awsvpc=mode == "awsvpc")


def _bindings(td: TaskDefinition, container: dict, dynamic: list[int]) -> list[dict]:
    """networkBindings of one container; consumes the dynamic ports it needs from ``dynamic``
    (TCP mappings first, then UDP, in definition order: see ``assign_order``)."""
    out = []
    if td.network_mode == "awsvpc":
        return out
    for m in container.get("portMappings") or []:
        proto = (m.get("protocol") or "tcp").lower()
        host_port = m.get("hostPort")
        if td.network_mode == "host" and not host_port:
            host_port = m.get("containerPort")
        if not host_port:
            host_port = dynamic.pop(0) if dynamic else 0
        out.append({"bindIP": "0.0.0.0", "containerPort": int(m.get("containerPort") or 0),
                    "hostPort": int(host_port), "protocol": proto})
    return out


# ------------------------------------------------------------------------- start
def start_task(plane: "EcsState", *, td: TaskDefinition, ci: ContainerInstance,
               shape: TaskShape, dynamic_ports: list[int], group: str,
               started_by: Optional[str], service: "Optional[Service]" = None,
               deployment: "Optional[Deployment]" = None, overrides: Optional[dict] = None,
               tags: Optional[list] = None, enable_execute_command: bool = False) -> Task:
    now = plane.now()
    task_id = plane.new_id()
    arn = plane.arn(f"task/{ci.cluster_name}/{task_id}")
    containers = []
    for c in td.containers:
        containers.append(Container(
            name=c.get("name", ""),
            arn=plane.arn(f"container/{ci.cluster_name}/{task_id}/{plane.new_uuid()}"),
            image=c.get("image", ""),
            cpu=int(c.get("cpu") or 0),
            memory=int(c["memory"]) if c.get("memory") is not None else None,
            memory_reservation=int(c["memoryReservation"])
            if c.get("memoryReservation") is not None else None,
        ))
    if overrides is None:
        overrides = {"containerOverrides": [{"name": c.name} for c in containers],
                     "inferenceAcceleratorOverrides": []}
    task = Task(
        arn=arn, id=task_id, cluster_name=ci.cluster_name, cluster_arn=ci.cluster_arn,
        task_definition=td, container_instance_arn=ci.arn,
        ec2_instance_id=ci.ec2_instance_id, availability_zone=ci.availability_zone,
        group=group, started_by=started_by, created_at=now, cpu=shape.cpu,
        memory=shape.memory, shape=shape, containers=containers, overrides=overrides,
        service_name=service.name if service else None,
        deployment_id=deployment.id if deployment else None,
        tags=list(tags or []), updated_at=now,
        load_balancers=list(deployment.load_balancers) if deployment else [],
        enable_execute_command=enable_execute_command,
        version=0,
    )
    start_on(plane, task, ci, dynamic_ports, service)
    return task


def start_on(plane: "EcsState", task: Task, ci: ContainerInstance,
             dynamic_ports: list[int], service: "Optional[Service]" = None) -> None:
    """Put a new task (RunTask, StartTask, the scheduler) or a PROVISIONING one (capacity
    providers) on its instance: host ports bound, an awsvpc task's ENI attached, resources
    taken, PENDING, RUNNING after ``task_pending_seconds``. The one start path, so both kinds
    of task get the same host."""
    # dynamic ports were chosen as one list; hand them to mappings in definition order
    dynamic = list(dynamic_ports)
    for container, definition in zip(task.containers, task.task_definition.containers):
        container.network_bindings = _bindings(task.task_definition, definition, dynamic)
    task.container_instance_arn = ci.arn
    task.ec2_instance_id = ci.ec2_instance_id
    task.availability_zone = ci.availability_zone
    task.dynamic_ports = list(dynamic_ports)
    task.last_status = "PENDING"
    task.connectivity_at = plane.now()
    if task.task_definition.network_mode == "awsvpc":
        task.eni = network.attach(plane, ci)
    _occupy(ci, task)
    plane.add_task(task, service, ci)
    plane.task_changed(task)       # lastStatus PENDING (version 1 for a new task)
    plane.instance_changed(ci)     # remainingResources dropped
    arn, epoch = task.arn, task.stop_epoch
    plane.runtime.call_later(plane.config.task_pending_seconds,
                             lambda: to_running(plane, arn, epoch))


def _occupy(ci: ContainerInstance, task: Task) -> None:
    ci.used_cpu += task.cpu
    ci.used_memory += task.memory
    for p in task.shape.tcp_ports:
        ci.static_tcp[str(p)] += 1
    for p in task.shape.udp_ports:
        ci.static_udp[str(p)] += 1
    ci.dynamic_ports.update(task.dynamic_ports)


def _release(plane: "EcsState", task: Task) -> None:
    if task.resources_released:
        return
    task.resources_released = True
    ci = plane.container_instances.get(task.container_instance_arn)
    if ci is None:
        return
    ci.used_cpu -= task.cpu
    ci.used_memory -= task.memory
    for p in task.shape.tcp_ports:
        ci.static_tcp[str(p)] -= 1
        if ci.static_tcp[str(p)] <= 0:
            del ci.static_tcp[str(p)]
    for p in task.shape.udp_ports:
        ci.static_udp[str(p)] -= 1
        if ci.static_udp[str(p)] <= 0:
            del ci.static_udp[str(p)]
    ci.dynamic_ports.difference_update(task.dynamic_ports)
    ci.tasks.pop(task.arn, None)
    if ci.status != "INACTIVE":
        plane.instance_changed(ci)   # remainingResources back


# ------------------------------------------------------------------------ running
def to_running(plane: "EcsState", arn: str, epoch: int) -> None:
    task = plane.tasks.get(arn)
    if task is None or task.stop_epoch != epoch or task.last_status != "PENDING" \
            or task.desired_status != "RUNNING":
        return
    now = plane.now()
    pending = max(0.0, now - task.created_at)
    task.pull_started_at = task.created_at + 0.1 * pending
    task.pull_stopped_at = task.created_at + 0.8 * pending
    task.started_at = now
    task.last_status = "RUNNING"
    for c in task.containers:
        c.last_status = "RUNNING"
        c.runtime_id = plane.new_id() + plane.new_id()
    plane.task_changed(task)
    svc = plane.services.get((task.cluster_name, task.service_name)) \
        if task.service_name else None
    for lb in task.load_balancers:
        tg = lb.get("targetGroupArn")
        target_id, port = target_for(task, lb)
        if not tg or port is None:
            continue
        try:
            plane.ports.load_balancers.register_target(tg, target_id, port)
        except Exception:
            LOG.exception("registering %s:%s in %s failed", target_id, port, tg)
            continue
        task.targets.append((tg, target_id, port))
        if svc is not None:
            plane.note(svc, "registered", task, tg)
    if task.targets:
        _poll_health(plane, arn, epoch)
    else:
        # wake the scheduler when the task starts to count as healthy (§3.2)
        plane.runtime.call_later(plane.config.task_healthy_after_seconds, lambda: None)


def _poll_health(plane: "EcsState", arn: str, epoch: int) -> None:
    """Keep reconcile passes coming while a load-balanced task waits to turn healthy."""
    task = plane.tasks.get(arn)
    if task is None or task.stop_epoch != epoch or not task.live \
            or task.last_status != "RUNNING":
        return
    if target_states(plane, task) and all(s == "healthy" for s in target_states(plane, task)):
        return
    plane.runtime.call_later(plane.config.lb_health_poll_seconds,
                             lambda: _poll_health(plane, arn, epoch))


def target_for(task: Task, lb: dict) -> tuple[str, Optional[int]]:
    """What ECS registers for a task: (instance id, host port), or for an awsvpc task
    (its ENI's private IP, the container port) in an ``ip`` target group."""
    if task.eni is not None:
        port = lb.get("containerPort")
        return task.eni.private_ip, int(port) if port is not None else None
    return task.ec2_instance_id, host_port_for(task, lb.get("containerName"),
                                               lb.get("containerPort"))


def host_port_for(task: Task, container_name: Optional[str],
                  container_port: Optional[int]) -> Optional[int]:
    for c in task.containers:
        if container_name and c.name != container_name:
            continue
        for b in c.network_bindings:
            if container_port is None or int(b["containerPort"]) == int(container_port):
                return int(b["hostPort"])
    return None


def target_states(plane: "EcsState", task: Task) -> list[str]:
    states = []
    for tg, instance_id, port in task.targets:
        try:
            states.append(plane.ports.load_balancers.target_health(tg, instance_id, port))
        except Exception:
            LOG.exception("target_health of %s:%s in %s failed", instance_id, port, tg)
            states.append("unavailable")
    return states


# --------------------------------------------------------------------------- stop
def stop(plane: "EcsState", task: Task, reason: str, stop_code: str, *,
         scheduler: bool = False, immediate: bool = False) -> bool:
    """Stop a task. Returns False if it was already stopping.

    ``immediate``: the host is gone (terminated, stopped, forced deregistration): the task
    is STOPPED now and its targets are deregistered without waiting.
    """
    if task.last_status == "STOPPED":
        return False
    first = task.desired_status != "STOPPED"
    if first:
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = stop_code
        task.scheduler_stop = scheduler
        task.stop_epoch += 1
        plane.task_changed(task)    # desiredStatus STOPPED, lastStatus unchanged
    if immediate:
        _finalize(plane, task, graceful=False)
        return first
    if not first:
        return False
    epoch = task.stop_epoch
    arn = task.arn
    svc = plane.services.get((task.cluster_name, task.service_name)) \
        if task.service_name else None
    if scheduler and svc is not None and not task.targets:
        plane.note(svc, "stopped", task)
    if task.last_status == "PENDING":
        plane.runtime.call_later(0, lambda: _finalize_timer(plane, arn, epoch, False))
    else:
        plane.runtime.call_later(0, lambda: _deactivate(plane, arn, epoch))
    return True


def _deactivate(plane: "EcsState", arn: str, epoch: int) -> None:
    task = plane.tasks.get(arn)
    if task is None or task.stop_epoch != epoch or task.last_status != "RUNNING":
        return
    if not task.targets:
        _begin_stopping(plane, arn, epoch)
        return
    svc = plane.services.get((task.cluster_name, task.service_name)) \
        if task.service_name else None
    delay = 0.0
    for tg, instance_id, port in task.targets:
        try:
            delay = max(delay, float(plane.ports.load_balancers.deregister_target(
                tg, instance_id, port) or 0))
        except Exception:
            LOG.exception("deregistering %s:%s from %s failed", instance_id, port, tg)
        if svc is not None:
            plane.note(svc, "deregistered", task, tg)
    if svc is not None:
        plane.note(svc, "draining", task)
    task.targets_deregistered = True
    task.last_status = "DEACTIVATING"
    plane.task_changed(task)
    plane.runtime.call_later(delay, lambda: _begin_stopping(plane, arn, epoch))


def _begin_stopping(plane: "EcsState", arn: str, epoch: int) -> None:
    task = plane.tasks.get(arn)
    if task is None or task.stop_epoch != epoch or task.last_status not in (
            "RUNNING", "DEACTIVATING"):
        return
    task.last_status = "STOPPING"
    task.stopping_at = plane.now()
    plane.task_changed(task)
    svc = plane.services.get((task.cluster_name, task.service_name)) \
        if task.service_name else None
    if task.scheduler_stop and task.targets and svc is not None:
        plane.note(svc, "stopped", task)
    plane.runtime.call_later(plane.config.task_stopping_seconds,
                             lambda: _finalize_timer(plane, arn, epoch, True))


def _finalize_timer(plane: "EcsState", arn: str, epoch: int, graceful: bool) -> None:
    task = plane.tasks.get(arn)
    if task is None or task.stop_epoch != epoch:
        return
    _finalize(plane, task, graceful)


def _finalize(plane: "EcsState", task: Task, graceful: bool) -> None:
    if task.last_status == "STOPPED":
        return
    now = plane.now()
    if task.targets and not task.targets_deregistered:
        for tg, instance_id, port in task.targets:
            try:
                plane.ports.load_balancers.deregister_target(tg, instance_id, port)
            except Exception:
                LOG.exception("deregistering %s:%s from %s failed", instance_id, port, tg)
        task.targets_deregistered = True
    was_running = task.started_at is not None
    task.last_status = "STOPPED"
    if task.stopping_at is None:
        task.stopping_at = now
    task.execution_stopped_at = now
    task.stopped_at = now
    for c in task.containers:
        c.last_status = "STOPPED"
        if graceful and was_running:
            c.exit_code = 0
    _release(plane, task)
    plane.task_changed(task)
    arn = task.arn
    plane.runtime.call_later(plane.config.stopped_task_retention_seconds,
                             lambda: _forget(plane, arn))


def _forget(plane: "EcsState", arn: str) -> None:
    task = plane.tasks.get(arn)
    if task is not None and task.last_status == "STOPPED":
        plane.forget_task(arn)


# ---------------------------------------------------------------------- health
CONTAINER_HEALTH_FAILED = "Task failed container health checks"


def has_health_check(task: Task) -> bool:
    """Whether any container of the task's definition has a health check."""
    return any(c.get("healthCheck") for c in task.task_definition.containers)


def health_checks_failing(plane: "EcsState", task: Task) -> bool:
    """Whether the task's container health checks fail now (``fail_container_health_checks``)."""
    until = task.health_checks_fail_until
    return until is not None and plane.now() < until and has_health_check(task)


def fail_container_health_checks(plane: "EcsState", task: Task, seconds: float) -> None:
    """Test control: the task's container health checks fail for ``seconds`` (a flapping
    container). The task's ``healthStatus`` (and its checked containers') is UNHEALTHY meanwhile
    and it does not count as healthy; once the service's health check grace period is over the
    scheduler replaces it as ECS replaces a task whose essential container is UNHEALTHY
    (stoppedReason ``Task failed container health checks``). If it is still running when the
    checks pass again (scale-in protection keeps it), it turns HEALTHY again. A task without a
    container health check is not affected (ValueError)."""
    if not has_health_check(task):
        raise ValueError(f"task {task.id} has no container health check")
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    task.health_checks_fail_until = plane.now() + seconds
    plane.runtime.call_later(seconds, lambda: None)     # a reconcile pass when they pass again


def is_healthy(plane: "EcsState", task: Task) -> bool:
    """§3.2: RUNNING and either every target healthy, or RUNNING long enough; never while
    its container health checks fail."""
    if not task.live or task.last_status != "RUNNING" or task.started_at is None:
        return False
    if health_checks_failing(plane, task):
        return False
    if task.targets:
        states = target_states(plane, task)
        return bool(states) and all(s == "healthy" for s in states)
    return plane.now() - task.started_at >= plane.config.task_healthy_after_seconds
