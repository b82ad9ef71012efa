"""The executor: turns the evictor's grants into ECS calls and reports only what happened.

It decides nothing about *whether* a task may move (``evictor.py`` does); it decides *how*:

* ``stop``: StopTask on each granted task; the ECS scheduler starts the replacements on the
  emptiest eligible instances (spread). Each stop is recorded as it happens, so an error in the
  middle of a step still reports the tasks already stopped.
* ``surge`` (no spare above the floor, room under maximumPercent): a locked state machine, see
  ``lock.py``. Write the lock (phase raising, delta k), raise desiredCount by k over the count
  read just before, wait (bounded by the run's deadline) until the new tasks run and are healthy,
  protect every task that stays (only those not protected already: the ones this run protects
  are recorded, with an expiry no later than the lock's deadline), rewrite the lock (phase
  lowering), lower desiredCount by k against the count read just before lowering (so an
  autoscaler's or a person's change during the surge stands), wait until ECS has scaled in the
  unprotected surplus, then remove only the protection this run added, and the lock.
  Whatever fails or times out, the ``finally`` path restores by delta and cleans up; a run killed
  outright leaves the lock, which a later run heals once its deadline has passed.
* ``redeploy``: forceNewDeployment (the reference architecture's approach, for comparison).

Healing (level-triggered, first thing in a step): a surge lock whose deadline has passed is
undone by delta against the current desiredCount (``lock.restore_count``) and removed.

After acting on a service the executor writes the step record (``lock.STEP_TAG``: the fingerprint
of the service's world before the step) that the evictor's no-progress breaker reads.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from .aws_client import CountingClient, chunks
from .codes import Refused
from .deadline import Deadline
from .errors import EngineError, LockLost, ProtectionFailed, SettleTimeout
from .evictor import Decision, Grant, Refusal, read_protection, require_no_failures
from .lock import CLAIMED, LOWERING, RAISING, STEP_TAG, SURGE_TAG, SurgeLock, restore_count, step_tag
from .model import ClusterSnapshot, Service, Task
from .plan_types import Move
from .snapshot import MAX_TASKS_PER_DESCRIBE, epoch_seconds, task_from_doc
from .surge import choose_removals

try:
    from botocore.exceptions import BotoCoreError, ClientError
    AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
except ImportError:  # the modules report a missing botocore through AnsibleAWSModule
    AWS_ERRORS = ()

MAX_TASKS_PER_UPDATE_PROTECTION = 10
STOP_REASON = "taskspread.ecs rebalancing: moving a task from an over-target instance"


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """``lock_settle_seconds``: how long a run waits between writing a surge lock and checking
    it is still its own. Two runs that both saw no lock and wrote theirs within that window:
    the later write wins, the earlier run sees it and backs off before changing anything."""

    protection_minutes: int = 10
    poll_interval: float = 5.0
    lock_settle_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.protection_minutes <= 2880:
            raise ValueError("protection_minutes must be between 1 and 2880, "
                             f"got {self.protection_minutes}")
        if self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {self.poll_interval}")


@dataclass(slots=True)
class Action:
    """What a step did to one service: only what happened. ``landing``: for a surge, where
    its new tasks were predicted to land and where they did."""

    service: str
    mode: str
    moves: list[Move] = field(default_factory=list)
    stopped_tasks: list[str] = field(default_factory=list)
    detail: str = ""
    error: str = ""         # set when the action was abandoned (what was undone is in detail)
    landing: dict | None = None
    touched: bool = False   # desiredCount was changed (a surge), whatever came of it

    def to_dict(self) -> dict:
        out = {"service": self.service, "mode": self.mode, "detail": self.detail,
               "moves": [m.to_dict() for m in self.moves],
               "stopped_tasks": list(self.stopped_tasks), "error": self.error}
        if self.landing is not None:
            out["landing"] = self.landing
        return out


@dataclass(slots=True)
class StepResult:
    actions: list[Action] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)
    decision: Decision | None = None

    @property
    def changed(self) -> bool:
        return bool(self.healed) or any(a.moves or a.stopped_tasks or a.mode == "redeploy"
                                        or a.error or a.touched for a in self.actions)

    @property
    def moves(self) -> list[Move]:
        return [m for a in self.actions for m in a.moves]

    @property
    def errors(self) -> list[str]:
        return [f"{a.service}: {a.error}" for a in self.actions if a.error]


class Executor:
    """Executes grants against one cluster through a counting ECS client."""

    def __init__(self, api: CountingClient, cluster_arn: str, deadline: Deadline, run_id: str,
                 options: ExecOptions | None = None,
                 sleep: Callable[[float], Any] = time.sleep,
                 elb: CountingClient | None = None,
                 healthy_targets: Callable[[Sequence[str]], int] | None = None,
                 aas: CountingClient | None = None):
        """``healthy_targets``: counts healthy targets of target groups (the evictor's); with
        it, load-balanced tasks count as settled only once their targets are healthy."""
        self.api, self.cluster, self.elb = api, cluster_arn, elb
        self.deadline, self.run_id = deadline, run_id
        self.options = options or ExecOptions()
        self.sleep = sleep
        self.healthy_targets = healthy_targets
        self.aas = aas          # Application Auto Scaling: the service's MinCapacity

    @property
    def clock(self) -> Callable[[], float]:
        return self.deadline.clock

    # ------------------------------------------------------------------------ one step
    def execute(self, decision: Decision) -> StepResult:
        """Carry out every grant. An AWS error ends the step; the actions so far (with the
        failing one marked) are kept."""
        result = StepResult(decision=decision)
        for grant in decision.grants:
            action = Action(grant.service.name, grant.mode)
            result.actions.append(action)
            try:
                if grant.mode == "stop":
                    self.stop(grant, action)
                elif grant.mode == "surge":
                    self.surge(grant, action)
                else:
                    self.redeploy(grant, action)
                self._record_step(grant, action)
            except LockLost as err:
                result.actions.remove(action)
                decision.refusals.append(Refusal(grant.service.name, Refused.SURGE_IN_PROGRESS,
                                                 str(err)))
                continue
            except (SettleTimeout, ProtectionFailed) as err:
                action.error = str(err)
                break
            except AWS_ERRORS as err:
                action.error = f"{type(err).__name__}: {err}"
                break
        return result

    # -------------------------------------------------------------------------- modes
    def stop(self, grant: Grant, action: Action) -> None:
        for move in grant.moves:
            self.api.call("stop_task", cluster=self.cluster, task=move.task_arn,
                          reason=STOP_REASON)
            action.moves.append(move)
            action.stopped_tasks.append(move.task_arn)
        action.detail = f"stopped {len(action.moves)} task(s); ECS places the replacements"

    def redeploy(self, grant: Grant, action: Action) -> None:
        self.api.call("update_service", cluster=self.cluster, service=grant.service.name,
                      forceNewDeployment=True)
        action.moves.extend(grant.moves)
        action.detail = "forced a new deployment (every task of the service restarts)"

    def surge(self, grant: Grant, action: Action) -> None:
        service = grant.service
        planned_k = grant.surge.k if grant.surge is not None else len(grant.moves)
        before = self.desired_count(service.name)
        k = min(planned_k, max(0, math.floor(before * service.max_percent / 100) - before))
        if k <= 0:
            action.detail = (f"desiredCount is {before} now; maximumPercent "
                             f"{service.max_percent} leaves no room; nothing done")
            return
        self._acquire(service, k, before)
        before = self.desired_count(service.name)     # re-read once the lock is ours
        lock = SurgeLock(owner=self.run_id, phase=RAISING, delta=k, before=before,
                         set=before + k, start=self.clock(), deadline=self.deadline.at)
        self._write_lock(service, lock)
        original = {t.arn for t in grant.tasks}
        planned_leaving = {m.task_arn for m in grant.moves}
        raised = lowered = False
        others: int | None = None
        added: list[str] = []
        leaving: list[str] = []
        try:
            # Protect the tasks meant to stay BEFORE raising: a scale-in by anyone else
            # during the surge (a person, an autoscaler) can then only take unprotected tasks.
            user = read_protection(self.api, self.cluster, sorted(original))
            added = self.protect([a for a in sorted(original)
                                  if a not in planned_leaving and a not in user], already=user)
            protected_at = self.clock()
            self._set_desired(service, before + k)
            raised = action.touched = True
            self.wait_running(service.name)
            if self.deadline.remaining() < 60:
                # Protection expires in whole minutes, at least one: it would outlive the
                # lock's deadline. Give the surge up instead.
                raise SettleTimeout(f"service {service.name}: less than a minute left to "
                                    "protect the tasks that stay and scale in")
            live = self.live_task_docs(service.name)
            ours = set(added)
            protected = read_protection(self.api, self.cluster, [t.arn for t in live])
            others_protect = protected - ours
            live = [replace(t, protected=t.arn in others_protect) for t in live]
            leaving = choose_removals(live, grant.targets, k)
            self._note_landing(grant, action, [t for t in live if t.arn not in original])
            # Ours, adjusted to where the new tasks landed: leaving tasks unprotected, every
            # other task protected (the refresh also resets the expiry before the scale-in).
            self.unprotect([a for a in added if a in leaving])
            earlier = [a for a in added if a not in leaving]
            added = earlier + self.protect([t.arn for t in live if t.arn not in leaving
                                            and t.arn not in others_protect
                                            and t.arn not in earlier], already=others_protect)
            if self.clock() - protected_at > 60:     # reset the expiry before the scale-in
                self.protect(earlier, already=set(), refresh=True)
            current = self.desired_count(service.name)
            if current != before + k or self.autoscaled_since(service, lock.start):
                # Someone else wrote desiredCount during the surge: theirs stands, and ECS
                # scales to it; the tasks meant to leave may stay (reported, not counted).
                lowered, others = True, current
                leaving = []
            else:
                target = self._restore_value(service, current, k)
                lowering = SurgeLock(owner=self.run_id, phase=LOWERING, delta=k, before=current,
                                     set=target, start=lock.start, deadline=lock.deadline)
                self._write_lock(service, lowering)
                self._set_desired(service, lowering.set)
                lowered = True
                if target == current - k:
                    self.wait_gone(service.name, set(leaving))
                else:
                    others, leaving = target, []
        finally:
            # Whatever happened above: the delta comes off (if it was not taken off yet),
            # only the protection this run added goes, and the lock goes last.
            if raised and not lowered:
                current = self.desired_count(service.name)
                if current == before + k and not self.autoscaled_since(service, lock.start):
                    # only our own write is undone
                    self._set_desired(service, self._restore_value(service, current, k))
            self.unprotect(added)
            if self._lock_owner(service) == self.run_id:
                self._untag(service, SURGE_TAG)
        by_arn = {m.task_arn: m for m in grant.moves}
        action.moves.extend(by_arn.get(arn) or Move(service.name, arn, "", "", "", "")
                            for arn in leaving)
        action.stopped_tasks.extend(leaving)
        if others is not None:
            action.detail = (f"desiredCount {before} -> {before + k}; set to {others} by "
                             "someone else during the surge, left as they set it")
            return
        action.detail = (f"desiredCount {before} -> {before + k} -> back by {k}; "
                         f"{len(added)} task(s) protected during the scale-in"
                         + (f"; {action.detail}" if action.detail else ""))

    @staticmethod
    def _note_landing(grant: Grant, action: Action, new: Sequence[Task]) -> None:
        """Compare where the surge's new tasks landed with the prediction; say so if not."""
        if grant.surge is None:
            return
        predicted = sorted(grant.surge.new_on)
        actual = sorted(t.instance_arn for t in new)
        action.landing = {"predicted": predicted, "actual": actual,
                          "as_predicted": predicted == actual}
        if predicted != actual:
            action.detail = ("new tasks landed elsewhere than predicted; removals chosen "
                             "from where they landed")

    # ---------------------------------------------------------------------- healing
    def heal(self, snapshot: ClusterSnapshot) -> list[str]:
        """Undo surges whose lock deadline has passed (their run was killed)."""
        healed = []
        now = self.clock()
        for service in snapshot.services.values():
            marker = service.tags.get(SURGE_TAG)
            if marker is None:
                continue
            lock = SurgeLock.from_tag(marker)
            if now < lock.deadline:
                continue            # its run may still be in flight; the evictor skips it
            target = restore_count(lock, self.desired_count(service.name))
            if target is not None and self.autoscaled_since(service, lock.start):
                target = None           # Service Auto Scaling wrote the count after us
            if target is not None:
                self._set_desired(service, max(target, self.scaling_floor(service)))
            self._untag(service, SURGE_TAG)
            healed.append(service.name)
        return healed

    # ------------------------------------------------------------------ ECS helpers
    def _restore_value(self, service: Service, current: int, k: int) -> int:
        """``current - k``, but never below the MinCapacity of the service's Service Auto
        Scaling target (a scheduled action that set exactly the surged count cannot be told
        from our own write; its minimum can)."""
        return max(0, current - k, self.scaling_floor(service))

    def scaling_floor(self, service: Service) -> int:
        """MinCapacity of the service's Application Auto Scaling target (0 when none, or when
        no Application Auto Scaling client was given or it may not read)."""
        if self.aas is None:
            return 0
        try:
            resp = self.aas.call("describe_scalable_targets", ServiceNamespace="ecs",
                                 ResourceIds=[self._scalable_resource(service)],
                                 ScalableDimension="ecs:service:DesiredCount")
        except AWS_ERRORS:
            return 0
        return max([int(t.get("MinCapacity", 0)) for t in resp.get("ScalableTargets", [])],
                   default=0)

    def _scalable_resource(self, service: Service) -> str:
        """Application Auto Scaling's ResourceId of an ECS service."""
        return f"service/{self.cluster.rsplit('/', 1)[-1]}/{service.name}"

    def autoscaled_since(self, service: Service, since: float) -> bool:
        """Whether Service Auto Scaling changed the service's desired count since ``since``
        (epoch seconds): a scheduled action or a policy can write exactly the count a surge
        wrote, which the count alone cannot tell apart from ours; its activity record can."""
        if self.aas is None:
            return False
        try:
            resp = self.aas.call("describe_scaling_activities", ServiceNamespace="ecs",
                                 ResourceId=self._scalable_resource(service),
                                 ScalableDimension="ecs:service:DesiredCount")
        except AWS_ERRORS:
            return False
        return any(epoch_seconds(a.get("StartTime")) >= since
                   for a in resp.get("ScalingActivities", []))

    def desired_count(self, name: str) -> int:
        return int(self.describe_service(name).get("desiredCount", 0))

    def _set_desired(self, service: Service, count: int) -> None:
        self.api.call("update_service", cluster=self.cluster, service=service.name,
                      desiredCount=count)

    def _acquire(self, service: Service, k: int, before: int) -> None:
        """Take the service's surge lock, or raise LockLost without changing anything.

        Read the tags fresh (the snapshot may be minutes old), refuse a live lock of another
        run, write ours, wait ``lock_settle_seconds``, and check it is still ours: of two runs
        that wrote within that window, only the later one goes on."""
        current = self._lock(service)
        if current is not None and current.held_by_other(self.run_id, self.clock()):
            raise LockLost(f"surge lock of {service.name} is held by run {current.owner} "
                           f"until {current.deadline:.0f}; service left alone")
        claim = SurgeLock(owner=self.run_id, phase=CLAIMED, delta=0, before=before,
                          set=before, start=self.clock(), deadline=self.deadline.at)
        self.api.call("tag_resource", resourceArn=service.arn,
                      tags=[{"key": SURGE_TAG, "value": claim.to_tag()}])
        self.sleep(self.options.lock_settle_seconds)
        owner = self._lock_owner(service)
        if owner != self.run_id:
            raise LockLost(f"surge lock of {service.name} taken by run {owner or 'unknown'}; "
                           "desiredCount not changed")

    def _lock(self, service: Service) -> SurgeLock | None:
        tags = self.api.call("list_tags_for_resource", resourceArn=service.arn).get("tags", [])
        value = next((t.get("value") for t in tags if t.get("key") == SURGE_TAG), None)
        return None if value is None else SurgeLock.from_tag(value)

    def _lock_owner(self, service: Service) -> str:
        lock = self._lock(service)
        return lock.owner if lock is not None else ""

    def _write_lock(self, service: Service, lock: SurgeLock) -> None:
        """Rewrite our own lock (a new phase), only while it is still ours."""
        owner = self._lock_owner(service)
        if owner != self.run_id:
            raise LockLost(f"surge lock of {service.name} taken by run {owner or 'unknown'} "
                           "during the surge")
        self.api.call("tag_resource", resourceArn=service.arn,
                      tags=[{"key": SURGE_TAG, "value": lock.to_tag()}])

    def _untag(self, service: Service, key: str) -> None:
        self.api.call("untag_resource", resourceArn=service.arn, tagKeys=[key])

    def _record_step(self, grant: Grant, action: Action) -> None:
        """Tag one task of the service that stays with the fingerprint before this step."""
        gone = set(action.stopped_tasks) | {m.task_arn for m in grant.moves}
        keeper = next((t.arn for t in sorted(grant.tasks, key=lambda t: t.arn)
                       if t.arn not in gone), None)
        if keeper is None or grant.mode == "redeploy":
            return              # a redeploy replaces every task: no task would carry it
        self.api.call("tag_resource", resourceArn=keeper,
                      tags=[{"key": STEP_TAG, "value": step_tag(grant.fingerprint, self.clock())}])

    def protection_expiry_minutes(self) -> int:
        """Protection this run adds expires no later than the run's deadline (whole minutes,
        at least 1, at most ``protection_minutes``): a killed run leaves none behind it."""
        left = math.floor(self.deadline.remaining() / 60)
        return max(1, min(self.options.protection_minutes, left))

    def protect(self, task_arns: Iterable[str], already: set[str] | None = None,
                refresh: bool = False) -> list[str]:
        """Protect tasks not protected already (``already``, else read now); return the ones
        this call protected. ``refresh``: the tasks are ours already; reset their expiry."""
        arns = list(task_arns)
        if already is None:
            already = read_protection(self.api, self.cluster, arns)
        todo = [a for a in arns if a not in already]
        minutes = self.protection_expiry_minutes()
        added: list[str] = []
        try:
            for batch in chunks(todo, MAX_TASKS_PER_UPDATE_PROTECTION):
                resp = self.api.call("update_task_protection", cluster=self.cluster,
                                     tasks=list(batch), protectionEnabled=True,
                                     expiresInMinutes=minutes)
                added.extend(p["taskArn"] for p in resp.get("protectedTasks", []))
                require_no_failures(resp, "protecting the tasks that stay")
        except BaseException:
            if not refresh:
                self.unprotect(added)
            raise
        return added

    def unprotect(self, task_arns: Sequence[str]) -> None:
        for batch in chunks(list(task_arns), MAX_TASKS_PER_UPDATE_PROTECTION):
            self.api.call("update_task_protection", cluster=self.cluster, tasks=list(batch),
                          protectionEnabled=False)

    def live_tasks(self, service: str) -> list[str]:
        arns: list[str] = []
        for page in self.api.pages("list_tasks", cluster=self.cluster, serviceName=service,
                                   desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        return arns

    def live_task_docs(self, service: str) -> list[Task]:
        """The service's live tasks with where they run (DescribeTasks, 100 a call)."""
        arns = self.live_tasks(service)
        out: list[Task] = []
        for batch in chunks(arns, MAX_TASKS_PER_DESCRIBE):
            resp = self.api.call("describe_tasks", cluster=self.cluster, tasks=list(batch))
            out.extend(t for t in (task_from_doc(doc, {}) for doc in resp.get("tasks", []))
                       if t is not None)
        return out

    def describe_service(self, name: str) -> dict:
        resp = self.api.call("describe_services", cluster=self.cluster, services=[name])
        if not resp.get("services"):
            raise EngineError(f"service {name} disappeared during the step")
        return resp["services"][0]

    # ------------------------------------------------------------------------ waits
    def _poll(self, done: Callable[[], bool], what: str) -> None:
        """Poll until ``done`` or the run's deadline."""
        while not done():
            if self.deadline.passed():
                raise SettleTimeout(f"{what} before the run's deadline")
            self.sleep(min(self.options.poll_interval, max(self.deadline.remaining(), 0.001)))

    def _healthy_enough(self, doc: dict, count: int) -> bool:
        groups = [lb["targetGroupArn"] for lb in doc.get("loadBalancers", [])
                  if lb.get("targetGroupArn")]
        return not groups or self.healthy_targets is None or self.healthy_targets(groups) >= count

    def wait_running(self, service: str) -> None:
        """Running reaches the service's current desiredCount (read each time: others may
        change it), nothing pending, and load-balanced targets are healthy."""
        def done() -> bool:
            doc = self.describe_service(service)
            want = doc.get("desiredCount", 0)
            return (doc.get("runningCount", 0) >= want and doc.get("pendingCount", 0) == 0
                    and self._healthy_enough(doc, want))

        self._poll(done, f"service {service} did not run its surge tasks")

    def wait_gone(self, service: str, leaving: set[str]) -> None:
        def done() -> bool:
            return not (set(self.live_tasks(service)) & leaving)

        self._poll(done, f"service {service} did not scale in its surplus tasks")

    def wait_settled(self, services: Iterable[str], stopped: Iterable[str] = ()) -> None:
        """Every service steady (one COMPLETED deployment, running == desired, nothing
        pending, targets healthy) and every task this run stopped is STOPPED."""
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
