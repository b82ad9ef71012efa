"""What must hold in every schedule (issue 16 item 5), written as it should be: a violation is a
finding about the engine, never a reason to loosen the check.

* ``floor``: healthy tasks never below ceil(desiredCount others set x minimumHealthyPercent /
  100). Healthy as ECS counts it (``healthy``): RUNNING, HEALTHY if any container has a health
  check, healthy in every target group the task is registered in; read from the sandbox's own
  state by the chaos suite's floor watch at every reconcile pass (every call and every timer),
  so a breach names the call point it followed. A task a fault made unhealthy is excused.
* ``desired``: at the end desiredCount is the value others last wrote, or the original.
* ``bound``: no lock (a lease) and no protection a run added outlives the run's bound (its
  true start + wait_timeout): checked after every call on the sandbox's state (the ECS-tag
  lock's ``deadline``; a DynamoDB lease item's ``owner``/``until`` after each lease write, by
  ``SLACK_SECONDS`` at most); and after the end of the schedule nothing of any run is left.
* ``no-repeat``: a move whose run made no progress is not repeated while the shape is the
  same (the chaos suite's check, on the schedule's completed runs).
* ``deadline``: every run ends by its deadline plus ``SLACK_SECONDS`` of emulated time.
* ``lower-bound``: with no fault, the run moves exactly the lower bound of moves
  (``tests/unit/engine/oracle.py``, the one oracle of the property tests and the
  benchmarks) and ends balanced.
* ``crash``: a run ends with a result or by its kill, never an escaped exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calls import SURGE_TAG

if TYPE_CHECKING:
    from .calls import CallPoint, Sim

SLACK_SECONDS = 60.0        # a run's last poll, lock settle and clean-up after its deadline
PROTECTION_ROUNDING = 60.0  # protection expires in whole minutes


@dataclass(frozen=True)
class Violation:
    invariant: str
    at: int             # call point (0: at the end)
    text: str

    def describe(self) -> str:
        where = f"call #{self.at}" if self.at else "the end"
        return f"{self.invariant} at {where}: {self.text}"


def healthy(plane: Any, task: Any) -> bool:
    """Healthy as ECS counts it for minimumHealthyPercent, from the sandbox's state."""
    from sandbox.ecs import lifecycle

    if not (task.live and task.last_status == "RUNNING"):
        return False
    if lifecycle.has_health_check(task) and task.health_status != "HEALTHY":
        return False
    states = lifecycle.target_states(plane, task) if task.targets else []
    return all(s == "healthy" for s in states)


# ------------------------------------------------------------ after every call
class BoundWatch:
    """After every call: the surge lock on the service, the protection of every task and
    (after a DynamoDB lease write) every lease item were written by a run that may still hold
    them (not past its bound)."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, sim: "Sim", point: "CallPoint") -> None:
        now = sim.sandbox.now()
        by_id = {r.id: r for r in sim.runs}
        svc = sim.sandbox.ecs.services.get((sim.world.cluster, sim.world.service))
        for tag in svc.tags if svc is not None else []:
            if tag.get("key") != SURGE_TAG:
                continue
            fields = _tag_fields(tag.get("value", ""))
            run = by_id.get(fields.get("owner", ""))
            try:
                deadline = float(fields.get("deadline", "0"))
            except ValueError:
                continue
            if run is not None and deadline > run.bound + 1:
                self._add("bound", point.n, f"lock of {run.id} says it lasts until "
                          f"t+{deadline - sim.world.t0:.0f}s, past its run's bound "
                          f"t+{run.bound - sim.world.t0:.0f}s (others honour it that long)")
        for arn in sorted(sim.protected_by):
            run = sim.protected_by[arn]
            until = getattr(sim.sandbox.ecs.tasks.get(arn), "protected_until", None)
            if until is not None and until > now and until > run.bound + PROTECTION_ROUNDING:
                self._add("bound", point.n, f"protection {run.id} added on task "
                          f"{arn.rsplit('/', 1)[-1][:8]} lasts until "
                          f"t+{until - sim.world.t0:.0f}s, past the run's bound "
                          f"t+{run.bound - sim.world.t0:.0f}s")
        if point.service == "dynamodb" and point.lease_write:
            for run, until, table in lease_items(sim):
                if until > run.bound + SLACK_SECONDS:
                    self._add("bound", point.n, f"lease of {run.id} in {table} lasts until "
                              f"t+{until - sim.world.t0:.0f}s, past its run's bound "
                              f"t+{run.bound - sim.world.t0:.0f}s + {SLACK_SECONDS:.0f}s")

    def _add(self, name: str, at: int, text: str) -> None:
        key = (name, text.split(" lasts")[0])
        if key not in self._seen:
            self._seen.add(key)
            self.violations.append(Violation(name, at, text))


def lease_items(sim: "Sim") -> list[tuple[Any, float, str]]:
    """(run, until, table) of every DynamoDB item in the sandbox whose ``owner`` is a run of
    this schedule and whose ``until`` is a number (the lease's documented attributes)."""
    by_id = {r.id: r for r in sim.runs}
    ddb = sim.world.aws("dynamodb")
    out = []
    for table in ddb.list_tables().get("TableNames", []):
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page.get("Items", []):
                run = by_id.get(item.get("owner", {}).get("S", ""))
                until = item.get("until", {}).get("N")
                if run is not None and until is not None:
                    out.append((run, float(until), table))
    return out


def _tag_fields(value: str) -> dict[str, str]:
    """``"v2 owner=r1 ... deadline=<epoch>"`` (the ECS-tag lock's format) -> its fields."""
    return dict(part.split("=", 1) for part in value.split() if "=" in part)


class TickPoints:
    """Which call point each floor-watch tick followed (registered after the watch)."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        self.at: dict[int, int] = {}

    def __call__(self) -> None:
        self.at[self.sim.world.watch.ticks] = self.sim.current


# ------------------------------------------------------------------ the end
def floor(sim: "Sim", ticks: TickPoints) -> list[Violation]:
    watch = sim.world.watch
    if watch.error:
        return [Violation("floor", 0, f"the watch could not read the sandbox: {watch.error}")]
    out = []
    for breaches in watch.breaches.values():
        first = breaches[0]
        out.append(Violation("floor", ticks.at.get(first.tick, 0), (
            f"{first.running} healthy < floor {first.floor} (desiredCount "
            f"{first.desired_now}, others set {first.expected}) at "
            f"t+{first.at - sim.world.t0:.0f}s; {len(breaches)} tick(s) below in all")))
    return out


def desired_at_end(sim: "Sim") -> list[Violation]:
    """A foreign write placed between a run's read of desiredCount and its UpdateService (the
    one window ECS's API cannot close) is overwritten by that UpdateService: the schedule says
    so in its events and this invariant is not asked of it."""
    if sim.window_writes:
        return []
    doc = sim.world.service_doc()
    want = sim.world.watch.expected[sim.world.service]
    if doc["desiredCount"] != want:
        return [Violation("desired", 0, f"desiredCount {doc['desiredCount']} at the end, "
                          f"others last set {want} (original {sim.world.original})")]
    return []


def leftovers(sim: "Sim") -> list[Violation]:
    """After the schedule (every run's bound passed, a clean run made): nothing held."""
    out = []
    doc = sim.world.service_doc(tags=True)
    lock = next((t["value"] for t in doc.get("tags", []) if t["key"] == SURGE_TAG), None)
    if lock is not None:
        out.append(Violation("bound", 0, f"surge lock still on the service: {lock!r}"))
    now = sim.sandbox.now()
    if any(p.service == "dynamodb" for p in sim.points):
        out += [Violation("bound", 0, f"lease of {run.id} in {table} still live at the end")
                for run, until, table in lease_items(sim) if until > now]
    engine = set(sim.protected_by)
    held = [t for t in sim.world.live_tasks() if t.arn in engine and t.protected(now)]
    if held:
        out.append(Violation("bound", 0, f"{len(held)} task(s) still carry engine protection"))
    return out


def deadlines(sim: "Sim") -> list[Violation]:
    out = []
    for run in sim.runs:
        late = run.ended - (run.started + run.wait_timeout)
        if late > SLACK_SECONDS:
            out.append(Violation("deadline", 0, f"{run.id} ended {late:.0f}s after its deadline "
                                 f"(wait_timeout {run.wait_timeout:.0f}s)"))
    return out


def crashes(sim: "Sim") -> list[Violation]:
    return [Violation("crash", 0, f"{r.id} raised {r.crashed}") for r in sim.runs if r.crashed]


def no_repeat(sim: "Sim") -> list[Violation]:
    """The chaos suite's check over this schedule's completed runs, in the order they ended."""
    from tests.chaos.harness import Record, RunOutcome
    from tests.chaos import invariants as chaos

    done = sorted((r for r in sim.runs if r.result is not None), key=lambda r: r.ended)
    runs = [RunOutcome(index=i, phase="sim", run_id=r.id, started=r.started, ended=r.ended,
                       report=r.result.to_dict()) for i, r in enumerate(done)]
    return [Violation("no-repeat", 0, line.split(": ", 1)[1])
            for line in chaos.no_repeat(Record(scenario=None, runs=runs))]


def lower_bound(sim: "Sim", bound: int, stopped: int) -> list[Violation]:
    """No fault: the first run moved the lower bound of moves, stopped that many of the
    service's original tasks, and ended balanced."""
    run = sim.runs[0]
    if run.result is None:
        return [Violation("lower-bound", 0,
                          f"the run did not complete ({run.killed or run.crashed})")]
    moved = len(run.result.moves)
    out = []
    if moved != bound or stopped != bound:
        out.append(Violation("lower-bound", 0, f"{moved} move(s) reported, {stopped} original "
                             f"task(s) stopped; the lower bound is {bound}"))
    if not run.result.balanced:
        out.append(Violation("lower-bound", 0, f"not balanced: {run.result.message()}"))
    return out


