"""DataPlane: keeps task servers and ALB listeners in step with the emulated world.

It sits above the ECS control plane and the emulated AWS services and below the server: it
reads tasks from the ``EcsControlPlane`` it is given and load balancers through a
``LoadBalancerView`` (``sandbox/aws/ports.py``'s ``MotoLoadBalancers`` in the sandbox), and
registers its sync pass on the runtime. It never reaches the server.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Optional, Protocol

from .alb import AlbProxy, forward
from .tasks import TaskServer

if TYPE_CHECKING:
    from ..ecs.plane import EcsControlPlane
    from ..runtime import Runtime

LOG = logging.getLogger("sandbox.traffic")
SERVING = ("RUNNING", "DEACTIVATING")     # DEACTIVATING: its target drains, the task still runs


def _endpoints(task) -> list[tuple[str, int]]:
    """The (target id, port) pairs a load balancer reaches the task on: (instance id, host
    port) for bridge and host tasks, (ENI private IP, container port) for awsvpc tasks."""
    if task.eni is not None:
        return [(task.eni.private_ip, int(m["containerPort"]))
                for _, m in task.task_definition.port_mappings() if m.get("containerPort")]
    return [(task.ec2_instance_id, int(b["hostPort"]))
            for c in task.containers for b in c.network_bindings if b.get("hostPort")]


def _has_port_mapping(task) -> bool:
    return bool(_endpoints(task))


class LoadBalancerView(Protocol):
    """What the data plane reads of Elastic Load Balancing."""

    def application_load_balancers(self) -> dict[str, tuple[str, str]]:
        """arn -> (DNS name, target group its HTTP listener forwards to)."""

    def forward_group_of(self, lb_arn: str) -> Optional[str]:
        """The target group the load balancer forwards to, None if none (or no such LB)."""

    def targets(self, target_group_arn: str) -> list[tuple[str, int, str]]:
        """Every registered (id, port, state) of a group, as DescribeTargetHealth reports."""


class DataPlane:
    def __init__(self, runtime: "Runtime", ecs: "EcsControlPlane",
                 load_balancers: LoadBalancerView):
        self.runtime = runtime
        self.ecs = ecs
        self.load_balancers = load_balancers
        self.tasks: dict[str, TaskServer] = {}
        self.albs: dict[str, AlbProxy] = {}            # load balancer arn -> proxy
        self._ports: dict[tuple[str, int], int] = {}  # (instance id or IP, port) -> local port
        self._lock = threading.Lock()                 # guards the maps for proxy threads
        self._running = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._running = True
        self.runtime.on_tick(self.sync)

    def stop(self) -> None:
        self._running = False
        with self._lock:
            servers = list(self.tasks.values()) + list(self.albs.values())
            self.tasks.clear()
            self.albs.clear()
            self._ports.clear()
        for server in servers:
            server.close()

    # ------------------------------------------------------------------ reconcile
    def sync(self) -> None:
        """Under the world lock: start and stop servers to match tasks and load balancers."""
        if not self._running:
            return
        live = {arn: t for arn, t in self.ecs.tasks.items()
                if t.last_status in SERVING and _has_port_mapping(t)}
        gone = [arn for arn in self.tasks if arn not in live]
        for arn in gone:
            self._stop_task(arn)
        for arn, task in live.items():
            if arn not in self.tasks:
                self._start_task(task)
        self._sync_albs()

    def _start_task(self, task) -> None:
        try:
            server = TaskServer(task.id, task.ec2_instance_id, task.availability_zone or "")
        except OSError:
            LOG.exception("cannot serve task %s", task.id)
            return
        with self._lock:
            self.tasks[task.arn] = server
            for endpoint in _endpoints(task):
                self._ports[endpoint] = server.port

    def _stop_task(self, arn: str) -> None:
        with self._lock:
            server = self.tasks.pop(arn)
            self._ports = {k: v for k, v in self._ports.items() if v != server.port}
        server.close()

    def _sync_albs(self) -> None:
        wanted = self.load_balancers.application_load_balancers()
        for arn in [a for a in self.albs if a not in wanted]:
            with self._lock:
                proxy = self.albs.pop(arn)
            proxy.close()
        for arn, (dns_name, group_arn) in wanted.items():
            if arn not in self.albs:
                proxy = AlbProxy(dns_name, self._candidates_for(arn))
                with self._lock:
                    self.albs[arn] = proxy

    def _candidates_for(self, lb_arn: str):
        def candidates() -> list[int]:
            return self.candidates(lb_arn)
        return candidates

    # ------------------------------------------------------------------ routing
    def candidates(self, lb_arn: str) -> list[int]:
        """Local ports to route to: healthy targets; else (fail open) every registered target
        that is not draining; never a draining, unused or unserved one."""
        with self.runtime.lock:   # a snapshot of health; the forwarding runs unlocked
            group_arn = self.load_balancers.forward_group_of(lb_arn)
            if not group_arn:
                return []
            states = self.load_balancers.targets(group_arn)
        with self._lock:
            served = [(state, self._ports.get((target_id, port)))
                      for target_id, port, state in states]
        healthy = [p for state, p in served if state == "healthy" and p]
        if healthy:
            return healthy
        return [p for state, p in served if state in ("initial", "unhealthy") and p]

    def route_host(self, host: str, method: str, path: str) -> tuple[int, dict, bytes] | None:
        """A request to the main port for a load balancer's DNS name, or None if not one."""
        name = host.split(":", 1)[0].lower()
        with self._lock:
            proxy = next((p for p in self.albs.values() if p.dns_name.lower() == name), None)
        if proxy is None:
            return None
        return forward(proxy.pick(), method, path)

    def describe(self) -> dict:
        with self._lock:
            return {"load_balancers": {p.dns_name: p.url for p in self.albs.values()},
                    "tasks": {arn: s.url for arn, s in self.tasks.items()}}

