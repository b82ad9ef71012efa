"""Turn one step of a plan into ECS calls, safely.

One place decides how many tasks may be disturbed (the evictor idea): ``Budget`` holds the
cluster-wide ``max_moves`` and every mode draws from it, and each service's own floor
(``ceil(desired * minimumHealthyPercent / 100)`` running tasks) is checked before a stop.

Modes, per service with planned moves:

* ``stop``: stop surplus tasks on over-target instances, at most ``running - floor`` at once;
  the ECS scheduler starts the replacements on the emptiest eligible instances (spread).
* ``surge``: for services whose floor leaves no spare (minimumHealthyPercent 100): record the
  user's desiredCount in a service tag, raise desiredCount by what maximumPercent allows, wait
  until the new tasks run, protect the tasks that stay with ECS task scale-in protection (short
  expiry: a crash heals itself), lower desiredCount back so ECS scales in the unprotected
  surplus, then remove only the protection this step added and the tag.
* ``redeploy``: forceNewDeployment of each out-of-balance service (the reference
  architecture's approach, kept for comparison).
* ``auto``: ``stop`` when the service has a spare, else ``surge`` when maximumPercent allows,
  else a skip with the reason.

Level-triggered healing: before anything else a step restores the desiredCount of any service
whose surge tag is older than a surge can take (a run that crashed mid-surge). Protection the
crashed run added expires by itself after ``protection_minutes``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .model import ClusterSnapshot, EngineError, Service, Task
from .planner import Move, Plan
from .snapshot import CountingClient, chunks

SURGE_TAG = "taskspread:surge"
STRATEGIES = ("auto", "stop", "surge", "redeploy")
MAX_TASKS_PER_PROTECTION_CALL = 10
STOP_REASON = "taskspread.ecs rebalancing: moving a task from an over-target instance"


class SettleTimeout(EngineError):
    """A service did not settle within the time allowed."""


@dataclass(frozen=True, slots=True)
class ExecOptions:
    strategy: str = "auto"
    protection_minutes: int = 10
    settle_timeout: float = 600.0
    poll_interval: float = 5.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if not 1 <= self.protection_minutes <= 2880:
            raise ValueError("protection_minutes must be between 1 and 2880")


@dataclass(slots=True)
class Action:
    """What a step did to one service."""

    service: str
    mode: str
    moves: list[Move] = field(default_factory=list)
    stopped_tasks: list[str] = field(default_factory=list)
    detail: str = ""
    error: str = ""         # set when the action was abandoned (what was undone is in detail)

    def to_dict(self) -> dict:
        return {"service": self.service, "mode": self.mode, "detail": self.detail,
                "moves": [m.to_dict() for m in self.moves],
                "stopped_tasks": list(self.stopped_tasks), "error": self.error}


@dataclass(slots=True)
class StepResult:
    actions: list[Action] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions or self.healed)

    @property
    def moves(self) -> list[Move]:
        return [m for a in self.actions for m in a.moves]

    @property
    def errors(self) -> list[str]:
        return [f"{a.service}: {a.error}" for a in self.actions if a.error]


def floor_running(service: Service) -> int:
    """The fewest RUNNING tasks ECS's minimumHealthyPercent allows."""
    return math.ceil(service.desired * service.min_healthy_percent / 100)


def surge_room(service: Service) -> int:
    """Extra tasks maximumPercent allows above desiredCount."""
    return max(0, math.floor(service.desired * service.max_percent / 100) - service.desired)


def spare(service: Service, tasks: Sequence[Task]) -> int:
    running = sum(1 for t in tasks if t.last_status == "RUNNING")
    return max(0, running - floor_running(service))


class Executor:
    """Executes plans against one cluster through a counting ECS client."""

    def __init__(self, api: CountingClient, cluster_arn: str, options: ExecOptions | None = None,
                 sleep: Callable[[float], Any] = time.sleep,
                 clock: Callable[[], float] = time.time, elb: CountingClient | None = None):
        """``elb``: an ELBv2 client; with it, tasks of load-balanced services count as healthy
        only once their targets are healthy (ECS's own rule for minimumHealthyPercent)."""
        self.api, self.cluster, self.elb = api, cluster_arn, elb
        self.options = options or ExecOptions()
        self.sleep, self.clock = sleep, clock

    # ------------------------------------------------------------------------ one step
    def step(self, snapshot: ClusterSnapshot, plan: Plan) -> StepResult:
        result = StepResult()
        result.healed = self.heal(snapshot)
        if result.healed:
            return result           # the world changed; the next step re-reads it
        by_service: dict[str, list[Move]] = {}
        for move in plan.moves:
            by_service.setdefault(move.service, []).append(move)
        for name, moves in by_service.items():
            service = snapshot.services[name]
            tasks = snapshot.tasks.get(name, ())
            action = self._service_step(service, tasks, moves, result)
            if action is not None:
                result.actions.append(action)
        return result

    def _service_step(self, service: Service, tasks: Sequence[Task], moves: list[Move],
                      result: StepResult) -> Action | None:
        mode = self._mode(service, tasks)
        if mode == "stop":
            return self.stop(service, tasks, moves)
        if mode == "surge":
            return self.surge(service, tasks, moves)
        if mode == "redeploy":
            return self.redeploy(service, moves)
        result.skipped.append({"service": service.name, "code": "no_disruption_budget",
                               "message": mode})
        return None

    def _mode(self, service: Service, tasks: Sequence[Task]) -> str:
        """The mode to use, or the reason no mode can move a task of this service."""
        wanted = self.options.strategy
        if wanted == "redeploy":
            return "redeploy"
        has_spare, has_room = spare(service, tasks) > 0, surge_room(service) > 0
        if wanted in ("auto", "stop") and has_spare:
            return "stop"
        if wanted in ("auto", "surge") and has_room:
            return "surge"
        floor = floor_running(service)
        if wanted == "stop":
            return (f"strategy stop needs a spare task: {service.running} running and "
                    f"minimumHealthyPercent {service.min_healthy_percent} keeps {floor}")
        return (f"minimumHealthyPercent {service.min_healthy_percent} keeps all {floor} tasks "
                f"and maximumPercent {service.max_percent} leaves no room to start one more")

    # -------------------------------------------------------------------------- modes
    def stop(self, service: Service, tasks: Sequence[Task], moves: list[Move]) -> Action:
        allowed = spare(service, tasks)
        if service.target_groups and self.elb is not None:
            allowed = min(allowed, max(0, self.healthy_targets(service.target_groups)
                                       - floor_running(service)))
        chosen = moves[:allowed]
        for move in chosen:
            self.api.call("stop_task", cluster=self.cluster, task=move.task_arn,
                          reason=STOP_REASON)
        return Action(service.name, "stop", list(chosen), [m.task_arn for m in chosen],
                      f"stopped {len(chosen)} task(s); ECS places the replacements")

    def redeploy(self, service: Service, moves: list[Move]) -> Action:
        self.api.call("update_service", cluster=self.cluster, service=service.name,
                      forceNewDeployment=True)
        return Action(service.name, "redeploy", list(moves), [],
                      "forced a new deployment (every task of the service restarts)")

    def surge(self, service: Service, tasks: Sequence[Task], moves: list[Move]) -> Action:
        chosen = moves[:surge_room(service)]
        leaving = {m.task_arn for m in chosen}
        raised = service.desired + len(chosen)
        self._tag_surge(service)
        added: list[str] = []
        lowered = False
        abandoned = ""
        try:
            self._set_desired(service, raised)
            self.wait_running(service.name, raised)
            added = self.protect(a for a in self.live_tasks(service.name) if a not in leaving)
            self._set_desired(service, service.desired)
            lowered = True
            self.wait_gone(service.name, leaving, service.desired)
        except SettleTimeout as err:
            abandoned = str(err)
        finally:
            # Whatever happened above, the user's desiredCount comes back and only the
            # protection this step added is removed.
            if not lowered:
                self._set_desired(service, service.desired)
            self.unprotect(added)
            self._untag_surge(service)
        if abandoned:
            return Action(service.name, "surge", [], [],
                          f"desiredCount {service.desired} -> {raised}, abandoned, restored to "
                          f"{service.desired}; the protection it added was removed",
                          error=abandoned)
        return Action(service.name, "surge", list(chosen), sorted(leaving),
                      f"desiredCount {service.desired} -> {raised} -> {service.desired}; "
                      f"{len(added)} task(s) protected during scale-in")

    # ---------------------------------------------------------------------- healing
    def heal(self, snapshot: ClusterSnapshot) -> list[str]:
        """Restore services a crashed surge left with a raised desiredCount."""
        healed = []
        for service in snapshot.services.values():
            marker = service.tags.get(SURGE_TAG)
            if marker is None:
                continue
            original, started = parse_surge_tag(marker)
            if self.clock() - started < self.options.settle_timeout * 2:
                continue            # another run's surge may still be in flight
            if original is not None and service.desired != original:
                self._set_desired(service, original)
            self._untag_surge(service)
            healed.append(service.name)
        return healed

    # ------------------------------------------------------------------ ECS helpers
    def _set_desired(self, service: Service, count: int) -> None:
        self.api.call("update_service", cluster=self.cluster, service=service.name,
                      desiredCount=count)

    def _tag_surge(self, service: Service) -> None:
        self.api.call("tag_resource", resourceArn=service.arn,
                      tags=[{"key": SURGE_TAG, "value": f"{service.desired}@{self.clock():.0f}"}])

    def _untag_surge(self, service: Service) -> None:
        self.api.call("untag_resource", resourceArn=service.arn, tagKeys=[SURGE_TAG])

    def protect(self, task_arns: Iterable[str]) -> list[str]:
        """Protect tasks not already protected; return the ones this call protected."""
        arns = list(task_arns)
        already: set[str] = set()
        for batch in chunks(arns, MAX_TASKS_PER_PROTECTION_CALL):
            resp = self.api.call("get_task_protection", cluster=self.cluster, tasks=list(batch))
            already.update(p["taskArn"] for p in resp.get("protectedTasks", [])
                           if p.get("protectionEnabled"))
        todo = [a for a in arns if a not in already]
        for batch in chunks(todo, MAX_TASKS_PER_PROTECTION_CALL):
            self.api.call("update_task_protection", cluster=self.cluster, tasks=list(batch),
                          protectionEnabled=True,
                          expiresInMinutes=self.options.protection_minutes)
        return todo

    def unprotect(self, task_arns: Sequence[str]) -> None:
        for batch in chunks(list(task_arns), MAX_TASKS_PER_PROTECTION_CALL):
            self.api.call("update_task_protection", cluster=self.cluster, tasks=list(batch),
                          protectionEnabled=False)

    def live_tasks(self, service: str) -> list[str]:
        arns: list[str] = []
        for page in self.api.pages("list_tasks", cluster=self.cluster, serviceName=service,
                                   desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        return arns

    def describe_service(self, name: str) -> dict:
        resp = self.api.call("describe_services", cluster=self.cluster, services=[name])
        if not resp.get("services"):
            raise EngineError(f"service {name} disappeared during the step")
        return resp["services"][0]

    def _poll(self, done: Callable[[], bool], what: str) -> None:
        deadline = self.clock() + self.options.settle_timeout
        while not done():
            if self.clock() >= deadline:
                raise SettleTimeout(f"{what} within {self.options.settle_timeout:.0f} s")
            self.sleep(self.options.poll_interval)

    def healthy_targets(self, target_groups: Sequence[str]) -> int:
        """Healthy targets of the service: the smallest count over its target groups."""
        counts = []
        for arn in target_groups:
            resp = self.elb.call("describe_target_health", TargetGroupArn=arn)
            counts.append(sum(1 for d in resp.get("TargetHealthDescriptions", [])
                              if d.get("TargetHealth", {}).get("State") == "healthy"))
        return min(counts) if counts else 0

    def _healthy_enough(self, doc: dict, count: int) -> bool:
        groups = [lb["targetGroupArn"] for lb in doc.get("loadBalancers", [])
                  if lb.get("targetGroupArn")]
        return not groups or self.elb is None or self.healthy_targets(groups) >= count

    def wait_running(self, service: str, count: int) -> None:
        def done() -> bool:
            doc = self.describe_service(service)
            return (doc.get("runningCount", 0) >= count and doc.get("pendingCount", 0) == 0
                    and self._healthy_enough(doc, count))

        self._poll(done, f"service {service} did not reach {count} running tasks")

    def wait_gone(self, service: str, leaving: set[str], desired: int) -> None:
        def done() -> bool:
            live = set(self.live_tasks(service))
            return not (live & leaving) and len(live) <= desired

        self._poll(done, f"service {service} did not scale in its surplus tasks")

    def wait_settled(self, services: Iterable[str], stopped: Iterable[str] = ()) -> None:
        """Every service steady (one COMPLETED deployment, running == desired, nothing
        pending) and every task this run stopped is STOPPED."""
        names, stopped = sorted(set(services)), sorted(set(stopped))

        def done() -> bool:
            for batch in chunks(names, 10):
                resp = self.api.call("describe_services", cluster=self.cluster,
                                     services=list(batch))
                if not all(service_settled(doc) and self._healthy_enough(doc, doc["desiredCount"])
                           for doc in resp.get("services", [])):
                    return False
            for batch in chunks(stopped, 100):
                resp = self.api.call("describe_tasks", cluster=self.cluster, tasks=list(batch))
                if any(t.get("lastStatus") != "STOPPED" for t in resp.get("tasks", [])):
                    return False
            return True

        self._poll(done, f"services {', '.join(names)} did not settle")


def service_settled(doc: dict) -> bool:
    deployments = doc.get("deployments", [])
    rollout = deployments[0].get("rolloutState", "COMPLETED") if deployments else "COMPLETED"
    return (len(deployments) <= 1 and rollout == "COMPLETED"
            and doc.get("runningCount") == doc.get("desiredCount")
            and doc.get("pendingCount", 0) == 0)


def parse_surge_tag(value: str) -> tuple[int | None, float]:
    """``"<desired>@<epoch>"`` -> (desired, epoch); unreadable parts give (None, 0)."""
    count, _sep, started = value.partition("@")
    try:
        original = int(count)
    except ValueError:
        original = None
    try:
        return original, float(started)
    except ValueError:
        return original, 0.0
