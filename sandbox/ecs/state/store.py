"""EcsState: the store of the sandbox's ECS: registries, look-ups by name or ARN, ids, events.

Layer: state, the floor every controller stands on. It imports only the data modules below it
(``models``, ``errors``, ``ports``) and the rest of ``state/`` (the records, the event
envelopes); nothing here decides anything. The controllers (``sandbox/ecs/controllers``) read
and write it, and ``plane.EcsControlPlane`` adds the reconcile pass that runs them in order.

It sits on the runtime (clock, lock, timers) and the config, and reaches the rest of AWS only
through the ports it is given (``sandbox/ecs/ports.py``).
"""

from __future__ import annotations

import collections
import logging
import uuid
from typing import TYPE_CHECKING, Callable, Iterable, Optional

from .. import errors, revisions
from ..models import Cluster, ContainerInstance, Service, Task, TaskDefinition
from ..ports import Ports
from . import events
from .records import AgentState, CapacityState, Operation

if TYPE_CHECKING:
    from ...config import SandboxConfig
    from ...runtime import Runtime

LOG = logging.getLogger("sandbox.ecs")


class EcsState:
    def __init__(self, config: "SandboxConfig", runtime: "Runtime",
                 ports: Optional[Ports] = None,
                 endpoint: Callable[[], str] = lambda: ""):
        """``endpoint`` answers DiscoverPollEndpoint: the server's URL, known once it listens."""
        self.config = config
        self.runtime = runtime
        self.ports = ports or Ports()
        self.endpoint = endpoint
        self.clusters: dict[str, Cluster] = {}
        self.task_definitions: dict[str, list[TaskDefinition]] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.tasks: dict[str, Task] = {}
        self.cluster_tasks: dict[str, dict[str, Task]] = collections.defaultdict(dict)
        self.container_instances: dict[str, ContainerInstance] = {}
        self.account_settings: dict[str, dict[str, str]] = {}   # principal (or "default")
        self.agent = AgentState()
        self.capacity = CapacityState()   # capacity providers (§1.5)
        # Every event handed to EventBridge, newest last (tests and debugging read this).
        self.emitted: collections.deque = collections.deque(maxlen=5000)
        # Service event messages collected during a pass: service arn -> [(kind, tg), ids]
        self._notes: dict[str, dict[tuple[str, str], list[str]]] = {}
        # ECS's own AZ rebalancing in progress: service arn -> its Operation
        self.az_rebalancing: dict[str, Operation] = {}
        self.az_rebalancing_wake: dict[str, float] = {}   # service arn -> next check time

    # ------------------------------------------------------------------ identity
    @property
    def account(self) -> str:
        return self.config.account_id

    @property
    def region(self) -> str:
        return self.config.region

    def now(self) -> float:
        return self.runtime.now()

    def new_id(self) -> str:
        return f"{self.runtime.rng.getrandbits(128):032x}"

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.runtime.rng.getrandbits(128), version=4))

    def new_deployment_id(self) -> str:
        return f"ecs-svc/{self.runtime.rng.randrange(10 ** 18, 10 ** 19 - 1)}"

    def arn(self, resource: str) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:{resource}"

    @property
    def principal(self) -> str:
        return f"arn:aws:iam::{self.account}:root"

    def setting_enabled(self, name: str) -> bool:
        """An account setting is ``enabled`` for the caller (the principal that registers the
        sandbox's instances too): its own value, else the account default (API
        PutAccountSetting / PutAccountSettingDefault); AWS's defaults are all off for the
        settings asked here (awsvpcTrunking)."""
        own = self.account_settings.get(self.principal, {})
        value = own.get(name, self.account_settings.get("default", {}).get(name, ""))
        return value == "enabled"

    # ------------------------------------------------------------------ lookups
    def cluster_name(self, ref: Optional[str]) -> str:
        ref = ref or "default"
        if ref.startswith("arn:"):
            return ref.split(":cluster/", 1)[-1]
        return ref

    def get_cluster(self, ref: Optional[str], active: bool = True) -> Cluster:
        cluster = self.clusters.get(self.cluster_name(ref))
        if cluster is None or (active and cluster.status != "ACTIVE"):
            raise errors.cluster_not_found()
        return cluster

    def get_service(self, cluster: Cluster, ref: str) -> Service:
        svc = self.find_service(cluster, ref)
        if svc is None:
            raise errors.service_not_found()
        return svc

    def find_service(self, cluster: Cluster, ref: str) -> Optional[Service]:
        if not ref:
            return None
        name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
        return self.services.get((cluster.name, name))

    def find_task(self, cluster: Cluster, ref: str) -> Optional[Task]:
        if not ref:
            return None
        return self.cluster_tasks.get(cluster.name, {}).get(
            ref if ref.startswith("arn:") else self.arn(f"task/{cluster.name}/{ref}"))

    def find_container_instance(self, cluster: Cluster, ref: str) -> Optional[ContainerInstance]:
        if not ref:
            return None
        arn = ref if ref.startswith("arn:") else self.arn(
            f"container-instance/{cluster.name}/{ref}")
        ci = self.container_instances.get(arn)
        return ci if ci is not None and ci.cluster_name == cluster.name else None

    def resolve_task_definition(self, ref: Optional[str]) -> Optional[TaskDefinition]:
        """family (latest ACTIVE revision), family:revision, or the ARN."""
        if not ref:
            return None
        if ref.startswith("arn:"):
            ref = ref.split(":task-definition/", 1)[-1]
        family, _, rev = ref.partition(":")
        revisions = self.task_definitions.get(family) or []
        if rev:
            try:
                n = int(rev)
            except ValueError:
                return None
            if 1 <= n <= len(revisions) and revisions[n - 1].status != "DELETE_IN_PROGRESS":
                return revisions[n - 1]
            return None
        active = [td for td in revisions if td.status == "ACTIVE"]
        return active[-1] if active else None

    def instances_in(self, cluster_name: str) -> Iterable[ContainerInstance]:
        return (ci for ci in self.container_instances.values()
                if ci.cluster_name == cluster_name)

    def services_in(self, cluster_name: str) -> Iterable[Service]:
        return (s for (c, _), s in self.services.items() if c == cluster_name)

    def cluster_stats(self, cluster: Cluster) -> dict:
        tasks = self.cluster_tasks.get(cluster.name, {}).values()
        return {
            "instances": sum(1 for ci in self.instances_in(cluster.name)
                             if ci.status in ("ACTIVE", "DRAINING")),
            "running": sum(1 for t in tasks if t.last_status == "RUNNING"),
            "pending": sum(1 for t in tasks if t.last_status == "PENDING"),
            "services": sum(1 for s in self.services_in(cluster.name) if s.status == "ACTIVE"),
            "draining_services": sum(1 for s in self.services_in(cluster.name)
                                     if s.status == "DRAINING"),
        }

    def service_counts(self, svc: Service) -> dict:
        per: dict[str, dict] = {d.id: {"running": 0, "pending": 0} for d in svc.deployments}
        running = pending = 0
        for t in svc.tasks.values():
            if t.last_status == "RUNNING":
                running += 1
                if t.deployment_id in per:
                    per[t.deployment_id]["running"] += 1
            elif t.last_status == "PENDING":
                pending += 1
                if t.deployment_id in per:
                    per[t.deployment_id]["pending"] += 1
        return {"running": running, "pending": pending, "deployments": per}

    def az_rebalancing_surplus(self, svc: Service) -> int:
        """Tasks above desiredCount the scheduler must leave alone: the tasks ECS's AZ
        rebalancing started in the short AZs that are still live (stopping them would defeat
        start-first). The scheduler asks here, not the azrebalance controller."""
        op = self.az_rebalancing.get(svc.arn)
        if op is None:
            return 0
        return sum(1 for arn in op.started
                   if (t := svc.tasks.get(arn)) is not None and t.live)

    def describe_service(self, svc: Service, include: set[str] = frozenset()) -> dict:
        counts = self.service_counts(svc)
        out = svc.to_api(counts, include=include, max_events=self.config.max_service_events)
        if svc.history:       # DescribeServices' service deployment view (docs/ecs-facts.md §1.8)
            out["currentServiceDeployment"] = revisions.deployment_arn(svc, svc.history[0])
            out["currentServiceRevisions"] = revisions.current_revisions(
                svc, counts["deployments"])
        return out

    # ---------------------------------------------------------------- registries
    def add_cluster(self, name: str, **fields) -> Cluster:
        """A new ACTIVE cluster record (CreateCluster, or the agent creating ``default``)."""
        cluster = Cluster(name=name, arn=self.arn(f"cluster/{name}"), created_at=self.now(),
                          **fields)
        self.clusters.pop(name, None)
        self.clusters[name] = cluster
        return cluster

    def add_task(self, task: Task, service: Optional[Service], ci: ContainerInstance) -> None:
        self.tasks[task.arn] = task
        self.cluster_tasks[task.cluster_name][task.arn] = task
        ci.tasks[task.arn] = task
        if service is not None:
            service.tasks[task.arn] = task

    def forget_task(self, arn: str) -> None:
        task = self.tasks.pop(arn, None)
        if task is None:
            return
        self.cluster_tasks.get(task.cluster_name, {}).pop(arn, None)
        if task.service_name:
            svc = self.services.get((task.cluster_name, task.service_name))
            if svc is not None:
                svc.tasks.pop(arn, None)

    # ------------------------------------------------------------------- events
    def emit(self, event: dict) -> None:
        self.emitted.append(event)
        try:
            self.ports.events.put(event)
        except Exception:  # delivery trouble must never break the control plane
            LOG.exception("EventBridge delivery of %s failed", event.get("detail-type"))

    def task_changed(self, task: Task) -> None:
        """The task changed in a way that produces an event: version+1 and emit."""
        task.version += 1
        task.updated_at = self.now()
        self.emit(events.task_state_change(self, task))

    def instance_changed(self, ci: ContainerInstance) -> None:
        ci.version += 1
        ci.updated_at = self.now()
        self.emit(events.container_instance_state_change(self, ci))

    def service_event(self, svc: Service, message: str, key: Optional[str] = None) -> bool:
        """Add a service event (newest first). With ``key``, a message equal to the last one
        under that key is dropped until ``service_event_repeat_seconds`` have passed, as the
        console drops duplicates. Returns whether it was added."""
        now = self.now()
        if key is not None:
            last = svc.last_messages.get(key)
            if last and last[0] == message and \
                    now - last[1] < self.config.service_event_repeat_seconds:
                return False
            svc.last_messages[key] = (message, now)
        svc.events.insert(0, {"id": self.new_uuid(), "createdAt": now, "message": message})
        del svc.events[self.config.max_service_events:]
        return True

    def note(self, svc: Service, kind: str, task: Task, target_group: str = "") -> None:
        """Collect a message part; ``flush_notes`` writes one event per (kind, target group)."""
        self._notes.setdefault(svc.arn, {}).setdefault((kind, target_group), []).append(
            task.id)

    def flush_notes(self) -> None:
        notes, self._notes = self._notes, {}
        for svc_arn, parts in notes.items():
            svc = next((s for s in self.services.values() if s.arn == svc_arn), None)
            if svc is None:
                continue
            for (kind, tg), ids in parts.items():
                n = len(ids)
                if kind == "registered":
                    msg = f"(service {svc.name}) registered {n} targets in (target-group {tg})"
                elif kind == "deregistered":
                    msg = f"(service {svc.name}) deregistered {n} targets in (target-group {tg})"
                elif kind == "draining":
                    msg = f"(service {svc.name}) has begun draining connections on {n} tasks."
                elif kind == "stopped":
                    msg = (f"(service {svc.name}) has stopped {n} running tasks: "
                           + " ".join(f"(task {i})" for i in ids) + ".")
                else:
                    continue
                self.service_event(svc, msg)

    def summary(self) -> dict:
        statuses = collections.Counter(t.last_status for t in self.tasks.values())
        instances = collections.Counter(ci.status for ci in self.container_instances.values())
        return {
            "clusters": sum(1 for c in self.clusters.values() if c.status == "ACTIVE"),
            "services": sum(1 for s in self.services.values() if s.status == "ACTIVE"),
            "tasks": dict(sorted(statuses.items())),
            "containerInstances": dict(sorted(instances.items())),
            "pendingRegistrations": len(self.agent.pending),
            "events": len(self.emitted),
        }
