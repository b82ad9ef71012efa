"""The executor: turns the evictor's grants into ECS calls and reports only what happened.

It decides nothing about *whether* a task may move (``evictor.py`` does); it decides *how*, and
every step on a service holds that service's lease (``lease.py``): claimed with a
compare-and-swap before the first write, fence-checked before every write to desiredCount, task
protection or StopTask (``fenced.py``), released at the end. A service whose lease another run
holds is refused (``lease_held``) without a single write.

* ``stop``: StopTask on each granted task; the ECS scheduler starts the replacements on the
  emptiest eligible instances (spread). Each stop is recorded as it happens, so an error in the
  middle of a step still reports the tasks already stopped.
* ``surge`` (no spare above the floor, room under maximumPercent): the phases of
  ``surging.SurgeRun``, its state in the lease item; abandoned (deadline, error) it is undone
  safely; a lost lease is claimed back when free and the surge undone, else left to the holder.
* ``redeploy``: forceNewDeployment (the reference architecture's approach, for comparison).

Healing (first thing in a step): a surge state left in a lease item by a run that was killed
(its lease expired) is undone by its delta rules (``SurgeState.restore_count``) under a fresh
claim; a ``taskspread:surge`` tag left by an earlier version of this collection is undone by
``lock.restore_count`` once its deadline has passed, and removed.

A task the step counted on that is gone by the time it acts (UpdateTaskProtection answers
``TASK_NOT_VALID``/``MISSING``, StopTask finds it stopped already) ends that service's action
with ``TasksVanished``: what it did is undone as for any abandoned step, the action lists ECS's
per-task failures (``vanished``), and the next grants go on; the runner re-reads and re-plans
that service.

When an action on a service completes, the executor stores the no-progress breaker's record
(``breaker.Record``: the step's cause, the moves it started from, when, what) in the service's
lease item with the release of the lease; the evictor reads it there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from . import bounds, breaker
from .aws_client import CountingClient, chunks
from .codes import Refused
from .deadline import Deadline
from .errors import (
    EngineError, LeaseError, LeaseHeld, LeaseLost, ProtectionFailed, SettleTimeout,
    SurgeAbandoned, TasksVanished,
)
from .evictor import (
    Decision, Grant, Refusal, floor_running, read_protection, surge_time_refusal,
)
from .fenced import FencedEcs
from .lease import Lease, LeaseStore
from .lock import SURGE_TAG, SurgeLock, restore_count
from .model import ClusterSnapshot, Service, Task
from .plan_types import Move
from .snapshot import epoch_seconds
from .surge import choose_removals
from .surging import HealthReader, SurgeRun

try:
    from botocore.exceptions import BotoCoreError, ClientError
    AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
except ImportError:  # the modules report a missing botocore through AnsibleAWSModule
    AWS_ERRORS = ()

STOP_REASON = "taskspread.ecs rebalancing: moving a task from an over-target instance"
# The re-plan reason when the service changed between the decision's read and its first stop.
SERVICE_CHANGED = "SERVICE_CHANGED_SINCE_READ"


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """``surge_min_seconds``: every surge of a step, not only the first, starts only with at
    least this long before the run's deadline (``evictor.surge_time_refusal``)."""

    protection_minutes: int = 10
    poll_interval: float = 5.0
    surge_min_seconds: float = 120.0

    def __post_init__(self) -> None:
        bounds.check("protection_minutes", self.protection_minutes)
        bounds.check("poll_interval", self.poll_interval)
        bounds.check("surge_min_seconds", self.surge_min_seconds)


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
    lease: dict | None = None   # the lease this run held for it (owner, fence, since, until)
    # A surge's new tasks that ECS scaled in again (not restarts: they ran for this step only)
    surge_overhead: list[str] = field(default_factory=list)
    vanished: list[dict] = field(default_factory=list)  # ECS's failures for tasks gone mid-step

    def to_dict(self) -> dict:
        out = {"service": self.service, "mode": self.mode, "detail": self.detail,
               "moves": [m.to_dict() for m in self.moves],
               "stopped_tasks": list(self.stopped_tasks), "error": self.error,
               "lease": self.lease}
        if self.landing is not None:
            out["landing"] = self.landing
        if self.mode == "surge":
            out["surge_overhead"] = len(self.surge_overhead)
        if self.vanished:
            out["vanished"] = list(self.vanished)
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

    def merge(self, other: "StepResult") -> None:
        """Add a re-plan's actions, heals and refusals to this step."""
        self.actions.extend(other.actions)
        self.healed.extend(h for h in other.healed if h not in self.healed)
        if self.decision is not None and other.decision is not None:
            self.decision.refusals.extend(other.decision.refusals)
            self.decision.spent += other.decision.spent


def still_spare(doc: dict, grant: Grant) -> None:
    """Raise ``TasksVanished`` unless the service, as DescribeServices shows it now (``doc``),
    is still the one the decision judged: the same desiredCount, and enough RUNNING tasks for
    every stop of ``grant`` to keep the floor the decision kept.

    The decision counted healthy tasks in a read that may be minutes old at scale (a
    100,000-task read is paced over minutes): an instance that died since took tasks with it,
    and a desiredCount someone changed since moves the floor and starts ECS's own scale-in or
    scale-out, which the decision did not see. ``runningCount`` counts RUNNING tasks, healthy
    or not, so this check never refuses what the decision's own count allowed; it sees every
    task lost since. Either way the runner re-reads the service and plans it again."""
    service = grant.service
    running = int(doc.get("runningCount", 0))
    desired = int(doc.get("desiredCount", service.desired))
    floor = floor_running(service)
    stops = len(grant.moves)
    if desired != service.desired:
        why = (f"{service.name}'s desiredCount is {desired} now, {service.desired} when it was "
               "read")
    elif running - stops < floor:
        why = (f"{service.name} runs {running} task(s) now, fewer than its read counted: "
               f"{stops} stop(s) would leave {running - stops}, below its floor of {floor}")
    else:
        return
    raise TasksVanished(why, ({"arn": "", "reason": SERVICE_CHANGED, "running": running,
                               "desired": desired, "floor": floor, "stops": stops},))


class Executor:
    """Executes grants against one cluster through a counting ECS client, each service under
    its lease in ``leases``."""

    def __init__(self, api: CountingClient, cluster_arn: str, deadline: Deadline, run_id: str,
                 options: ExecOptions | None = None,
                 sleep: Callable[[float], Any] = time.sleep,
                 elb: CountingClient | None = None,
                 healthy_targets: Callable[[Sequence[str]], int] | None = None,
                 aas: CountingClient | None = None,
                 leases: LeaseStore | None = None):
        """``healthy_targets``: counts healthy targets of target groups (the evictor's);
        ``leases``: the lease store (without one the executor refuses to write anything)."""
        self.api, self.cluster, self.elb = api, cluster_arn, elb
        self.deadline, self.run_id = deadline, run_id
        self.options = options or ExecOptions()
        self.sleep = sleep
        self.healthy_targets = healthy_targets
        self.aas = aas          # Application Auto Scaling: the service's MinCapacity
        self.leases = leases
        self.health = HealthReader(api, cluster_arn, elb)

    @property
    def clock(self) -> Callable[[], float]:
        return self.deadline.clock

    # ------------------------------------------------------------------------ one step
    def execute(self, decision: Decision) -> StepResult:
        """Carry out every grant, each under its service's lease. An AWS error ends the step;
        the actions so far (with the failing one marked) are kept."""
        result = StepResult(decision=decision)
        for grant in decision.grants:
            action = Action(grant.service.name, grant.mode)
            if grant.mode == "surge":
                late = surge_time_refusal(grant.service.name, self.deadline,
                                          self.options.surge_min_seconds)
                if late is not None:      # an earlier surge of this step used the time
                    decision.refusals.append(late)
                    continue
            try:
                lease = self._claim(grant.service)
            except LeaseHeld as err:
                decision.refusals.append(Refusal(
                    grant.service.name, Refused.LEASE_HELD, str(err),
                    err.holder.to_dict() if err.holder is not None else None))
                continue
            result.actions.append(action)
            action.lease = lease.holder.to_dict()
            lost = False
            record = None
            try:
                if lease.inherited is not None:
                    result.healed.append(grant.service.name)
                    self._surge_run(grant.service, lease).undo(lease.inherited)
                if grant.mode == "stop":
                    self.stop(grant, action, lease)
                elif grant.mode == "surge":
                    self.surge(grant, action, lease)
                else:
                    self.redeploy(grant, action, lease)
                record = self._step_record(grant, action)
            except LeaseLost as err:
                lost = True
                action.error = str(err)
                break
            except TasksVanished as err:
                # Not the run's failure: the runner re-plans this service; the next go on.
                action.vanished = [dict(f) for f in err.failures]
                action.detail = "; ".join(p for p in (
                    f"re-planned: {err}", action.detail) if p)
            except (SettleTimeout, ProtectionFailed, SurgeAbandoned, LeaseError) as err:
                action.error = str(err)
                break
            except AWS_ERRORS as err:
                action.error = f"{type(err).__name__}: {err}"
                break
            except BaseException:
                lost = True     # the process is dying: no more calls; the lease expires
                raise
            finally:
                if not lost:
                    self._release(lease, action, record)
        return result

    def _claim(self, service: Service) -> Lease:
        if self.leases is None:
            raise EngineError("no lease store: the executor writes nothing without a lease")
        return self.leases.acquire(service.arn)

    def _release(self, lease: Lease, action: Action, record: dict | None = None) -> None:
        try:
            self.leases.release(lease, {breaker.RECORD: record} if record else None)
        except LeaseLost as err:
            action.error = action.error or str(err)
        except AWS_ERRORS as err:
            # The lease expires by itself (lease_seconds); the step's own result stands.
            action.error = action.error or f"releasing the lease: {type(err).__name__}: {err}"

    # -------------------------------------------------------------------------- modes
    def stop(self, grant: Grant, action: Action, lease: Lease) -> None:
        """StopTask on each granted task. A task found stopped already (by someone else or
        ECS) or gone means the service has fewer healthy tasks than the grant counted:
        ``TasksVanished`` before any further stop, for the runner to re-plan. So does a
        service that runs too few tasks now for every granted stop to keep its floor (read
        immediately before the first stop: tasks lost since the decision's read)."""
        ecs = FencedEcs(self.api, self.cluster, grant.service.name, self.leases, lease)
        still_spare(ecs.describe(), grant)
        for move in grant.moves:
            try:
                task = ecs.stop_task(move.task_arn, STOP_REASON)
            except AWS_ERRORS as err:
                if not _task_not_found(err):
                    raise
                task = {"lastStatus": "MISSING"}
            gone = _gone(task)
            if gone:
                action.detail = f"stopped {len(action.moves)} task(s) before one was gone"
                raise TasksVanished(f"task {move.task_arn} was {gone.lower()} before this "
                                    "run stopped it",
                                    ({"arn": move.task_arn, "reason": gone},))
            action.moves.append(move)
            action.stopped_tasks.append(move.task_arn)
        action.detail = f"stopped {len(action.moves)} task(s); ECS places the replacements"

    def redeploy(self, grant: Grant, action: Action, lease: Lease) -> None:
        FencedEcs(self.api, self.cluster, grant.service.name, self.leases,
                  lease).force_new_deployment()
        action.moves.extend(grant.moves)
        action.detail = "forced a new deployment (every task of the service restarts)"

    def _surge_run(self, service: Service, lease: Lease,
                   targets: dict[str, int] | None = None) -> SurgeRun:
        return SurgeRun(
            api=self.api, cluster=self.cluster, service=service, store=self.leases, lease=lease,
            health=self.health, deadline=self.deadline, sleep=self.sleep,
            poll_interval=self.options.poll_interval,
            protection_minutes=self.protection_expiry_minutes,
            read_protection=lambda arns: read_protection(self.api, self.cluster, arns),
            scaling_floor=lambda: self.scaling_floor(service),
            autoscaled_since=lambda since: self.autoscaled_since(service, since),
            choose=lambda tasks, k: choose_removals(tasks, targets or {}, k))

    def surge(self, grant: Grant, action: Action, lease: Lease) -> None:
        """The surge's phases (``surging.SurgeRun``) under ``lease``; whatever ends it early
        undoes it safely (a lost lease: only when it can be claimed back)."""
        service = grant.service
        run = self._surge_run(service, lease, dict(grant.targets))
        planned_k = grant.surge.k if grant.surge is not None else len(grant.moves)
        before = run.ecs.desired()
        k = min(planned_k, max(0, math.floor(before * service.max_percent / 100) - before))
        if k <= 0:
            action.detail = (f"desiredCount is {before} now; maximumPercent "
                             f"{service.max_percent} leaves no room; nothing done")
            return
        originals = [t.arn for t in grant.tasks]
        try:
            run.keepers(k, before, originals, [m.task_arn for m in grant.moves])
            run.raise_count(service.max_percent)
            action.touched = True
            run.wait_new_healthy(originals)
            run.choose_removals()
            self._note_landing(grant, action, run.out.new_tasks)
            run.lower_count()
            run.wait_scaled_in()
            run.finish()
        except LeaseLost as err:
            action.touched = action.touched or run.out.raised
            action.detail = self._after_lost(service, run, err)
            raise
        except BaseException as err:
            if not isinstance(err, Exception):
                raise                       # killed: nothing more may be called
            action.touched = action.touched or run.out.raised
            try:
                action.detail = "surge abandoned; " + run.undo()
            except LeaseLost as lost:
                action.detail = self._after_lost(service, run, lost)
            raise
        out = run.out
        by_arn = {m.task_arn: m for m in grant.moves}
        before_step = set(originals)
        restarted = [arn for arn in out.leaving if arn in before_step]
        action.moves.extend(by_arn.get(arn) or Move(service.name, arn, "", "", "", "")
                            for arn in restarted)
        action.stopped_tasks.extend(restarted)
        action.surge_overhead.extend(arn for arn in out.leaving if arn not in before_step)
        if out.others is not None:
            action.detail = (f"desiredCount {out.before} -> {out.before + out.k}; set to "
                             f"{out.others} by someone else during the surge, left as they "
                             "set it")
            return
        action.detail = (f"desiredCount {out.before} -> {out.before + out.k} -> back by "
                         f"{out.k}; {out.protected} task(s) protected during the scale-in"
                         + (f"; {action.detail}" if action.detail else ""))

    def _after_lost(self, service: Service, run: SurgeRun, err: LeaseLost) -> str:
        """The lease was lost mid-surge. If it is free again (the item deleted, or expired),
        claim it back and undo this run's surge; if another run holds it, that run has this
        surge's state (it heals it): write nothing."""
        try:
            lease = self.leases.acquire(service.arn)
        except LeaseHeld:
            return f"{err}; the lease's new holder heals this surge"
        run.lease, run.ecs.lease = lease, lease
        try:
            state = run.state or lease.inherited
            return f"{err}; lease claimed back (fence {lease.fence}), " + run.undo(state)
        finally:
            self.leases.release(lease)

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
    def heals_due(self, snapshot: ClusterSnapshot) -> list[str]:
        """The services ``heal`` would restore now, read without writing anything (check mode
        shows them): a surge state in a lease item nobody holds, or an earlier version's
        ``taskspread:surge`` tag whose deadline has passed. A lease table that cannot be read
        shows no lease heals (a real run reports that it has no lease)."""
        now, out, leases = self.clock(), [], self.leases
        for service in snapshot.services.values():
            marker = service.tags.get(SURGE_TAG)
            due = marker is not None and SurgeLock.from_tag(marker).deadline <= now
            if not due and leases is not None:
                try:
                    state, holder = leases.pending_surge(service.arn)
                except LeaseError:
                    leases = None
                else:
                    due = state is not None and holder is None
            if due:
                out.append(service.name)
        return out

    def heal(self, snapshot: ClusterSnapshot) -> list[str]:
        """Undo what killed runs left: a surge state in an expired lease item (under a fresh
        claim), and a ``taskspread:surge`` tag of an earlier version whose deadline passed."""
        healed = []
        if self.leases is None:
            return healed
        now = self.clock()
        for service in snapshot.services.values():
            marker = service.tags.get(SURGE_TAG)
            legacy = SurgeLock.from_tag(marker) if marker is not None else None
            if legacy is not None and now < legacy.deadline:
                legacy = None           # its run may still be in flight; the evictor skips it
            state, holder = self.leases.pending_surge(service.arn)
            if legacy is None and (state is None or holder is not None):
                continue
            try:
                lease = self.leases.acquire(service.arn)
            except LeaseHeld:
                continue
            try:
                if lease.inherited is not None:
                    self._surge_run(service, lease).undo(lease.inherited)
                if legacy is not None:
                    self._heal_legacy(service, legacy, lease)
            finally:
                self.leases.release(lease)
            healed.append(service.name)
        return healed

    def _heal_legacy(self, service: Service, lock: SurgeLock, lease: Lease) -> None:
        ecs = FencedEcs(self.api, self.cluster, service.name, self.leases, lease)
        target = restore_count(lock, ecs.desired())
        if target is not None and self.autoscaled_since(service, lock.start):
            target = None               # Service Auto Scaling wrote the count after us
        if target is not None:
            ecs.set_desired(max(target, self.scaling_floor(service)))
        self.leases.check(lease)
        self._untag(service, SURGE_TAG)

    # ------------------------------------------------------------------ ECS helpers
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

    def _untag(self, service: Service, key: str) -> None:
        self.api.call("untag_resource", resourceArn=service.arn, tagKeys=[key])

    def _step_record(self, grant: Grant, action: Action) -> dict:
        """The no-progress breaker's record of a completed action (``breaker.Record``), in the
        lease store's time."""
        return breaker.Record(cause=grant.cause.digest, need=grant.need,
                              at=self.leases.now(), run=self.run_id, mode=grant.mode,
                              moves=len(action.moves)).to_value()

    def protection_expiry_minutes(self) -> int:
        """Protection this run adds expires no later than the run's deadline (whole minutes,
        at least 1, at most ``protection_minutes``): a killed run leaves none behind it."""
        left = math.floor(self.deadline.remaining() / 60)
        return max(1, min(self.options.protection_minutes, left))

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


def _task_not_found(err: Exception) -> bool:
    """StopTask's answer for a task ECS no longer knows."""
    response = getattr(err, "response", None) or {}
    error = response.get("Error", {})
    return (error.get("Code") in ("InvalidParameterException", "ClientException")
            and "not found" in str(error.get("Message", "")).lower())


def _gone(task: dict) -> str:
    """'' when StopTask stopped a running task; else why it did not: the task was STOPPED
    already, stopped by someone else (another stop reason), or MISSING."""
    if task.get("lastStatus") == "MISSING":
        return "MISSING"
    if task.get("lastStatus") == "STOPPED":
        return "STOPPED"
    if task.get("stoppedReason") not in (None, "", STOP_REASON):
        return "STOPPING"
    return ""


def service_settled(doc: dict) -> bool:
    deployments = doc.get("deployments", [])
    rollout = deployments[0].get("rolloutState", "COMPLETED") if deployments else "COMPLETED"
    return (len(deployments) <= 1 and rollout == "COMPLETED"
            and doc.get("runningCount") == doc.get("desiredCount")
            and doc.get("pendingCount", 0) == 0)
