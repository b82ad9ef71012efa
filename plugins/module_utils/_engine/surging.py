"""The surge as a protocol under the service's lease, one method per phase, and its undo.

A surge (minimumHealthyPercent leaves no spare healthy task, maximumPercent leaves room) raises
desiredCount by k, waits until the k new tasks are healthy as ECS counts them (``health.py``),
protects every task that stays, lowers desiredCount by k so ECS scales in the unprotected ones,
and removes the protection it added. Its state lives in the lease item (``lease.SurgeState``),
never in ECS tags, and is written *before* each change it describes, so whoever holds the lease
next can tell what happened and undo only this run's own writes.

Phases (``SurgeRun``):

1. ``keepers``: the state (phase ``raising``, delta k, before = the count expected, set =
   before + k, protected = the originals meant to stay) is written, then those tasks are
   protected (fenced): a scale-in by anyone during the surge can only take unprotected tasks.
2. ``raise_count``: the fence check, then desiredCount read immediately before the raise (nothing
   lies between the read and the UpdateService); a count others wrote meanwhile first rewrites
   the state (its ``before``), so the raise is always ``current + k`` and the restore takes off
   only k.
3. ``wait_new_healthy``: until k tasks that were not there before are healthy (RUNNING, HEALTHY
   when a container has a health check, healthy in every target group) and so is every other
   live task (a replacement ECS started for a task whose health check failed must not be
   among those that stay while it is still starting), renewing the lease; bounded by the
   run's deadline.
4. ``choose_removals``: from where the new tasks landed (a new task before an older one on
   an instance above its target: the surge's overhead, not a restart); the leaving ones lose
   the protection this run gave them, then the tasks that stay are protected (the state lists
   them first), never more protected tasks in all than the lowered count.
5. ``lower_count``: the state (phase ``lowering``) is written; unless Service Auto Scaling acted,
   the fence check, then desiredCount read: only if it is still the count this run wrote does it
   come down by k
   (never below the scalable target's MinCapacity); a count others wrote stands.
6. ``wait_scaled_in`` and ``finish``: ECS has stopped the leaving tasks; this run's protection
   goes, the state is cleared.

``undo`` (an abandoned surge: the deadline, an error, or the lease lost and claimed back; and the
heal of a predecessor's state by the next holder) lowers only a count this run or its lease
predecessor wrote (``SurgeState.restore_count``), and first makes sure the tasks ECS will scale
in are not the healthy ones: it protects healthy tasks (the staying ones first) up to the
lowered count, never more protected tasks in all than that count (ECS refuses more with
DEPLOYMENT_BLOCKED), so healthy tasks never go below the floor. It waits a bounded slack
(``UNDO_SLACK_SECONDS``, past the run's deadline if need be) for ECS to choose the tasks it stops;
only then does this run's protection go. Otherwise the protection stays (it expires by itself)
and the state stays in the lease item for the next holder to finish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from .aws_client import chunks
from .errors import EngineError, SurgeAbandoned, TasksVanished
from .fenced import FencedEcs
from .health import TaskHealth, target_states, task_healthy, task_targets
from .lease import Lease, LeaseStore, SurgeState
from .lock import LOWERING, RAISING
from .model import Task
from .snapshot import MAX_TASKS_PER_DESCRIBE, task_from_doc

UNDO_SLACK_SECONDS = 60.0
MAX_REREADS = 3


@dataclass(slots=True)
class LiveTask:
    task: Task
    health: TaskHealth
    protected: bool = False


class HealthReader:
    """A service's live tasks with their health as ECS counts it (DescribeTasks, the
    instances' EC2 ids for bridge targets, DescribeTargetHealth of the service's groups)."""

    def __init__(self, api: Any, cluster: str, elb: Any = None):
        self.api, self.cluster, self.elb = api, cluster, elb
        self._ec2: dict[str, str] = {}

    def live(self, service_doc: Mapping) -> list[LiveTask]:
        name = service_doc.get("serviceName", "")
        arns: list[str] = []
        for page in self.api.pages("list_tasks", cluster=self.cluster, serviceName=name,
                                   desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        docs: list[dict] = []
        for batch in chunks(arns, MAX_TASKS_PER_DESCRIBE):
            docs.extend(self.api.call("describe_tasks", cluster=self.cluster,
                                      tasks=list(batch)).get("tasks", []))
        lbs = [lb for lb in service_doc.get("loadBalancers", []) if lb.get("targetGroupArn")]
        self._learn_instances([d.get("containerInstanceArn", "") for d in docs] if lbs else [])
        out = []
        for doc in docs:
            task = task_from_doc(doc, {})
            if task is None:
                continue
            targets = task_targets(doc, lbs, self._ec2.get(task.instance_arn, ""))
            out.append(LiveTask(task, TaskHealth(task.arn, task.last_status, task.health,
                                                 targets)))
        return out

    def states(self, target_groups: Sequence[str]) -> dict | None:
        """Target health of the groups; None without an ELB client (health unknown)."""
        if not target_groups:
            return {}
        if self.elb is None:
            return None
        return target_states({g: self.elb.call("describe_target_health", TargetGroupArn=g)
                              for g in target_groups})

    def _learn_instances(self, arns: Sequence[str]) -> None:
        todo = sorted({a for a in arns if a and a not in self._ec2})
        for batch in chunks(todo, 100):
            resp = self.api.call("describe_container_instances", cluster=self.cluster,
                                 containerInstances=list(batch))
            for ci in resp.get("containerInstances", []):
                self._ec2[ci["containerInstanceArn"]] = ci.get("ec2InstanceId", "")


@dataclass(slots=True)
class SurgeOutcome:
    """What a surge did: the delta, the tasks that left, a count others set (theirs stood)."""

    k: int = 0
    before: int = 0
    raised: bool = False
    lowered: bool = False
    leaving: list[str] = field(default_factory=list)
    new_tasks: list[Task] = field(default_factory=list)
    others: int | None = None
    protected: int = 0
    undone: str = ""


class SurgeRun:
    """One surge of one service under ``lease`` (see the module docstring)."""

    def __init__(self, *, api: Any, cluster: str, service: Any, store: LeaseStore, lease: Lease,
                 health: HealthReader, deadline: Any, sleep: Callable[[float], Any],
                 poll_interval: float, protection_minutes: Callable[[], int],
                 read_protection: Callable[[Sequence[str]], set],
                 scaling_floor: Callable[[], int], autoscaled_since: Callable[[float], bool],
                 choose: Callable[[list[Task], int], list[str]]):
        self.api, self.cluster, self.service = api, cluster, service
        self.store, self.lease = store, lease
        self.ecs = FencedEcs(api, cluster, service.name, store, lease)
        self.health, self.deadline, self.sleep = health, deadline, sleep
        self.poll_interval = poll_interval
        self.protection_minutes = protection_minutes
        self.read_protection = read_protection
        self.scaling_floor, self.autoscaled_since = scaling_floor, autoscaled_since
        self.choose = choose
        self.state: SurgeState | None = None
        self.ours: list[str] = []       # protection this run added and has not removed
        self.raised_at: float | None = None     # store time of the read the raise rests on
        self.out = SurgeOutcome()

    @property
    def clock(self) -> Callable[[], float]:
        return self.deadline.clock

    # ----------------------------------------------------------------- phases
    def keepers(self, k: int, before: int, originals: Sequence[str],
                leaving: Sequence[str]) -> None:
        """Phase 1: state first, then the originals meant to stay are protected."""
        user = self.read_protection(list(originals))
        keep = [a for a in sorted(originals) if a not in set(leaving) and a not in user]
        now = self.store.store_clock.now()
        self.out.k, self.out.before = k, before
        self._write(SurgeState(RAISING, k, before, before + k, tuple(keep), since=now,
                               until=now + self.deadline.remaining()))
        self._protect(keep)

    def raise_count(self, max_percent: int) -> None:
        """Phase 2: read desiredCount immediately before raising it by k."""
        state = self._state()
        rereads = 0
        while (current := self.ecs.set_desired_if(state.before, state.set)) != state.before:
            rereads += 1
            if rereads > MAX_REREADS:
                raise SurgeAbandoned("desiredCount kept changing while the surge read it")
            k = min(state.delta, max(0, math.floor(current * max_percent / 100) - current))
            if k <= 0:
                raise SurgeAbandoned(f"desiredCount is {current} now (set by someone else); "
                                     f"maximumPercent {max_percent} leaves no room")
            state = replace(state, delta=k, before=current, set=current + k)
            self._write(state)
            self.out.k, self.out.before = k, current
        # Service Auto Scaling's activities up to the read are in the count the raise rests
        # on; only a later one makes the count others' (``lower_count``).
        self.raised_at = self.store.store_clock.now()
        self.out.raised = True

    def wait_new_healthy(self, originals: Sequence[str]) -> None:
        """Phase 3: k tasks that were not there before are healthy as ECS counts them."""
        old = set(originals)
        want = self._state().delta
        tgs = self._target_groups()
        container_check = bool(getattr(self.service, "container_health_check", False))

        def done() -> bool:
            live = self.health.live(self.ecs.describe())
            states = self.health.states(tgs)
            new = [t for t in live if t.task.arn not in old]
            healthy = [t for t in new if task_healthy(t.health, container_check, tgs, states)]
            self.out.new_tasks = [t.task for t in new]
            # Every live task healthy too, not only the new ones: a task ECS started meanwhile
            # (replacing one whose health check failed) could otherwise be among those that
            # stay, and the lowered service would start below its floor.
            return len(healthy) >= want and all(
                task_healthy(t.health, container_check, tgs, states) for t in live)

        self._poll(done, f"service {self.service.name}: the surge's new tasks did not become "
                         "healthy")

    def choose_removals(self) -> list[str]:
        """Phase 4: the leaving tasks from where the new ones landed; protection adjusted."""
        if self.deadline.remaining() < 60:
            # Protection expires in whole minutes, at least one: it would outlive the run.
            raise SurgeAbandoned(f"service {self.service.name}: less than a minute left to "
                                 "protect the tasks that stay and scale in")
        live = [t.task for t in self.health.live(self.ecs.describe())]
        protected = self.read_protection([t.arn for t in live])
        by_others = protected - set(self.ours)
        marked = [replace(t, protected=t.arn in by_others) for t in live]
        state = self._state()
        lowered = max(0, state.set - state.delta)
        # ECS stops what is above the lowered count: more than k when tasks beyond the
        # surge's run now, and those are chosen here too rather than left to ECS.
        leaving = self.choose(marked, max(state.delta, len(live) - lowered))
        unprotect = [a for a in self.ours if a in leaving]
        if unprotect:           # first, so protection never counts the leaving ones too
            self.ecs.unprotect(unprotect)
            self.ours = [a for a in self.ours if a not in unprotect]
            self._write(replace(self._state(), protected=tuple(self.ours)))
        # Every task that stays, ours included: the call resets the expiry before the
        # scale-in (what was protected before the raise may have expired during the wait).
        # Never more protected tasks in all than the lowered count: ECS refuses more than
        # desiredCount (DEPLOYMENT_BLOCKED) and could not scale in to a count below them.
        stay = [t.arn for t in live if t.arn not in leaving and t.arn not in by_others]
        room = lowered - sum(1 for t in live if t.arn in by_others)
        self._protect(stay[:max(0, room)], refresh=True)
        self.out.leaving = list(leaving)
        return leaving

    def lower_count(self) -> None:
        """Phase 5: intent written, then the count read immediately before lowering it; a
        count others wrote stands."""
        state = self._state()
        target = max(0, state.set - state.delta, self.scaling_floor())
        self._write(replace(state, phase=LOWERING, before=state.set, set=target))
        # AWS's clocks say whole seconds: an activity in the second of the raise's read is
        # taken as one the read saw (its count is the ``before`` the raise rests on).
        if self.autoscaled_since(state.since if self.raised_at is None else self.raised_at + 1):
            self.out.others, self.out.leaving = self.ecs.desired(), []
            self.out.lowered = True
            return
        current = self.ecs.set_desired_if(state.set, target)
        if current != state.set:
            self.out.others, self.out.leaving = current, []
            self.out.lowered = True
            return
        self.out.lowered = True
        if target != state.set - state.delta:        # MinCapacity kept it higher
            self.out.others, self.out.leaving = target, []

    def wait_scaled_in(self) -> None:
        leaving = set(self.out.leaving)
        if leaving:
            self._poll(lambda: not leaving & self._live_arns(),
                       f"service {self.service.name} did not scale in its surplus tasks")

    def finish(self) -> None:
        """Phase 6: this run's protection goes, then the state."""
        if self.ours:
            self.ecs.unprotect(self.ours)
            self.out.protected = len(self.ours)
            self.ours = []
        self.store.set_surge(self.lease, None)
        self.state = None

    # -------------------------------------------------------------- undo/heal
    def undo(self, state: SurgeState | None = None, slack: float = UNDO_SLACK_SECONDS) -> str:
        """Undo a surge's own writes safely (see the module docstring); ``state``: a
        predecessor's (healing), else this run's. Returns what was done, in words."""
        state = state or self.state
        if state is None:
            return ""
        self.state = state
        self.ours = list(dict.fromkeys([*self.ours, *state.protected]))
        current = self.ecs.desired()
        target = state.restore_count(current)
        if target is not None and self.autoscaled_since(state.since):
            target = None                   # Service Auto Scaling wrote the count after us
        words = f"desiredCount {current} left as it is (not ours to undo)"
        if target is not None:
            target = max(target, self.scaling_floor())
            self._protect_healthy(target)
            self._write(replace(self._state(), phase=LOWERING, before=current, set=target))
            if self.ecs.desired() == current:
                self.ecs.set_desired(target)
                words = f"desiredCount {current} -> {target}, healthy tasks protected first"
                if not self._wait_chosen(target, slack):
                    return (words + "; ECS had not chosen the tasks to stop within the slack: "
                            "protection left to expire, the state left for the next holder")
        if self.ours:
            self.ecs.unprotect(self.ours)
            self.ours = []
        self.store.set_surge(self.lease, None)
        self.state = None
        return words

    def _protect_healthy(self, target: int) -> None:
        """Before lowering to ``target``: protect healthy tasks (ours first, then the rest)
        until ``target`` are protected in all, so the scale-in takes unhealthy/new ones."""
        doc = self.ecs.describe()
        live = self.health.live(doc)
        tgs = self._target_groups()
        states = self.health.states(tgs)
        check = bool(getattr(self.service, "container_health_check", False))
        protected = self.read_protection([t.task.arn for t in live])
        room = target - len(protected)
        if room <= 0:
            return
        healthy = [t.task.arn for t in live if t.task.arn not in protected
                   and task_healthy(t.health, check, tgs, states)]
        healthy.sort(key=lambda a: a not in self.ours)      # the ones meant to stay first
        # A task gone meanwhile is not healthy any more: the undo goes on without it.
        self._protect(healthy[:room], refresh=True, tolerate_gone=True)

    def _wait_chosen(self, target: int, slack: float) -> bool:
        """ECS chose the tasks to stop: no more than ``target`` tasks are still desired to
        run. Bounded by the run's deadline plus ``slack``."""
        until = max(self.clock(), self.deadline.at) + slack
        while len(self._live_arns()) > target:
            if self.clock() >= until:
                return False
            self.store.keepalive(self.lease)
            self.sleep(min(self.poll_interval, max(until - self.clock(), 0.001)))
        return True

    # ---------------------------------------------------------------- helpers
    def _state(self) -> SurgeState:
        if self.state is None:
            raise EngineError("no surge in progress")
        return self.state

    def _write(self, state: SurgeState) -> None:
        self.store.set_surge(self.lease, state)
        self.state = state

    def _protect(self, arns: Sequence[str], refresh: bool = False,
                 tolerate_gone: bool = False) -> None:
        """Protect tasks (recorded in the state before the calls); ECS's per-task failures
        abandon the surge (``TasksVanished`` when every one says the task is gone, which the
        runner re-plans around; with ``tolerate_gone`` those are ignored). ``refresh``: also
        tasks this run protected already (a call resets the expiry; theirs may have run out
        during a long wait)."""
        todo = [a for a in arns if refresh or a not in self.ours]
        if not todo:
            return
        state = self._state()
        if any(a not in state.protected for a in todo):
            self._write(replace(state, protected=tuple(dict.fromkeys([*state.protected,
                                                                      *todo]))))
        added, failures = self.ecs.protect(todo, self.protection_minutes())
        self.ours.extend(a for a in added if a not in self.ours)
        if tolerate_gone and TasksVanished.applies(failures):
            return
        if failures:
            listed = ", ".join(f"{f.get('arn', '?')}: {f.get('reason', '?')}" for f in failures)
            error = TasksVanished if TasksVanished.applies(failures) else SurgeAbandoned
            raise error(f"protecting the tasks that stay failed for {len(failures)} "
                        f"task(s): {listed}", tuple(failures))

    def _target_groups(self) -> tuple[str, ...]:
        return tuple(getattr(self.service, "target_groups", ()) or ())

    def _live_arns(self) -> set[str]:
        arns: set[str] = set()
        for page in self.api.pages("list_tasks", cluster=self.cluster,
                                   serviceName=self.service.name, desiredStatus="RUNNING"):
            arns.update(page.get("taskArns", []))
        return arns

    def _poll(self, done: Callable[[], bool], what: str) -> None:
        while not done():
            if self.deadline.passed():
                raise SurgeAbandoned(f"{what} before the run's deadline")
            self.store.keepalive(self.lease)
            step = min(self.poll_interval, self.store.renew_interval(),
                       max(self.deadline.remaining(), 0.001))
            self.sleep(step)


__all__ = ["HealthReader", "SurgeOutcome", "SurgeRun", "UNDO_SLACK_SECONDS"]
