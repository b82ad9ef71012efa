"""The level-triggered loop the modules and the Lambda share: read, plan, grant, act, settle.

``rebalance()`` reads the cluster, plans (pure), lets the evictor grant what may move now, and
(unless ``check_mode``) executes that one step; with ``wait`` it waits for the touched services
to settle (one COMPLETED deployment, running == desired, nothing pending, stopped tasks
STOPPED), reads the world again and repeats until balanced, nothing is left to do, or the run's
one absolute deadline (``wait_timeout`` from the start; the Lambda passes its remaining time
minus a margin). Every wait of the run, a surge's included, ends by that deadline.

Every step on a service holds the service's lease (``lease.py``: DynamoDB table
``lease_table``, through ``ddb_client``). It can be killed at any point: the next run re-reads
everything, skips a service whose lease another run holds, and once a killed run's lease has
expired (``lease_seconds`` after its last renewal, on the store's clock) heals the surge state
it left in the lease item by delta and removes the protection it recorded there.

A task a step counted on that vanished meanwhile (``TasksVanished``: stopped by someone else or
by ECS between the read and the step's write) does not end the run: the service is read again
(a scoped read of the services concerned), planned and decided again within the same step, at
most ``MAX_REPLANS`` times per service per run and never past the run's deadline; each re-plan is
in the result (``replanned``), with ECS's per-task failures.

Without a usable lease table (missing and not creatable, or a permission missing) the run
plans but acts on nothing: ``error`` names the table and the permission. Check mode never
creates the table.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from . import bounds, breaker
from .aws_client import (
    DEFAULT_READ_RATE, CountingClient, ReadPacer, check_read_rate, client_config,
)
from .codes import Reason, Status
from .deadline import Deadline
from .errors import LeaseUnavailable, SettleTimeout, UnknownServices
from .evictor import Decision, Evictor, Limits
from .executor import AWS_ERRORS, ExecOptions, Executor, StepResult
from .lease import (
    DEFAULT_LEASE_SECONDS, DEFAULT_TABLE, LeaseStore, validate_lease_seconds,
)
from .lock import SURGE_TAG, SurgeLock
from .model import ClusterSnapshot
from .plan_types import Move, Plan, PlanOptions
from .planner import plan
from .report import report
from .snapshot import check_services, take_snapshot

MAX_REPLANS = 3         # re-plans per service per run around a task that vanished


@dataclass(frozen=True, slots=True)
class RebalanceRequest:
    """Everything a run needs, validated before any API call."""

    cluster: str
    services: tuple[str, ...] | None = None
    strategy: str = "auto"
    max_skew: int = 1
    max_moves: int | None = None
    max_moves_per_az: int | None = None
    wait: bool = True
    wait_timeout: float = 900.0
    check_mode: bool = False
    protection_minutes: int = 10
    poll_interval: float = 5.0
    surge_min_seconds: float = 120.0
    run_id: str = ""
    detail: bool | tuple[str, ...] = True
    lease_table: str = DEFAULT_TABLE
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    lease_table_create: bool = True
    api_read_rate: float = DEFAULT_READ_RATE
    scope_reason: str = ""
    no_progress_minutes: float = breaker.DEFAULT_MINUTES

    def __post_init__(self) -> None:
        if not self.cluster:
            raise ValueError("cluster is required")
        check_services(self.services)
        bounds.check("max_skew", self.max_skew)
        bounds.check("wait_timeout", self.wait_timeout)
        bounds.check("poll_interval", self.poll_interval)
        check_read_rate(self.api_read_rate)
        if self.poll_interval > self.wait_timeout:
            raise ValueError(f"poll_interval ({self.poll_interval}) must not exceed "
                             f"wait_timeout ({self.wait_timeout})")
        if not self.lease_table:
            raise ValueError("lease_table must not be empty")
        validate_lease_seconds(self.lease_seconds)
        self.limits()           # strategy, max_moves(_per_az), surge_min_seconds, no_progress
        self.exec_options()     # protection_minutes, poll_interval

    def plan_options(self) -> PlanOptions:
        """The planner proposes every move; the evictor spends the budget."""
        return PlanOptions(services=self.services, max_skew=self.max_skew)

    def scope(self) -> dict:
        """Which part of the cluster the run reads and decides about, and why: the named
        services alone (their tasks; other services' tasks count only as the capacity they
        use) or the whole cluster."""
        if self.services:
            return {"read": "services", "services": list(self.services),
                    "reason": self.scope_reason or "the request names these services"}
        return {"read": "cluster", "services": None,
                "reason": self.scope_reason or "no services named: the whole cluster"}

    def limits(self) -> Limits:
        return Limits(strategy=self.strategy, max_moves=self.max_moves,
                      max_moves_per_az=self.max_moves_per_az,
                      surge_min_seconds=self.surge_min_seconds,
                      no_progress_minutes=self.no_progress_minutes)

    def exec_options(self) -> ExecOptions:
        return ExecOptions(protection_minutes=self.protection_minutes,
                           poll_interval=self.poll_interval,
                           surge_min_seconds=self.surge_min_seconds)


@dataclass(slots=True)
class RebalanceResult:
    plan: Plan
    before: dict
    after: dict
    decision: Decision | None = None
    last_decision: Decision | None = None
    last_plan: Plan | None = None
    steps: list[StepResult] = field(default_factory=list)
    api_calls: int = 0
    api_retries: int = 0
    timed_out: bool = False
    error: str = ""
    check_mode: bool = False
    run_id: str = ""
    unsettled: tuple[str, ...] = ()
    would_heal: tuple[str, ...] = ()
    scope: dict = field(default_factory=dict)
    reads: dict = field(default_factory=dict)
    detail: bool | tuple[str, ...] = True
    replanned: list[dict] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """In check mode: whether a run would change anything (Ansible's convention)."""
        if self.check_mode:
            return bool(self.decision and self.decision.grants) or bool(self.would_heal)
        return any(s.changed for s in self.steps)

    @property
    def moves(self) -> list:
        return [m for s in self.steps for m in s.moves]

    @property
    def balanced(self) -> bool:
        """Every service balanced, or skipped for a reason, in ``after``. A service the last
        step acted on that the run did not see settle (``wait: false``, or the deadline came
        first) counts only when it is balanced itself: its skip then only says that ECS is
        still replacing tasks."""
        return all(d["balanced"] or (d["skip"] is not None and name not in self.unsettled)
                   for name, d in self.after.items())

    @property
    def surge_overhead(self) -> int:
        """New tasks the run's surges started and had ECS scale in again in the same step
        (the price of steering placement; not restarts, not in ``moves_made``). In check
        mode: what the first step's surges would cost."""
        if self.check_mode:
            return self.decision.surge_overhead if self.decision else 0
        return sum(len(a.surge_overhead) for s in self.steps for a in s.actions)

    def skipped(self) -> list[dict]:
        """Why each service that is not balanced at the end of the run was left alone or is
        still out of balance: the latest plan's skips and reasons (at capacity with its
        figures, ...), then the evictor's refusals of the last step
        (one entry per service). A service the run balanced has no entry."""
        out: dict[str, dict] = {}
        for sp in (self.last_plan or self.plan).services:
            if sp.status == Status.SKIPPED and sp.skip:
                out[sp.service] = {"service": sp.service, **sp.skip.to_dict()}
            elif sp.reason is not None and (
                    sp.status == Status.AT_CAPACITY or sp.reason.code == Reason.AT_CAPACITY):
                # The planner gives every service it leaves out of balance its reason.
                out[sp.service] = {"service": sp.service, **sp.reason.to_dict()}
        latest = self.last_decision or self.decision
        if latest is not None:
            for refusal in latest.refusals:
                out[refusal.service] = refusal.to_dict()
        return list(out.values())

    def message(self) -> str:
        if self.check_mode:
            granted = len(self.decision.moves) if self.decision else 0
            text = (f"check mode: {len(self.plan.moves)} move(s) planned, {granted} "
                    f"would be made in the first step")
            if self.would_heal:
                text += (f"; {len(self.would_heal)} service(s) left mid-surge by an earlier "
                         "run would be restored first")
            return text
        moved = len(self.moves)
        text = (f"{moved} task(s) moved in {len(self.steps)} step(s)" if moved
                else "nothing moved" if self.error else "nothing to move")
        if any(s.healed for s in self.steps):
            text += "; restored services left mid-surge by an earlier run"
        if self.error:
            text += f"; {self.error}"
        elif self.timed_out:
            text += "; the run's deadline (wait_timeout) came before the cluster settled"
        return text + ("; balanced" if self.balanced else "; not balanced yet")

    def to_dict(self) -> dict:
        """The result as the module and the Lambda return it. Its size does not grow with
        the number of instances except through ``detail``: per-instance maps in
        ``before``/``after`` and the full lists of moves (``plan.moves``, ``moves``) only for
        the services the request asked detail for; every move is counted
        (``plan.moves_granted``, ``moves_made``) and summarised per service
        (``move_summary``: from and to which AZs and instances, how many)."""
        moves = self.moves
        return {"changed": self.changed,
                "plan": compact_plan(self.plan, self.decision, self.detail),
                "decision": self.decision.to_dict() if self.decision else None,
                "moves": [m.to_dict() for m in moves if _detailed(m.service, self.detail)],
                "moves_made": len(moves), "move_summary": move_summary(moves),
                "surge_overhead": self.surge_overhead,
                "actions": [a.to_dict() for s in self.steps for a in s.actions],
                "healed": (list(self.would_heal) if self.check_mode
                           else [h for s in self.steps for h in s.healed]),
                "skipped": self.skipped(), "before": self.before,
                # Check mode moves nothing: ``after`` would repeat ``before`` in full.
                "after": {} if self.check_mode else self.after,
                "balanced": self.balanced, "api_calls": self.api_calls,
                "api_retries": self.api_retries, "run_id": self.run_id,
                "timed_out": self.timed_out, "error": self.error, "scope": self.scope,
                "reads": self.reads, "replanned": list(self.replanned),
                "message": self.message()}


def _detailed(service: str, detail: bool | tuple[str, ...]) -> bool:
    """Whether ``detail`` (True, False, or service names or ARNs) asks for ``service``."""
    if isinstance(detail, bool):
        return detail
    return any(ref == service or ref.rsplit("/", 1)[-1] == service for ref in detail)


def move_summary(moves: list[Move]) -> list[dict]:
    """Moves per service: how many, and how many from and to each AZ and each container
    instance (by its ID, the last part of the ARN). Bounded by the instances a service
    touches, not by the moves: what check mode shows by default."""
    out: dict[str, dict] = {}
    for move in moves:
        entry = out.setdefault(move.service, {
            "service": move.service, "moves": 0,
            "from": {"azs": {}, "instances": {}}, "to": {"azs": {}, "instances": {}}})
        entry["moves"] += 1
        for side, az, arn in (("from", move.source_az, move.source_instance),
                              ("to", move.destination_az, move.destination_instance)):
            counts = entry[side]
            counts["azs"][az] = counts["azs"].get(az, 0) + 1
            key = arn.rsplit("/", 1)[-1]
            counts["instances"][key] = counts["instances"].get(key, 0) + 1
    return [out[name] for name in sorted(out)]


def compact_plan(planned: Plan, decision: Decision | None = None,
                 detail: bool | tuple[str, ...] = True) -> dict:
    """The plan without per-instance maps (``before`` holds the distributions): the moves the
    first step would make (the evictor's grants: bounded by the budget, so the output does not
    grow with every move the planner proposed; the full list only for the services ``detail``
    names, a per-service summary for all), how many it proposed, and per service its
    status, lower bound and reason."""
    granted = decision.moves if decision is not None else list(planned.moves)
    return {"cluster": planned.cluster, "max_skew": planned.max_skew,
            "moves": [m.to_dict() for m in granted if _detailed(m.service, detail)],
            "moves_granted": len(granted), "move_summary": move_summary(granted),
            "moves_planned": len(planned.moves),
            "moves_needed": planned.moves_needed,
            "message": planned.message,
            "services": [{"service": sp.service, "status": str(sp.status), "balanced": sp.balanced,
                          "moves_needed": sp.moves_needed, "planned_moves": len(sp.moves),
                          "reason": sp.reason.to_dict() if sp.reason else None,
                          "skip": sp.skip.to_dict() if sp.skip else None}
                         for sp in planned.services]}


def rebalance(ecs_client: Any, request: RebalanceRequest,
              sleep: Callable[[float], Any] = time.sleep,
              clock: Callable[[], float] = time.time,
              elb_client: Any = None, aas_client: Any = None,
              ddb_client: Any = None) -> RebalanceResult:
    """Read, plan, grant and (unless check mode) move, until balanced or the deadline.
    ``elb_client`` (ELBv2) lets load-balanced tasks count as healthy only once their targets
    are; ``aas_client`` (Application Auto Scaling) keeps a surge's restore at or above the
    service's MinCapacity; ``ddb_client`` (DynamoDB) holds the per-service leases in
    ``request.lease_table`` (without it, one is made for the ECS client's region and, when the
    ECS client has a custom endpoint, that endpoint). AWS errors after the first read end the
    run with the result so far (``error``). Every ECS read of the run (snapshots, the
    evictor's and executor's reads) is paced by one ``ReadPacer`` at
    ``request.api_read_rate``, sleeping through ``sleep``; ``RebalanceResult.reads`` says how
    much of ECS's shared read bucket the run used and how long it waited on its own pacing."""
    deadline = Deadline(clock, request.wait_timeout)
    run_id = request.run_id or uuid.uuid4().hex[:12]
    pacer = ReadPacer(request.api_read_rate, clock=clock, sleep=sleep)
    api = CountingClient(ecs_client, pacer)
    elb = CountingClient(elb_client) if elb_client is not None else None
    aas = CountingClient(aas_client) if aas_client is not None else None
    ddb_client = ddb_client if ddb_client is not None else _ddb_like(ecs_client)
    ddb = CountingClient(ddb_client)
    leases = (LeaseStore(ddb, request.lease_table, run_id, clock=clock,
                         lease_seconds=request.lease_seconds, sleep=sleep)
              if ddb_client is not None else None)
    snap = take_snapshot(ecs_client, request.cluster, request.services, pacer, deadline)
    calls, retries = snap.api_calls, snap.api_retries
    evictor = Evictor(api, snap.cluster_arn, request.limits(), deadline, elb, leases)
    current = plan(snap, request.plan_options())
    before = report(snap, request.max_skew, request.services, current, request.detail)
    result = RebalanceResult(plan=current, before=before, after=before,
                             check_mode=request.check_mode, run_id=run_id,
                             scope=request.scope(), detail=request.detail)
    executor = Executor(api, snap.cluster_arn, deadline, run_id, request.exec_options(),
                        sleep=sleep, elb=elb, healthy_targets=evictor.healthy_targets, aas=aas,
                        leases=leases)
    try:
        result.decision = evictor.decide(snap, current)
        if request.check_mode:
            # What a real run would do first: restore the surges of killed runs.
            result.would_heal = tuple(executor.heals_due(snap))
        else:
            if leases is None:
                raise LeaseUnavailable("no DynamoDB client for the lease table was given")
            leases.ensure_table(create=request.lease_table_create)
            _loop(request, result, snap, evictor, executor, deadline, ecs_client, pacer)
    except LeaseUnavailable as err:
        result.error = f"no lease can be had, so nothing was changed: {err}"
    except AWS_ERRORS as err:
        result.error = f"{type(err).__name__}: {err}"
    result.reads = pacer.to_dict()
    result.api_calls = (calls + api.calls + (elb.calls if elb else 0) + (aas.calls if aas else 0)
                        + ddb.calls + result.api_calls)
    result.api_retries = (retries + api.retries + (elb.retries if elb else 0) + ddb.retries
                          + result.api_retries)
    return result


def _loop(request: RebalanceRequest, result: RebalanceResult, snap: ClusterSnapshot,
          evictor: Evictor, executor: Executor, deadline: Deadline, ecs_client: Any,
          pacer: ReadPacer) -> None:
    """Steps until balanced, nothing is granted, an error, or the deadline."""
    decision = result.decision
    replans: dict[str, int] = {}
    while True:
        healed = executor.heal(snap)
        step = StepResult(healed=healed) if healed else executor.execute(decision)
        result.steps.append(step)
        _replan_vanished(request, result, step, evictor, executor, deadline, ecs_client, pacer,
                         replans)
        if step.errors:
            result.error = "; ".join(step.errors)
            result.timed_out = deadline.passed()
            return
        if not step.changed:
            return
        touched = [a.service for a in step.actions] + step.healed
        result.unsettled = tuple(sorted(set(touched)))
        if request.wait:
            try:
                executor.wait_settled(touched,
                                      [t for a in step.actions for t in a.stopped_tasks])
                result.unsettled = ()
            except SettleTimeout as err:
                result.timed_out, result.error = True, str(err)
        # Read the world once more, also without waiting: ``after`` and ``balanced`` describe
        # the cluster after the step, never the read taken before it. Without waiting the
        # run ends here, so it re-reads only the services its step touched (a scoped read):
        # the others' ``after`` is their last read, and a whole-cluster trigger does not pay
        # for the whole read twice.
        if not request.wait and request.services is None:
            names = sorted(set(touched))
            try:
                snap = take_snapshot(ecs_client, request.cluster, names, pacer)
            except UnknownServices as err:     # deleted since the step: nothing to report
                names = [n for n in names if n not in err.names]
                if not names:
                    return
                snap = take_snapshot(ecs_client, request.cluster, names, pacer)
            _merge_after(result, snap, request)
            _count_reads(result, snap)
            return
        snap = take_snapshot(ecs_client, request.cluster, request.services, pacer)
        _count_reads(result, snap)
        current = plan(snap, request.plan_options())
        result.last_plan = current
        result.after = report(snap, request.max_skew, request.services, current,
                              request.detail)
        if result.timed_out or not request.wait:
            return
        decision = evictor.decide(snap, current)
        result.last_decision = decision
        if not decision.grants and not _heal_due(snap, deadline.clock()):
            return
        if deadline.passed():
            result.timed_out = True
            return


def _count_reads(result: RebalanceResult, snap: ClusterSnapshot) -> None:
    result.api_calls += snap.api_calls
    result.api_retries += snap.api_retries


def _merge_after(result: RebalanceResult, snap: ClusterSnapshot,
                 request: RebalanceRequest) -> None:
    """``after`` and the latest plan from a re-read of the touched services only: theirs
    fresh, every other service's from the run's last whole read."""
    fresh = plan(snap, replace(request.plan_options(), services=tuple(sorted(snap.services))))
    previous = result.last_plan or result.plan
    by_name = {sp.service: sp for sp in previous.services}
    by_name.update({sp.service: sp for sp in fresh.services})
    result.last_plan = replace(previous, services=tuple(by_name[n] for n in sorted(by_name)))
    result.after = dict(sorted({**result.after,
                                **report(snap, request.max_skew, None, fresh,
                                         request.detail)}.items()))


def _replan_vanished(request: RebalanceRequest, result: RebalanceResult, step: StepResult,
                     evictor: Evictor, executor: Executor, deadline: Deadline, ecs_client: Any,
                     pacer: ReadPacer, replans: dict[str, int]) -> None:
    """Re-read, re-plan and act again on the services whose action a vanished task ended
    (``Action.vanished``), within the step's budget, at most ``MAX_REPLANS`` times per service
    per run and not once the deadline has passed; past that, the action's error says so."""
    actions = [a for a in step.actions if a.vanished]
    while actions:
        again = [a for a in actions if replans.get(a.service, 0) < MAX_REPLANS]
        for action in actions:
            if action not in again:
                action.error = (f"a task it counted on vanished again after {MAX_REPLANS} "
                                "re-plans in this run; left for a later run")
        if not again or deadline.passed():
            return
        names = tuple(dict.fromkeys(a.service for a in again))
        for name in names:
            replans[name] = replans.get(name, 0) + 1
            result.replanned.append({
                "service": name, "attempt": replans[name],
                "failures": [f for a in again if a.service == name for f in a.vanished]})
        try:
            snap = take_snapshot(ecs_client, request.cluster, names, pacer)
        except UnknownServices as err:      # deleted since the step: nothing to re-plan
            names = tuple(n for n in names if n not in err.names)
            if not names:
                return
            snap = take_snapshot(ecs_client, request.cluster, names, pacer)
        _count_reads(result, snap)
        spent = len(step.moves)
        budget = (step.decision.max_moves if step.decision is not None
                  else request.max_moves or 1) - spent
        current = plan(snap, replace(request.plan_options(), services=names))
        decision = evictor.decide(snap, current, budget=max(budget, 0))
        sub = executor.execute(decision)
        step.merge(sub)
        actions = [a for a in sub.actions if a.vanished]


def _ddb_like(ecs_client: Any) -> Any | None:
    """A DynamoDB client for the ECS client's region (and its endpoint when that is a custom
    one, e.g. a local emulator serving every API), from the default credential chain."""
    import boto3

    meta = getattr(ecs_client, "meta", None)
    if meta is None:
        return None                     # not a botocore client: nothing to derive from
    region = getattr(meta, "region_name", None)
    endpoint = getattr(meta, "endpoint_url", "") or ""
    custom = endpoint and ".amazonaws.com" not in endpoint
    return boto3.client("dynamodb", region_name=region, config=client_config(),
                        **({"endpoint_url": endpoint} if custom else {}))


def _heal_due(snap: ClusterSnapshot, now: float) -> bool:
    """A surge lock whose deadline has passed (a killed run's) waits to be healed."""
    return any(SurgeLock.from_tag(svc.tags[SURGE_TAG]).deadline <= now
               for svc in snap.services.values() if SURGE_TAG in svc.tags)
