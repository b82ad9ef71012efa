"""The level-triggered loop the modules and the Lambda share: read, plan, one safe step, settle.

``rebalance()`` reads the cluster, plans, and (unless ``check_mode``) executes one step; with
``wait`` it waits for the touched services to settle (not the ``services_stable`` waiter alone:
one COMPLETED deployment, running == desired, nothing pending, stopped tasks STOPPED), reads
the world again and repeats until balanced, nothing is left to do, or ``wait_timeout``. It can be
killed at any point: the next run re-reads everything and heals what a crashed surge left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .executor import ExecOptions, Executor, SettleTimeout, StepResult
from .model import ClusterSnapshot
from .planner import Plan, PlanOptions, Status, distribution, plan
from .snapshot import CountingClient, take_snapshot


@dataclass(frozen=True, slots=True)
class RebalanceRequest:
    cluster: str
    services: tuple[str, ...] | None = None
    strategy: str = "auto"
    max_skew: int = 1
    max_moves: int | None = None
    wait: bool = True
    wait_timeout: float = 900.0
    check_mode: bool = False
    protection_minutes: int = 10
    poll_interval: float = 5.0

    def __post_init__(self) -> None:
        if not self.cluster:
            raise ValueError("cluster is required")
        if self.max_skew < 1:
            raise ValueError(f"max_skew must be at least 1, got {self.max_skew}")
        if self.max_moves is not None and self.max_moves < 1:
            raise ValueError(f"max_moves must be at least 1, got {self.max_moves}")
        if self.wait_timeout <= 0:
            raise ValueError(f"wait_timeout must be positive, got {self.wait_timeout}")

    def plan_options(self) -> PlanOptions:
        return PlanOptions(services=self.services, max_skew=self.max_skew,
                           max_moves=self.max_moves)

    def exec_options(self) -> ExecOptions:
        return ExecOptions(strategy=self.strategy, protection_minutes=self.protection_minutes,
                           settle_timeout=self.wait_timeout, poll_interval=self.poll_interval)


@dataclass(slots=True)
class RebalanceResult:
    plan: Plan
    before: dict
    after: dict
    steps: list[StepResult] = field(default_factory=list)
    api_calls: int = 0
    api_retries: int = 0
    timed_out: bool = False
    error: str = ""
    check_mode: bool = False

    @property
    def changed(self) -> bool:
        """In check mode: whether a run would change anything (Ansible's convention)."""
        if self.check_mode:
            return bool(self.plan.moves)
        return any(s.changed for s in self.steps)

    @property
    def moves(self) -> list:
        return [m for s in self.steps for m in s.moves]

    @property
    def balanced(self) -> bool:
        return all(d["balanced"] or d["skip"] is not None for d in self.after.values())

    def skipped(self) -> list[dict]:
        out = [{"service": sp.service, "code": sp.skip.code, "message": sp.skip.message}
               for sp in self.plan.services if sp.status == Status.SKIPPED and sp.skip]
        out += [{"service": sp.service, "code": sp.status,
                 "message": _status_message(sp.status)}
                for sp in self.plan.services if sp.status in (Status.AT_CAPACITY,
                                                              Status.DEFERRED)]
        for step in self.steps:
            out += step.skipped
        return out

    def message(self) -> str:
        if self.check_mode:
            return f"check mode: {self.plan.message}"
        moved = len(self.moves)
        text = (f"{moved} task(s) moved in {len(self.steps)} step(s)" if moved
                else "nothing moved" if self.error else "nothing to move")
        if any(s.healed for s in self.steps):
            text += "; restored services left mid-surge by an earlier run"
        if self.error:
            text += f"; {self.error}"
        elif self.timed_out:
            text += "; wait_timeout reached before the cluster settled"
        return text + ("; balanced" if self.balanced else "; not balanced yet")

    def to_dict(self) -> dict:
        return {"changed": self.changed, "plan": self.plan.to_dict(),
                "moves": [m.to_dict() for m in self.moves],
                "actions": [a.to_dict() for s in self.steps for a in s.actions],
                "healed": [h for s in self.steps for h in s.healed],
                "skipped": self.skipped(), "before": self.before, "after": self.after,
                "balanced": self.balanced, "api_calls": self.api_calls,
                "api_retries": self.api_retries,
                "timed_out": self.timed_out, "message": self.message()}


def _status_message(status: str) -> str:
    if status == Status.AT_CAPACITY:
        return "out of balance, but free capacity allows no better layout"
    return "out of balance; deferred because the max_moves budget is spent"


def distributions(snapshot: ClusterSnapshot, max_skew: int,
                  services: tuple[str, ...] | None = None) -> dict:
    names = snapshot.services if services is None else \
        [n for n in services if n in snapshot.services]
    return {n: distribution(snapshot, n, max_skew).to_dict() for n in sorted(names)}


def rebalance(ecs_client: Any, request: RebalanceRequest,
              sleep: Callable[[float], Any] = time.sleep,
              clock: Callable[[], float] = time.time,
              elb_client: Any = None) -> RebalanceResult:
    """Read, plan and (unless check mode) move. ``elb_client`` (ELBv2) lets the executor count
    load-balanced tasks as healthy only once their targets are."""
    snap = take_snapshot(ecs_client, request.cluster, request.services)
    calls, retries = snap.api_calls, snap.api_retries
    current = plan(snap, request.plan_options())
    before = distributions(snap, request.max_skew, request.services)
    result = RebalanceResult(plan=current, before=before, after=before,
                             check_mode=request.check_mode)
    if request.check_mode:
        result.api_calls, result.api_retries = calls, retries
        return result
    api = CountingClient(ecs_client)
    elb = CountingClient(elb_client) if elb_client is not None else None
    executor = Executor(api, snap.cluster_arn, request.exec_options(), sleep=sleep, clock=clock,
                        elb=elb)
    deadline = clock() + request.wait_timeout
    while True:
        try:
            step = executor.step(snap, current)
        except SettleTimeout as err:        # a surge's own wait; it restored desiredCount
            result.timed_out, result.error = True, str(err)
            break
        result.steps.append(step)
        if step.errors:                    # an abandoned surge: report it, stop here
            result.timed_out, result.error = True, "; ".join(step.errors)
            break
        if not step.changed:
            break
        if request.wait:
            touched = [a.service for a in step.actions] + step.healed
            try:
                executor.wait_settled(touched, [t for a in step.actions for t in a.stopped_tasks])
            except SettleTimeout as err:
                result.timed_out, result.error = True, str(err)
        snap = take_snapshot(ecs_client, request.cluster, request.services)
        calls += snap.api_calls
        retries += snap.api_retries
        current = plan(snap, request.plan_options())
        if (not request.wait or result.timed_out or not current.moves
                or request.strategy == "redeploy" or clock() >= deadline):
            result.timed_out = result.timed_out or (bool(current.moves) and clock() >= deadline)
            break
    result.after = distributions(snap, request.max_skew, request.services)
    result.api_calls = calls + api.calls + (elb.calls if elb else 0)
    result.api_retries = retries + api.retries + (elb.retries if elb else 0)
    return result
