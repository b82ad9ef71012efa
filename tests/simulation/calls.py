"""Call points and the faults placed at them.

``Sim`` owns one schedule's world while it plays. Every client an engine run gets (ECS,
ELBv2, Application Auto Scaling, and DynamoDB when ``runner.rebalance`` takes a
``ddb_client``) is a ``ClientProxy``: each call it makes, and each page a paginator fetches,
is numbered in one sequence shared by every run of the schedule (a *call point*). A
``Fault`` names a kind and a call point; when the point is reached the fault acts before the
call (someone else's write, a second run, a kill) or on the call itself (a kill after it
landed, a lease write delayed, lost or duplicated).

A killed run makes no further AWS call: every later call of that run (its ``finally`` code
may try) raises ``Killed`` without reaching the sandbox, as after a Lambda's timeout.

Lease writes are the calls that take, change or release the run's hold on a service: on the
DynamoDB lease, every write operation; on today's ECS-tag lock, the TagResource and
UntagResource calls that carry the ``taskspread:surge`` key.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ReadTimeoutError

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import runner

# The ECS-tag lock's key (today's engine); a lease in DynamoDB has no tag, and its writes are
# recognised by operation.
SURGE_TAG = "taskspread:surge"

SKEW_SECONDS = 960.0        # a runner whose clock is 16 minutes off (issue 16)
LEASE_DELAY_CALLS = 3       # a delayed or duplicated lease write lands this many calls later
FLAP_SECONDS = 60.0         # how long a flapping container fails its health checks
# Operations that change something (a kill after one of these differs from a kill before the
# next call: the change landed).
WRITE_OPS = frozenset({"update_service", "tag_resource", "untag_resource", "stop_task",
                       "update_task_protection", "put_item", "update_item", "delete_item",
                       "transact_write_items", "batch_write_item", "put_scheduled_action",
                       "register_scalable_target"})
DDB_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items",
                        "batch_write_item"})

# Fault kinds at a call point. "deadline" puts the run's deadline there (its wait_timeout
# is chosen from the reference run's timeline); "none" is the schedule without a fault.
KILL_BEFORE, KILL_AFTER = "kill_before", "kill_after"
SECOND_RUN, SECOND_RUN_AHEAD = "second_run", "second_run_clock_ahead"
SECOND_RUN_DIES = "second_run_dies"     # it dies right after its first UpdateService landed
PERSON, AUTOSCALING = "person_desired", "autoscaling_desired"
TAGS_DELETED = "tags_deleted"
TARGET_UNHEALTHY, HEALTH_FLAP = "target_unhealthy", "container_health_flap"
LEASE_DELAYED, LEASE_LOST_APPLIED = "lease_delayed", "lease_lost_applied"
LEASE_LOST_DROPPED, LEASE_DUPLICATED = "lease_lost_dropped", "lease_duplicated"
DEADLINE, NONE = "deadline", "none"

AT_EVERY_CALL = (KILL_BEFORE, KILL_AFTER, SECOND_RUN, SECOND_RUN_AHEAD, SECOND_RUN_DIES, PERSON,
                 AUTOSCALING, TAGS_DELETED)
AT_LEASE_WRITES = (LEASE_DELAYED, LEASE_LOST_APPLIED, LEASE_LOST_DROPPED, LEASE_DUPLICATED)
KINDS = (NONE, DEADLINE) + AT_EVERY_CALL + (TARGET_UNHEALTHY, HEALTH_FLAP) + AT_LEASE_WRITES


class Killed(BaseException):
    """The run's process died (a Lambda at its timeout): not an Exception, so nothing in
    the engine catches it by accident."""


@dataclass(frozen=True)
class Fault:
    kind: str
    at: int = 0         # call point (1-based); for "deadline" the call point it lands at

    def describe(self) -> str:
        return self.kind if self.kind == NONE else f"{self.kind}@{self.at}"


@dataclass
class CallPoint:
    n: int
    run: str
    service: str
    op: str
    at: float           # the sandbox's (true) time when the call was made
    lease_write: bool = False

    def describe(self) -> str:
        return f"#{self.n} {self.run} {self.service}:{self.op}"


@dataclass
class Run:
    """One engine run of the schedule. ``offset``: its clock minus the true clock."""

    id: str
    wait_timeout: float
    offset: float = 0.0
    started: float = 0.0
    ended: float = 0.0
    dead: bool = False
    killed: str = ""
    crashed: str = ""
    refused_after_kill: int = 0
    result: Any = None          # runner.RebalanceResult
    protected: set[str] = field(default_factory=set)
    nested_in: str = ""
    dies_after: str = ""        # the operation after whose first landing the run dies

    @property
    def bound(self) -> float:
        """The latest true time anything this run holds may last: its own deadline."""
        return self.started + self.wait_timeout


def is_lease_write(service: str, op: str, params: dict) -> bool:
    if service == "dynamodb":
        return op in DDB_WRITES
    if service != "ecs":
        return False
    if op == "tag_resource":
        return any(t.get("key") == SURGE_TAG for t in params.get("tags", []))
    if op == "untag_resource":
        return SURGE_TAG in params.get("tagKeys", [])
    return False


class ClientProxy:
    """Wraps one boto3 client of one run: every operation and every paginator page goes
    through ``Sim.call``; anything else (``meta``, ``exceptions``) is the client's."""

    def __init__(self, sim: "Sim", run: Run, service: str, client: Any):
        self._sim, self._run, self._service, self._client = sim, run, service, client

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_") or name in ("can_paginate",):
            return attr
        if name == "get_paginator":
            return self._paginator

        def call(**params):
            return self._sim.call(self._run, self._service, name, attr, params)
        return call

    def _paginator(self, op: str) -> "PaginatorProxy":
        return PaginatorProxy(self, op, self._client.get_paginator(op))


class PaginatorProxy:
    """Pages fetched one call point each, by the paginator's own token names."""

    def __init__(self, proxy: ClientProxy, op: str, real: Any):
        self._proxy, self._op = proxy, op
        cfg = real._pagination_cfg      # botocore's paginator model: the token names
        self._in, self._out = cfg["input_token"], cfg["output_token"]

    def paginate(self, **params):
        params = dict(params)
        params.pop("PaginationConfig", None)
        fetch = getattr(self._proxy._client, self._op)
        while True:
            page = self._proxy._sim.call(self._proxy._run, self._proxy._service, self._op,
                                         fetch, dict(params))
            yield page
            token = page.get(self._out) if isinstance(self._out, str) else None
            if not token:
                return
            params[self._in] = token


class Sim:
    """One schedule being played: the sandbox, the world, the runs, the call points, the
    faults still to fire and the lease writes still in flight."""

    def __init__(self, world: Any, faults: list[Fault]):
        self.world = world
        self.sandbox = world.sandbox
        self.faults = list(faults)
        self.points: list[CallPoint] = []
        self.runs: list[Run] = []
        self.in_flight: list[tuple[int, Callable, dict, str]] = []   # (due, fn, params, label)
        self.events: list[str] = []
        self.protected_by: dict[str, Run] = {}  # task ARN -> the run that last protected it
        self.after_call: list[Callable[["Sim", CallPoint], None]] = []
        self.window_writes = 0    # foreign desiredCount writes inside a read-write window

    @property
    def current(self) -> int:
        return len(self.points)

    def note(self, text: str) -> None:
        self.events.append(f"#{self.current} t+{self.sandbox.now() - self.world.t0:.0f}s {text}")

    # --------------------------------------------------------------- a run
    def run_engine(self, run_id: str, wait_timeout: float, offset: float = 0.0,
                   nested_in: str = "", dies_after: str = "") -> Run:
        """One ``runner.rebalance`` to completion, to its kill or to a crash."""
        run = Run(run_id, wait_timeout, offset, started=self.sandbox.now(), nested_in=nested_in,
                  dies_after=dies_after)
        self.runs.append(run)
        aws = self.world.fresh_clients()
        clients = {name: ClientProxy(self, run, name, aws(name))
                   for name in ("ecs", "elbv2", "application-autoscaling")}
        kwargs: dict[str, Any] = {"elb_client": clients["elbv2"],
                                  "aas_client": clients["application-autoscaling"]}
        if "ddb_client" in inspect.signature(runner.rebalance).parameters:
            kwargs["ddb_client"] = ClientProxy(self, run, "dynamodb", aws("dynamodb"))
        request = runner.RebalanceRequest(cluster=self.world.cluster, wait_timeout=wait_timeout,
                                          poll_interval=min(self.world.poll_interval,
                                                            wait_timeout),
                                          run_id=run_id)

        def sleep(seconds: float) -> None:
            if run.dead:
                raise Killed(f"{run_id} sleeps after its kill")
            self.sandbox.advance(max(0.0, float(seconds)))

        try:
            run.result = runner.rebalance(clients["ecs"], request, sleep=sleep,
                                          clock=lambda: self.sandbox.now() + offset, **kwargs)
        except Killed as kill:
            run.killed = run.killed or str(kill)
        except Exception as err:  # noqa: BLE001 - any escape is a finding, recorded with its type
            run.crashed = f"{type(err).__name__}: {err}"
        run.ended = self.sandbox.now()
        return run

    # --------------------------------------------------------------- a call
    def call(self, run: Run, service: str, op: str, fn: Callable, params: dict) -> Any:
        if run.dead:
            run.refused_after_kill += 1
            raise Killed(f"{run.id}: {service}:{op} after the kill")
        point = CallPoint(len(self.points) + 1, run.id, service, op, self.sandbox.now(),
                          is_lease_write(service, op, params))
        self.points.append(point)
        self._land_in_flight(point.n)
        faults = [f for f in self.faults if f.at == point.n and f.kind not in (NONE, DEADLINE)]
        for fault in faults:
            self._before(fault, run, point)
        lease_fault = next((f for f in faults if f.kind in AT_LEASE_WRITES), None)
        if lease_fault is not None and point.lease_write:
            out = self._lease_fault(lease_fault.kind, point, fn, params)
        else:
            out = fn(**params)
        self._record(run, service, op, params, out)
        for hook in self.after_call:
            hook(self, point)
        if any(f.kind == KILL_AFTER for f in faults) or run.dies_after == op:
            self._kill(run, f"killed after {point.describe()} landed")
        return out

    def _kill(self, run: Run, why: str) -> None:
        run.dead, run.killed = True, why
        self.note(why)
        raise Killed(why)

    def _before(self, fault: Fault, run: Run, point: CallPoint) -> None:
        kind = fault.kind
        if kind == KILL_BEFORE:
            self._kill(run, f"killed before {point.describe()}")
        elif kind in (SECOND_RUN, SECOND_RUN_AHEAD):
            offset = SKEW_SECONDS if kind == SECOND_RUN_AHEAD else 0.0
            self.note(f"a second run starts (clock {offset:+.0f}s) inside {run.id}")
            self.run_engine(f"{run.id}-b", self.world.wait_timeout, offset, nested_in=run.id)
        elif kind == SECOND_RUN_DIES:
            self.note(f"a second run starts inside {run.id}; it dies once its first "
                      "UpdateService landed")
            self.run_engine(f"{run.id}-b", self.world.wait_timeout, nested_in=run.id,
                            dies_after="update_service")
        elif kind in (PERSON, AUTOSCALING):
            if self.in_read_write_window(run, point):
                self.window_writes += 1
                self.note("the next write lands between this run's read of desiredCount and its "
                          "UpdateService: the one window ECS's API leaves open (no conditional "
                          "UpdateService); it is overwritten, by design of ECS, not checked")
            self.note(self.world.person_sets_desired() if kind == PERSON
                      else self.world.autoscaling_sets_desired())
        elif kind == TAGS_DELETED:
            self.note(self.world.delete_service_tags())
        elif kind == TARGET_UNHEALTHY:
            self.note(self.world.fail_a_target())
        elif kind == HEALTH_FLAP:
            self.note(self.world.flap_a_container(FLAP_SECONDS))

    def in_read_write_window(self, run: Run, point: CallPoint) -> bool:
        """``point`` is the run's UpdateService and its call just before is the DescribeServices
        that read the count it writes: nothing can be placed between the two on ECS."""
        if (point.service, point.op) != ("ecs", "update_service"):
            return False
        mine = [p for p in self.points[:-1] if p.run == run.id]
        return bool(mine) and (mine[-1].service, mine[-1].op) == ("ecs", "describe_services")

    def _lease_fault(self, kind: str, point: CallPoint, fn: Callable, params: dict) -> Any:
        label = point.describe()
        if kind == LEASE_DELAYED:
            # What "a write that lands late" is over HTTP: the caller times out (and may go on
            # or retry), the request it sent is applied later. A success reply with no body
            # would be a response DynamoDB never gives (UpdateItem returns its Attributes).
            self.in_flight.append((point.n + LEASE_DELAY_CALLS, fn, params, label))
            self.note(f"lease write {label} delayed by {LEASE_DELAY_CALLS} calls "
                      "(the caller sees a timeout; the write lands later)")
            raise ReadTimeoutError(endpoint_url=self.sandbox.endpoint)
        if kind == LEASE_DUPLICATED:
            out = fn(**params)
            self.in_flight.append((point.n + LEASE_DELAY_CALLS, fn, params, label))
            self.note(f"lease write {label} duplicated: lands again "
                      f"{LEASE_DELAY_CALLS} calls later")
            return out
        if kind == LEASE_LOST_APPLIED:
            fn(**params)
            self.note(f"lease write {label} applied, the caller sees a timeout")
        else:
            self.note(f"lease write {label} lost, the caller sees a timeout")
        raise ReadTimeoutError(endpoint_url=self.sandbox.endpoint)

    def _land_in_flight(self, n: int) -> None:
        due = [item for item in self.in_flight if item[0] <= n]
        for item in due:
            self.in_flight.remove(item)
            self.note(f"in-flight lease write {item[3]} lands")
            try:
                item[1](**item[2])
            except Exception as err:  # noqa: BLE001 - a late write may fail; that is its result
                self.note(f"in-flight lease write {item[3]} failed: {type(err).__name__}")

    def land_everything(self) -> None:
        self._land_in_flight(math.inf)

    def _record(self, run: Run, service: str, op: str, params: dict, out: Any) -> None:
        """Remember which run last protected each task (the bound invariant reads it)."""
        if service == "ecs" and op == "update_task_protection" and isinstance(out, dict):
            arns = {p["taskArn"] for p in out.get("protectedTasks", [])}
            for arn in arns:
                if params.get("protectionEnabled"):
                    self.protected_by[arn] = run
                    run.protected.add(arn)
                elif self.protected_by.get(arn) is not None:
                    self.protected_by.pop(arn).protected.discard(arn)


# The shortest wait_timeout a run accepts (bounds.py): a deadline inside a run's first second
# cannot be configured, so such a point is played with the shortest one instead.
MIN_WAIT_TIMEOUT = 1.0


def deadline_wait(points: list[CallPoint], at: int) -> float:
    """The wait_timeout that puts the run's deadline at call point ``at`` (true seconds from
    the run's start on the reference timeline), never below ``MIN_WAIT_TIMEOUT``."""
    return max(MIN_WAIT_TIMEOUT, points[at - 1].at - points[0].at + 0.5)


def split_faults(faults: list[Fault], points: list[CallPoint]) -> tuple[float | None, list[Fault]]:
    """The deadline fault becomes the run's wait_timeout (``deadline_wait``); the others fire
    at call points."""
    wait = None
    for fault in faults:
        if fault.kind == DEADLINE and 1 <= fault.at <= len(points):
            wait = deadline_wait(points, fault.at)
    return wait, [f for f in faults if f.kind != DEADLINE]
