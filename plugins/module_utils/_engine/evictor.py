"""The evictor: the one place that decides what may be disturbed now, and the only place that
spends the disruption budget.

The planner proposes moves (pure, from the snapshot). The evictor takes them service by service
and grants a move only when it can happen now without harm:

* **leases**: a service whose lease (``lease.py``) another run holds is skipped
  (``lease_held``, with the holder), as is one carrying a surge tag of an earlier version until
  its deadline ("surge in progress"; the executor heals it after);
* **no progress**: a service whose last step (stop, surge or redeploy) did not reduce the moves
  it needs while the cause of that step still stands (``breaker.py``: its record in the lease
  item) is skipped until the cause changes or ``no_progress_minutes`` have passed, so no move
  that did not help is repeated (a Lambda triggered by the service's own steady state cannot
  loop, and a redeploy cannot flip 4/0 to 0/4 and back);
* **mode and floor**: ``stop`` needs a spare healthy task above the floor
  (``ceil(desired * minimumHealthyPercent / 100)``; healthy = RUNNING, and HEALTHY when a
  container health check exists, and no more than the healthy targets of its load balancer);
  ``surge`` needs room under maximumPercent and enough time before the run's deadline;
* **protection**: task scale-in protection is read (GetTaskProtection, 100 tasks a call) for
  every task a granted move would stop; a protected task is never stopped: another unprotected
  task on the same instance takes its place, or the move is dropped;
* **budget**: the cluster-wide ``max_moves`` per step and, optionally, ``max_moves_per_az``
  (moves out of one AZ per step). Both count restarts: tasks that ran before the step and
  stop. A surge's size is bounded by maximumPercent, not by the budget; the new tasks it
  starts and has ECS scale in again at once are its ``surge_overhead`` (at most its size),
  reported apart.

A service that cannot move spends nothing and is refused with its reason; only granted moves
count, and the executor reports only what happened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Sequence

from . import bounds, breaker
from .aws_client import CountingClient, chunks
from .codes import Refused, Status
from .deadline import Deadline
from .errors import LeaseUnavailable, ProtectionFailed
from .gc_pause import without_gc
from .health import target_states, unhealthy_targets
from .breaker import Cause, Record, cause_of
from .candidates import CandidateIndex
from .lease import Holder, LeaseStore, record_of
from .lock import SURGE_TAG, SurgeLock
from .model import NATIVE_STRATEGIES, ClusterSnapshot, Service, Task
from .plan_types import Move, Plan, ServicePlan
from .surge import SurgePlan, SurgeRefusal, choose_surge, surge_moves, target_counts

STRATEGIES = ("auto", "stop", "surge", "redeploy")
MAX_TASKS_PER_GET_PROTECTION = 100


@dataclass(frozen=True, slots=True)
class Limits:
    """What the evictor may spend. ``max_moves``: per step, None = 10% of the cluster's live
    tasks (at least 1); ``max_moves_per_az``: per step and source AZ, None = no limit;
    ``surge_min_seconds``: a surge starts only with at least this long before the deadline;
    ``no_progress_minutes``: how long the no-progress breaker holds a service (``breaker.py``)."""

    strategy: str = "auto"
    max_moves: int | None = None
    max_moves_per_az: int | None = None
    surge_min_seconds: float = 120.0
    no_progress_minutes: float = breaker.DEFAULT_MINUTES

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, "
                             f"got {self.strategy!r}")
        for name in ("max_moves", "max_moves_per_az"):
            if getattr(self, name) is not None:
                bounds.check(name, getattr(self, name))
        bounds.check("surge_min_seconds", self.surge_min_seconds)
        bounds.check("no_progress_minutes", self.no_progress_minutes)


@dataclass(slots=True)
class Grant:
    """Moves of one service the executor may make now, and how. ``cause`` and ``need``: what
    the step depends on and the moves the service needed when it was granted (the breaker's
    record, written by the executor when the step completes)."""

    service: Service
    mode: str
    moves: list[Move]
    tasks: Sequence[Task]
    cause: Cause
    need: int
    targets: Mapping[str, int] = field(default_factory=dict)
    surge: SurgePlan | None = None

    def to_dict(self) -> dict:
        """Compact: the moves themselves are listed once, in the result's plan."""
        out = {"service": self.service.name, "mode": self.mode, "moves": len(self.moves)}
        if self.surge is not None:
            out["surge"] = {"k": self.surge.k, "remaining_moves": self.surge.remaining_moves,
                            "ties": self.surge.ties, "restarts": self.surge.restarts,
                            "surge_overhead": self.surge.overhead}
        return out


@dataclass(frozen=True, slots=True)
class Refusal:
    service: str
    code: Refused
    message: str
    lease: dict | None = None       # lease_held: the holder (owner, fence, since, until)
    no_progress: dict | None = None  # no_progress: the breaker's record (breaker.Record)

    def to_dict(self) -> dict:
        out = {"service": self.service, "code": str(self.code), "message": self.message}
        if self.lease is not None:
            out["lease"] = self.lease
        if self.no_progress is not None:
            out["no_progress"] = self.no_progress
        return out


@dataclass(slots=True)
class Decision:
    grants: list[Grant] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    max_moves: int = 0
    spent: int = 0

    @property
    def moves(self) -> list[Move]:
        return [m for g in self.grants for m in g.moves]

    @property
    def surge_overhead(self) -> int:
        """New tasks the granted surges start and have ECS scale in again (not restarts)."""
        return sum(g.surge.overhead for g in self.grants if g.surge is not None)

    def to_dict(self) -> dict:
        return {"max_moves": self.max_moves, "spent": self.spent,
                "surge_overhead": self.surge_overhead,
                "grants": [g.to_dict() for g in self.grants],
                "refused": [r.to_dict() for r in self.refusals]}


# ------------------------------------------------------------------------- pure limits

def default_max_moves(snapshot: ClusterSnapshot) -> int:
    """The step's budget when ``Limits.max_moves`` is None: 10% of the cluster's live tasks,
    at least 1 (from DescribeClusters when the read was scoped to some services)."""
    return max(1, snapshot.cluster_tasks() // 10)


def floor_running(service: Service) -> int:
    """The fewest healthy tasks ECS's minimumHealthyPercent allows."""
    return math.ceil(service.desired * service.min_healthy_percent / 100)


def surge_room(service: Service) -> int:
    """Extra tasks maximumPercent allows above desiredCount."""
    return max(0, math.floor(service.desired * service.max_percent / 100) - service.desired)


def healthy_tasks(service: Service, tasks: Sequence[Task]) -> int:
    """Tasks ECS counts as healthy for minimumHealthyPercent: RUNNING, and HEALTHY when a
    container of the task definition has a health check (load balancers are checked by the
    caller, which can read target health)."""
    needs_check = bool(getattr(service, "container_health_check", False))
    return sum(1 for t in tasks if t.last_status == "RUNNING"
               and (not needs_check or t.health == "HEALTHY"))


def surge_time_refusal(service: str, deadline: Deadline, min_seconds: float) -> Refusal | None:
    """The refusal of a surge that would start with less than ``min_seconds`` before the run's
    deadline, else None. Checked when the evictor grants a surge and again by the executor
    just before each surge of a step starts (an earlier surge of the same step may have used
    the time)."""
    left = deadline.remaining()
    if left >= min_seconds:
        return None
    return Refusal(service, Refused.DEADLINE,
                   f"a surge needs about {min_seconds:.0f} s and {left:.0f} s are left before "
                   "the run's deadline; not started")


# ---------------------------------------------------------------------------- evictor

class Evictor:
    """Grants the planner's moves that can happen now (see the module docstring)."""

    def __init__(self, api: CountingClient, cluster_arn: str, limits: Limits,
                 deadline: Deadline, elb: CountingClient | None = None,
                 leases: LeaseStore | None = None):
        """``leases``: the lease store; a service whose lease another run holds is refused."""
        self.api, self.cluster, self.elb, self.limits = api, cluster_arn, elb, limits
        self.deadline = deadline
        self.leases = leases

    @without_gc
    def decide(self, snapshot: ClusterSnapshot, plan: Plan, budget: int | None = None) -> Decision:
        """``budget``: the moves left to spend (a re-plan within a step); default: the step's
        whole budget."""
        if budget is None:
            budget = self.limits.max_moves or default_max_moves(snapshot)
        decision = Decision(max_moves=budget)
        per_az: dict[str, int] = defaultdict(int)
        index: CandidateIndex | None = None
        pools: dict = {}
        for sp in plan.services:
            if sp.status != Status.REBALANCE or not sp.moves:
                continue
            service = snapshot.services[sp.service]
            tasks = snapshot.tasks.get(sp.service, ())
            index = index or CandidateIndex(snapshot)
            cause = cause_of(snapshot, service.name, plan.max_skew, index, pools)
            refusal = self._gate(service, cause, sp.moves_needed)
            if refusal is not None:
                decision.refusals.append(refusal)
                continue
            mode = self._mode(service, tasks)
            if isinstance(mode, Refusal):
                decision.refusals.append(mode)
                continue
            left = budget - decision.spent
            if left <= 0:
                decision.refusals.append(Refusal(
                    service.name, Refused.DEFERRED,
                    f"{len(sp.moves)} move(s) deferred: the step's budget of max_moves={budget} "
                    f"was spent on services before it; a later step takes them"))
                continue
            capacity = self._capacity(service, tasks, mode)
            surge = None
            if mode == "surge":
                # The surge's size is bounded by maximumPercent; the budget counts only
                # its restarts (the new tasks it scales in again are its overhead).
                surge = self._surge_plan(snapshot, sp, capacity, per_az, plan.max_skew, left)
                if isinstance(surge, Refusal):
                    decision.refusals.append(surge)
                    continue
                take, dropped = surge_moves(snapshot, surge), 0
            else:
                take, dropped = self._take(sp.moves, tasks, min(capacity, left), per_az)
            if not take:
                decision.refusals.append(self._why_none(service, sp.moves, dropped, capacity))
                continue
            for move in take:
                per_az[move.source_az] += 1
            decision.spent += len(take)
            decision.grants.append(Grant(service, mode, take, tasks, cause, sp.moves_needed,
                                         target_counts(sp, service.name), surge))
        return decision

    def _surge_plan(self, snapshot: ClusterSnapshot, sp: ServicePlan, room: int,
                    per_az: dict[str, int], max_skew: int,
                    restarts_left: int) -> SurgePlan | Refusal:
        """The surge ECS will actually make (``surge.choose_surge``, pure), given the tasks
        protected by anyone now (read here); its refusal as the evictor's."""
        tasks = snapshot.tasks.get(sp.service, ())
        protected = self.protected([t.arn for t in tasks])
        choice = choose_surge(snapshot, sp, room, per_az, max_skew, protected,
                              self.limits.max_moves_per_az, restarts_left)
        if isinstance(choice, SurgePlan):
            return choice
        code = {SurgeRefusal.UNPREDICTABLE: Refused.NO_DISRUPTION_BUDGET,
                SurgeRefusal.AZ_BUDGET: Refused.AZ_BUDGET,
                SurgeRefusal.PROTECTED: Refused.PROTECTED,
                SurgeRefusal.BUDGET: Refused.DEFERRED,
                SurgeRefusal.WOULD_NOT_HELP: Refused.SURGE_WOULD_NOT_HELP}[choice.code]
        return Refusal(sp.service, code, choice.message)

    # ------------------------------------------------------------------ gates
    def _gate(self, service: Service, cause: Cause, need: int) -> Refusal | None:
        marker = service.tags.get(SURGE_TAG)
        if marker is not None:
            lock = SurgeLock.from_tag(marker)
            return Refusal(service.name, Refused.SURGE_IN_PROGRESS,
                           f"surge in progress (lock of run {lock.owner or 'unknown'}, "
                           f"phase {lock.phase}, deadline {lock.deadline:.0f}); not touched")
        holder, record = self._lease_item(service)
        if holder is not None:
            return Refusal(service.name, Refused.LEASE_HELD,
                           f"run {holder.owner} holds the service's lease (fence "
                           f"{holder.fence}, since {holder.since:.0f}, until {holder.until:.0f}); "
                           "not touched", holder.to_dict())
        why = breaker.verdict(record, cause, need, self.leases.now() if self.leases else 0.0,
                              self.limits.no_progress_minutes)
        if why:
            return Refusal(service.name, Refused.NO_PROGRESS, why,
                           no_progress=record.to_value() if record else None)
        return None

    def _lease_item(self, service: Service) -> tuple[Holder | None, Record | None]:
        """From one read of the service's lease item: its live holder when that is another
        run, and the no-progress breaker's record. Both None without a lease store, or when
        the table cannot be read (the claim itself is the check that counts)."""
        if self.leases is None:
            return None, None
        try:
            item = self.leases.read(service.arn)
        except LeaseUnavailable:
            return None, None
        holder = self.leases.live_holder(item)
        record = Record.from_value(record_of(item or {}, breaker.RECORD))
        return (holder if holder is not None and holder.owner != self.leases.run_id
                else None), record

    def _mode(self, service: Service, tasks: Sequence[Task]) -> str | Refusal:
        wanted = self.limits.strategy
        if wanted == "redeploy":
            if service.deployment_strategy in NATIVE_STRATEGIES:
                return Refusal(service.name, Refused.REDEPLOY_NATIVE_STRATEGY,
                               f"strategy redeploy would start a {service.deployment_strategy} "
                               "deployment (a full green scale-up beside the blue tasks, traffic "
                               "shift and bake), not a rebalance; use auto, stop or surge")
            return "redeploy"
        spare = self.spare(service, tasks)
        room = surge_room(service)
        if wanted in ("auto", "stop") and spare > 0:
            return "stop"
        if wanted in ("auto", "surge") and room > 0:
            if wanted == "auto" and service.target_groups and self.elb is not None:
                sick = unhealthy_targets(service.target_groups, self.target_states(
                    service.target_groups))
                if sick:
                    return Refusal(service.name, Refused.TARGETS_UNHEALTHY,
                                   f"{len(sick)} target(s) of the service are not healthy "
                                   f"({'; '.join(sick[:3])}); a surge would wait for health "
                                   "that may not come: not started")
            return surge_time_refusal(service.name, self.deadline,
                                      self.limits.surge_min_seconds) or "surge"
        floor = floor_running(service)
        if wanted == "stop":
            text = (f"strategy stop needs a spare healthy task: {self._healthy(service, tasks)} "
                    f"healthy and minimumHealthyPercent {service.min_healthy_percent} keeps "
                    f"{floor}")
        else:
            text = (f"minimumHealthyPercent {service.min_healthy_percent} keeps {floor} of "
                    f"{self._healthy(service, tasks)} healthy task(s) and maximumPercent "
                    f"{service.max_percent} leaves no room to start one more")
        return Refusal(service.name, Refused.NO_DISRUPTION_BUDGET, text)

    def _capacity(self, service: Service, tasks: Sequence[Task], mode: str) -> int:
        if mode == "stop":
            return self.spare(service, tasks)
        if mode == "surge":
            return surge_room(service)
        return len(tasks)

    def _take(self, planned: Sequence[Move], tasks: Sequence[Task], want: int,
              per_az: dict[str, int]) -> tuple[list[Move], int]:
        """Up to ``want`` planned moves that pass protection and the per-AZ budget, reading
        protection only for the moves looked at (a chunk at a time), and how many were
        dropped for protection."""
        taken: list[Move] = []
        dropped, pos = 0, 0
        while len(taken) < want and pos < len(planned):
            chunk = planned[pos:pos + max(want - len(taken), 1)]
            pos += len(chunk)
            chosen = {m.task_arn for m in taken}
            free, lost = self._unprotected(chunk, tasks, exclude=chosen)
            dropped += lost
            # A task an earlier chunk took in place of a protected neighbour may be planned
            # in its own right later: it is granted once.
            free = [m for m in free if m.task_arn not in chosen]
            taken.extend(self._within_az_budget(free, per_az, taken))
        return taken[:want], dropped

    def _within_az_budget(self, moves: list[Move], per_az: dict[str, int],
                          already: Sequence[Move] = ()) -> list[Move]:
        cap = self.limits.max_moves_per_az
        if cap is None:
            return moves
        used = dict(per_az)
        for move in already:
            used[move.source_az] = used.get(move.source_az, 0) + 1
        out = []
        for move in moves:
            if used.get(move.source_az, 0) < cap:
                used[move.source_az] = used.get(move.source_az, 0) + 1
                out.append(move)
        return out

    def _why_none(self, service: Service, planned: Sequence[Move], dropped: int,
                  capacity: int) -> Refusal:
        if dropped and dropped >= len(planned):
            return Refusal(service.name, Refused.PROTECTED,
                           f"every task the plan would move ({dropped}) is protected from "
                           "scale-in by someone else and has no unprotected neighbour on its "
                           "instance; protected tasks are never stopped")
        if capacity <= 0:
            return Refusal(service.name, Refused.NO_DISRUPTION_BUDGET,
                           "no spare healthy task above the minimum healthy floor right now")
        return Refusal(service.name, Refused.AZ_BUDGET,
                       f"max_moves_per_az={self.limits.max_moves_per_az} is spent for the "
                       "source AZ(s) of its moves in this step")

    # -------------------------------------------------------------- health
    def _healthy(self, service: Service, tasks: Sequence[Task]) -> int:
        healthy = healthy_tasks(service, tasks)
        if service.target_groups and self.elb is not None:
            healthy = min(healthy, self.healthy_targets(service.target_groups))
        return healthy

    def spare(self, service: Service, tasks: Sequence[Task]) -> int:
        return max(0, self._healthy(service, tasks) - floor_running(service))

    def target_states(self, target_groups: Sequence[str]) -> dict:
        """Each target's state per group (DescribeTargetHealth)."""
        return target_states({g: self.elb.call("describe_target_health", TargetGroupArn=g)
                              for g in target_groups})

    def healthy_targets(self, target_groups: Sequence[str]) -> int:
        """Healthy targets of the service: the smallest count over its target groups."""
        counts = []
        for arn in target_groups:
            resp = self.elb.call("describe_target_health", TargetGroupArn=arn)
            counts.append(sum(1 for d in resp.get("TargetHealthDescriptions", [])
                              if d.get("TargetHealth", {}).get("State") == "healthy"))
        return min(counts) if counts else 0

    # ---------------------------------------------------------- protection
    def protected(self, task_arns: Sequence[str]) -> set[str]:
        """Tasks protected from scale-in now, by anyone. A task ECS could not answer for
        (``failures``) counts as protected: what is not known to be free is not stopped."""
        return read_protection(self.api, self.cluster, task_arns)

    def _unprotected(self, moves: Sequence[Move], tasks: Sequence[Task],
                     exclude: set[str] = frozenset()) -> tuple[list[Move], int]:
        """The moves with every protected task swapped for an unprotected one on the same
        instance (never one in ``exclude``, already chosen), or dropped; and how many were
        dropped."""
        sources = {m.source_instance for m in moves}
        on_source = [t for t in tasks if t.instance_arn in sources]
        if not on_source:
            return list(moves), 0
        protected = self.protected([t.arn for t in on_source])
        if not protected:
            return list(moves), 0
        chosen = {m.task_arn for m in moves if m.task_arn not in protected} | set(exclude)
        spare_by_instance: dict[str, list[str]] = defaultdict(list)
        for t in on_source:
            if t.arn not in protected and t.arn not in chosen:
                spare_by_instance[t.instance_arn].append(t.arn)
        out, dropped = [], 0
        for move in moves:
            if move.task_arn not in protected:
                out.append(move)
                continue
            free = spare_by_instance.get(move.source_instance)
            if free:
                out.append(_with_task(move, free.pop()))
            else:
                dropped += 1
        return out, dropped


def _with_task(move: Move, task_arn: str) -> Move:
    return Move(move.service, task_arn, move.source_instance, move.source_az,
                move.destination_instance, move.destination_az)


def read_protection(api: CountingClient, cluster: str, task_arns: Sequence[str]) -> set[str]:
    """GetTaskProtection in batches of 100: the tasks that are protected, plus those ECS
    reported a failure for (unknown protection is treated as protected)."""
    protected: set[str] = set()
    for batch in chunks(list(task_arns), MAX_TASKS_PER_GET_PROTECTION):
        resp = api.call("get_task_protection", cluster=cluster, tasks=list(batch))
        protected.update(p["taskArn"] for p in resp.get("protectedTasks", [])
                         if p.get("protectionEnabled"))
        protected.update(_failed_arns(resp, batch))
    return protected


def _failed_arns(resp: dict, batch: Sequence[str]) -> set[str]:
    out = set()
    for failure in resp.get("failures", []) or []:
        arn = failure.get("arn", "")
        out.update(a for a in batch if a == arn or (arn and a.endswith(arn.rsplit("/", 1)[-1])))
    return out


def require_no_failures(resp: dict, what: str) -> None:
    """Raise when ECS reported per-task failures for a protection change."""
    failures = resp.get("failures") or []
    if failures:
        listed = ", ".join(f"{f.get('arn', '?')}: {f.get('reason', '?')}" for f in failures)
        raise ProtectionFailed(f"{what} failed for {len(failures)} task(s): {listed}")
