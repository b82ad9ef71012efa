"""The floor watch: after every sandbox reconcile pass, no service may run fewer tasks than its
floor, except where ECS itself explains it.

ECS: "minimumHealthyPercent represents a lower limit on the number of your service's tasks that
must remain in the RUNNING state during a deployment, as a percentage of the desiredCount
(rounded up to the nearest integer)" (API DeploymentConfiguration; docs/ecs-facts.md §3.1). The
rebalancer promises the same floor while it moves tasks (design.md), computed from the
desiredCount *others* set (never from a count its own surge raised).

What ECS explains, and so is excused:

* tasks lost with an instance the sequence terminated, scaled in or set DRAINING (until those
  tasks are gone and the service is back at its floor);
* a desiredCount that others raised: the floor follows it only once the service has reached
  it (ECS needs time to start the new tasks); a lowered count lowers the floor at once;
* a desiredCount that others lowered while some of the service's tasks were still PENDING:
  ECS's scale-in picks the AZ and the instance with the most tasks (docs/ecs-facts.md §2), so
  it may stop a RUNNING task and keep a PENDING one elsewhere, and the service runs fewer than
  its new floor until the PENDING ones start. Excused: up to the decrease, and no more than the
  tasks not yet running, until the service is back at its floor.

The watch is a ``sandbox.runtime.on_tick`` listener: it runs inside the sandbox's reconcile
pass after every request and every timer, so it sees each state the engine's calls produce.
That is the one place the suite reads sandbox state directly (an HTTP call from inside the
pass would deadlock); it reads only task and service status fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

ENGINE_REASON = "taskspread.ecs"


@dataclass
class Breach:
    at: float
    tick: int
    service: str
    running: int
    floor: int
    expected: int
    excused: int
    recent_stops: list[str]
    desired_now: int | None = None     # the service's desiredCount at that moment

    def describe(self, t0: float) -> str:
        stops = "; ".join(self.recent_stops) or "none"
        now = "" if self.desired_now is None else f"desiredCount {self.desired_now}, "
        return (f"t+{self.at - t0:.0f}s {self.service}: {self.running} running < floor "
                f"{self.floor} ({now}others set {self.expected}, excused {self.excused}"
                f"); stops in the last 60 s: {stops}")


@dataclass
class FloorWatch:
    sandbox: Any
    cluster: str
    min_healthy: dict[str, int]
    expected: dict[str, int] = field(default_factory=dict)     # desiredCount others set
    intended: dict[str, int] = field(default_factory=dict)     # latest value others chose
    established: dict[str, int] = field(default_factory=dict)
    excused_tasks: dict[str, set[str]] = field(default_factory=dict)
    lowered: dict[str, int] = field(default_factory=dict)      # others' decrease, see above
    pending: list[tuple[float, str, int]] = field(default_factory=list)
    breaches: dict[str, list[Breach]] = field(default_factory=dict)
    armed: bool = False
    ticks: int = 0
    # what counts toward the floor; default: RUNNING (the simulation passes ECS's health)
    up: Optional[Callable[[Any], bool]] = None
    error: str = ""        # the sandbox's models changed under the watch: it stops, says why

    def arm(self, desired: dict[str, int]) -> None:
        for name, count in desired.items():
            self.expected[name] = self.intended[name] = self.established[name] = count
        self.armed = True

    # ------------------------------------------------------------ what others do
    def others_set(self, service: str, count: int, at: float | None = None) -> None:
        """Someone else sets desiredCount to ``count`` now, or at ``at`` (a scheduled action)."""
        self.intended[service] = count
        if at is None:
            self._expect(service, count)
        else:
            self.pending.append((at, service, count))

    def excuse(self, service: str, task_arns: set[str]) -> None:
        """These tasks go with an instance the sequence removes: ECS explains their loss."""
        self.excused_tasks.setdefault(service, set()).update(task_arns)

    def _expect(self, service: str, count: int) -> None:
        if count < self.expected.get(service, count):
            self.lowered[service] = self.lowered.get(service, 0) + \
                self.expected[service] - count
        self.expected[service] = count
        self.established[service] = min(self.established.get(service, count), count)

    # -------------------------------------------------------------------- tick
    def __call__(self) -> None:
        if not self.armed:
            return
        self.ticks += 1
        now = self.sandbox.now()
        for item in [p for p in self.pending if p[0] <= now]:
            self.pending.remove(item)
            self._expect(item[1], item[2])
        try:
            for name in self.expected:
                self._check(name, now)
        except (AttributeError, KeyError, TypeError) as err:
            # it runs inside the sandbox's reconcile pass: raising would break every request
            self.error = f"{type(err).__name__}: {err}"
            self.armed = False

    def _check(self, name: str, now: float) -> None:
        svc = self.sandbox.ecs.services.get((self.cluster, name))
        if svc is None:
            return
        tasks = list(svc.tasks.values())
        up = self.up or _running
        running = sum(1 for t in tasks if up(t))
        expected = self.expected[name]
        if running >= expected:
            self.established[name] = expected
        floor = math.ceil(min(expected, self.established[name]) * self.min_healthy[name] / 100)
        excused = self.excused_tasks.get(name, set())
        lost = {t.arn for t in tasks if t.arn in excused and not up(t)}
        lost |= excused - {t.arn for t in tasks}
        if running >= floor:
            if lost == excused:
                self.excused_tasks.pop(name, None)
            self.lowered.pop(name, None)
            return
        # ECS's scale-in after others lowered the count, RUNNING tasks before PENDING ones
        not_started = sum(1 for t in tasks
                          if t.desired_status == "RUNNING" and t.last_status != "RUNNING")
        scaled_in = min(self.lowered.get(name, 0), not_started)
        if floor - running <= len(lost) + scaled_in:
            return
        self.breaches.setdefault(name, []).append(Breach(
            at=now, tick=self.ticks, service=name, running=running, floor=floor, expected=expected,
            excused=len(lost) + scaled_in, recent_stops=_recent_stops(tasks, now),
            desired_now=getattr(svc, "desired_count", None)))


def _running(task: Any) -> bool:
    return task.last_status == "RUNNING" and task.desired_status == "RUNNING"


def _recent_stops(tasks: list, now: float) -> list[str]:
    out = []
    for t in tasks:
        when = t.stopping_at or t.stopped_at or t.updated_at or 0
        if t.desired_status == "STOPPED" and now - when <= 60:
            out.append(f"{t.id[:8]}: {t.stopped_reason or '?'}")
    return out


class BakeWatch:
    """After every reconcile pass: no task of a service is stopped by the engine while the
    service's blue/green deployment is in progress, bake included (docs/ecs-facts.md §1.11:
    such a task is green capacity under test or the blue revision's rollback reserve). It
    reads the same way as ``FloorWatch``: task and deployment fields of the sandbox's store."""

    def __init__(self, sandbox: Any, cluster: str, services: list[str]):
        self.sandbox = sandbox
        self.cluster = cluster
        self.services = services
        self.seen: set[str] = set()
        self.stops: list[str] = []           # violations, one line each
        self.error = ""

    def __call__(self) -> None:
        if self.error:
            return
        try:
            for name in self.services:
                self._check(name)
        except (AttributeError, KeyError, TypeError, IndexError) as err:
            self.error = f"{type(err).__name__}: {err}"

    def _check(self, name: str) -> None:
        svc = self.sandbox.ecs.services.get((self.cluster, name))
        if svc is None or not svc.history:
            return
        current = svc.history[0]
        deploying = (current.strategy == "BLUE_GREEN" and current.rollout_state == "IN_PROGRESS"
                     and not current.sd_status)
        for task in svc.tasks.values():
            if task.desired_status != "STOPPED" or task.arn in self.seen:
                continue
            self.seen.add(task.arn)
            if deploying and (task.stopped_reason or "").startswith(ENGINE_REASON):
                self.stops.append(f"{name}: task {task.arn.rsplit('/', 1)[-1]} stopped by the "
                                  f"engine at {current.lifecycle_stage}: {task.stopped_reason!r}")
