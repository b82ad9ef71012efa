"""Where a surge's new tasks land, and which tasks to remove after it. Pure.

A surge raises desiredCount by k; ECS places the k new tasks *while the tasks they replace
still run*, so its spread still counts those (task-placement-strategies.html: spread places
tasks "evenly based on the specified value", counting the service's tasks per value). Then
desiredCount is lowered by k and ECS stops the tasks that are not protected. A move planned
inside the fullest AZ (AZ counts 3/2, an empty instance in the 3-task AZ) therefore does not
land on that empty instance: the new task goes to the AZ with fewer tasks, and a surge of
one costs a second one. ``plan_surge`` predicts the landing, then chooses what to remove
*after* the prediction; ``smallest_surge`` finds the k that reaches the target in one surge;
``choose_removals`` re-chooses from the tasks actually running when ECS placed differently.

The prediction follows ECS's documented placement (task-placement.html): candidates are the
instances that accept tasks (ACTIVE, agent connected), meet the service's memberOf and
distinctInstance constraints, have room (CPU, memory, static ports) and, for a capacity
provider strategy, belong to one of its providers; then each spread level in order keeps the
candidates whose value holds the fewest of the service's tasks, counted over every instance
(the new ones included as they are placed, one at a time). AWS documents no tie-break; like
the sandbox's ``stable`` mode this takes the lowest (ec2InstanceId, ARN), and ``SurgePlan.ties``
says how many placements were a tie (0 = the prediction does not depend on the tie-break).
Limits: binpack/random strategies are not predicted (ValueError); with several capacity
providers ECS also splits the new tasks by base/weight, which is not modelled (any provider of
the strategy is a candidate).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Union

from .candidates import (
    INSTANCE_LEVEL, CandidateIndex, level_value, service_constraints, strategy_levels,
)
from .model import ClusterSnapshot, Instance, Service, Task
from .plan_types import Distribution, Explanation, Move, Plan, PlanOptions, ServicePlan
from .planner import plan, task_preference

Targets = Union[Mapping[str, int], Distribution, ServicePlan, Plan]


@dataclass(frozen=True, slots=True)
class SurgePlan:
    """``new_on``: the predicted instance ARN of each new task, in placement order.
    ``remove``: task ARNs to remove once the new tasks run (exactly k when possible).
    ``expected``: task count per instance after the surge and the removals (zeros omitted).
    ``remaining_moves``: sum of max(0, expected - target); ``more_surges``: surges of the same
    k still needed (ceil(remaining_moves / k)); ``ties``: placements decided by tie-break."""

    service: str
    k: int
    new_on: tuple[str, ...]
    remove: tuple[str, ...]
    expected: Mapping[str, int]
    remaining_moves: int
    more_surges: int
    ties: int = 0

    def to_dict(self) -> dict:
        return {"service": self.service, "k": self.k, "new_on": list(self.new_on),
                "remove": list(self.remove), "expected": dict(self.expected),
                "remaining_moves": self.remaining_moves, "more_surges": self.more_surges,
                "ties": self.ties}


def target_counts(targets: Targets, service: str) -> dict[str, int]:
    """Target count per instance ARN from a mapping, a Distribution, a ServicePlan or a Plan."""
    if isinstance(targets, Plan):
        targets = targets.service(service)
    if isinstance(targets, ServicePlan):
        if targets.distribution is None:
            raise ValueError(f"service {service!r} has no distribution in the plan")
        targets = targets.distribution
    if isinstance(targets, Distribution):
        return dict(targets.targets)
    return dict(targets)


def plan_surge(snapshot: ClusterSnapshot, service_name: str, targets: Targets,
               k: int, placed: Sequence[str] | None = None, ties: int = 0) -> SurgePlan:
    """Predict where ECS places ``k`` new tasks of the service with its current tasks still
    counted, then choose the k existing tasks to remove so the result is ``targets`` (or as
    close as one surge of k can get). ``placed``: a prediction already made for at least k
    new tasks (placement is greedy, one task at a time, so the first k of a longer prediction
    are the prediction for k). Raises KeyError for an unknown service, ValueError for k < 1
    or a strategy that does not spread."""
    if k < 1:
        raise ValueError("k must be >= 1")
    service = snapshot.services[service_name]
    tasks = snapshot.tasks.get(service_name, ())
    wanted = target_counts(targets, service_name)
    counts = _counts(tasks)
    if placed is None:
        placed, ties = predict_placements(snapshot, service, counts, k)
    new_on = list(placed[:k])
    after = dict(counts)
    for arn in new_on:
        after[arn] = after.get(arn, 0) + 1
    remove = choose_removals(tasks, wanted, k, after=after,
                             instances=snapshot.instance_map())
    expected = dict(after)
    by_arn = {t.arn: t for t in tasks}
    for arn in remove:
        expected[by_arn[arn].instance_arn] -= 1
    expected = {a: n for a, n in sorted(expected.items()) if n}
    remaining = sum(max(0, n - wanted.get(a, 0)) for a, n in expected.items())
    return SurgePlan(service_name, k, tuple(new_on), tuple(remove), expected, remaining,
                     math.ceil(remaining / k), ties)


def smallest_surge(snapshot: ClusterSnapshot, service_name: str, targets: Targets,
                   max_k: int) -> SurgePlan:
    """The smallest k in 1..max_k whose one surge reaches the targets; else the k leaving the
    fewest moves (the smallest such k). ``max_k`` comes from maximumPercent headroom. The
    placements are predicted once, for max_k; each k uses their prefix. No k below the lower
    bound of moves can reach the targets (one surge removes k tasks), so the search starts
    there: near-linear in the moves needed, not quadratic in max_k."""
    service = snapshot.services[service_name]
    tasks = snapshot.tasks.get(service_name, ())
    counts = _counts(tasks)
    wanted = target_counts(targets, service_name)
    needed = sum(max(0, n - wanted.get(a, 0)) for a, n in counts.items())
    placed, ties = predict_placements(snapshot, service, counts, max(1, max_k))
    best: SurgePlan | None = None
    for k in range(max(1, min(needed, max_k)), max(1, max_k) + 1):
        surge = plan_surge(snapshot, service_name, targets, k, placed, ties)
        if surge.remaining_moves == 0:
            return surge
        if best is None or surge.remaining_moves < best.remaining_moves:
            best = surge
    if best is None:
        raise AssertionError("no surge size was tried")
    return best


def predict_placements(snapshot: ClusterSnapshot, service: Service, counts: Mapping[str, int],
                       k: int) -> tuple[list[str], int]:
    """Instance ARN of each of ``k`` new tasks placed one at a time, and the number of ties."""
    levels = strategy_levels(service)
    if isinstance(levels, Explanation):
        raise ValueError(levels.message)
    cons = service_constraints(service)
    if isinstance(cons, Explanation):
        raise ValueError(cons.message)
    ctx = CandidateIndex(snapshot)
    candidates = ctx.candidates(cons.member_of)
    if isinstance(candidates, Explanation):
        raise ValueError(candidates.message)
    providers = frozenset(service.providers)
    pool = [i for i in candidates if not providers or i.capacity_provider in providers]
    instances = ctx.instances
    per_value = _value_counts(levels, counts, instances)
    live = dict(counts)
    placed: list[str] = []
    ties = 0
    for _placement in range(k):
        room = ctx.ledger.room_fn(service.resources, distinct=cons.distinct)
        cands = [i for i in pool if room(i.arn) > 0
                 and not (cons.distinct and live.get(i.arn, 0) > 0)]
        if not cands:
            break
        for level in levels:
            if len(cands) <= 1:
                break
            scores = [per_value[level].get(level_value(level, i), 0) for i in cands]
            low = min(scores)
            cands = [i for i, sc in zip(cands, scores) if sc == low]
        ties += len(cands) > 1
        chosen = min(cands, key=_tie_key)
        placed.append(chosen.arn)
        live[chosen.arn] = live.get(chosen.arn, 0) + 1
        for level in levels:
            per_value[level][level_value(level, chosen)] += 1
        ctx.ledger.reserve(chosen.arn, service.resources)
    return placed, ties


def choose_removals(tasks: Sequence[Task], targets: Mapping[str, int] | Targets,
                    count: int | None = None, *, after: Mapping[str, int] | None = None,
                    instances: Mapping[str, Instance] | None = None) -> list[str]:
    """Task ARNs to remove from ``tasks`` (the service's tasks once the surge's new ones run)
    so the layout comes closest to ``targets``: one at a time from the instance furthest above
    its target, then the AZ holding most, then the instance holding most; inside an instance
    the task ``task_preference`` moves first. Tasks protected by others are never chosen.

    ``count`` defaults to len(tasks) - sum(targets). ``after`` (counts including tasks not in
    ``tasks``, e.g. predicted ones) and ``instances`` (for AZs) are optional.
    """
    wanted = targets if isinstance(targets, Mapping) else target_counts(targets, "")
    live = dict(after) if after is not None else _counts(tasks)
    if count is None:
        count = max(0, len(tasks) - sum(wanted.values()))
    by_instance: dict[str, list[Task]] = defaultdict(list)
    for task in sorted(tasks, key=task_preference):
        if task.protected is not True:
            by_instance[task.instance_arn].append(task)
    az_of = {arn: (instances[arn].az if instances and arn in instances else "")
             for arn in live}
    for task in tasks:
        az_of.setdefault(task.instance_arn, task.az)
        if not az_of[task.instance_arn]:
            az_of[task.instance_arn] = task.az
    per_az: dict[str, int] = defaultdict(int)
    for arn, n in live.items():
        per_az[az_of.get(arn, "")] += n
    chosen: list[str] = []
    while len(chosen) < count:
        open_arns = [a for a, ts in by_instance.items() if ts]
        if not open_arns:
            break
        arn = min(open_arns, key=lambda a: (-(live.get(a, 0) - wanted.get(a, 0)),
                                            -per_az[az_of.get(a, "")], -live.get(a, 0), a))
        task = by_instance[arn].pop(0)
        chosen.append(task.arn)
        live[arn] -= 1
        per_az[az_of.get(arn, "")] -= 1
    return chosen


def _counts(tasks: Sequence[Task]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for task in tasks:
        out[task.instance_arn] += 1
    return dict(out)


def _value_counts(levels: Sequence[str], counts: Mapping[str, int],
                  instances: Mapping[str, Instance]) -> dict[str, dict[str, int]]:
    """The service's tasks per value of each level, over every instance holding one."""
    out: dict[str, dict[str, int]] = {lv: defaultdict(int) for lv in levels}
    for arn, n in counts.items():
        inst = instances.get(arn)
        if inst is None:
            continue
        for level in levels:
            out[level][level_value(level, inst) if level != INSTANCE_LEVEL else arn] += n
    return out


def _tie_key(inst: Instance) -> tuple[str, str]:
    return (inst.ec2_instance_id or "", inst.arn)


# ------------------------------------------------------------------ the surge search
@dataclass(frozen=True, slots=True)
class SurgeRefusal:
    """Why no surge is worth making now (``choose_surge``)."""

    UNPREDICTABLE = "unpredictable"
    AZ_BUDGET = "az_budget"
    PROTECTED = "protected"
    WOULD_NOT_HELP = "would_not_help"

    code: str
    message: str


def choose_surge(snapshot: ClusterSnapshot, sp: ServicePlan, want: int,
                 per_az: Mapping[str, int], max_skew: int, protected: set[str] | frozenset[str],
                 max_moves_per_az: int | None = None) -> SurgePlan | SurgeRefusal:
    """The surge ECS will actually make for ``sp``: where its k new tasks land (its spread still
    counts the tasks they replace) and the k tasks to remove after that; the smallest k (at most
    ``want``, and never more than twice the moves needed) that reaches the targets in one surge,
    else a smaller one that still helps. Tasks in ``protected`` (by anyone) are never removed;
    ``max_moves_per_az`` with the step's ``per_az`` spending bounds the removals; a surge whose
    predicted result is no better than today (the planner's own judgement) is never chosen."""
    name = sp.service
    tasks = snapshot.tasks.get(name, ())
    marked = tuple(replace(t, protected=t.arn in protected) for t in tasks)
    view = replace(snapshot, tasks={**snapshot.tasks, name: marked})
    want = max(1, min(want, 2 * sp.moves_needed))
    try:
        best = smallest_surge(view, name, sp, want)
    except ValueError as err:
        return SurgeRefusal(SurgeRefusal.UNPREDICTABLE, f"a surge cannot be predicted: {err}")

    def candidates():
        """Smaller surges that may already balance within the tolerance (ECS broke a tie
        elsewhere than the plan's exact targets) first, then the smallest that reaches
        the targets, then smaller ones that still help; built lazily."""
        needed = max(1, min(sp.moves_needed, best.k))
        for k in range(needed, best.k):
            yield plan_surge(view, name, sp, k, best.new_on, best.ties), True
        yield best, False
        for k in range(min(needed, best.k) - 1, 0, -1):
            yield plan_surge(view, name, sp, k, best.new_on, best.ties), False

    cap = max_moves_per_az
    short = useful = False
    for surge, must_balance in candidates():
        if len(surge.remove) < surge.k:
            short = True    # the surplus would be the new tasks themselves
            continue
        if not surge_helps(view, sp, surge, max_skew, must_balance):
            continue
        useful = True
        if cap is None or all(per_az.get(az, 0) + n <= cap
                              for az, n in _removals_per_az(view, surge).items()):
            return surge
    if useful:
        return SurgeRefusal(SurgeRefusal.AZ_BUDGET,
                            f"max_moves_per_az={cap} is spent for the AZ(s) a surge would "
                            "remove tasks from in this step")
    targets = target_counts(sp, name)
    counts: dict[str, int] = defaultdict(int)
    for t in tasks:
        counts[t.instance_arn] += 1
    blocked = [t for t in tasks if t.arn in protected
               and counts[t.instance_arn] > targets.get(t.instance_arn, 0)]
    if blocked or (short and protected):
        return SurgeRefusal(SurgeRefusal.PROTECTED,
                            f"{len(blocked)} task(s) on over-target instances are protected "
                            "from scale-in by someone else and no surge without them helps; "
                            "protected tasks are never stopped")
    return SurgeRefusal(SurgeRefusal.WOULD_NOT_HELP,
                        f"no surge of at most {want} task(s) leaves the service better "
                        "balanced: ECS would place the new tasks where they do not help")


def surge_helps(snapshot: ClusterSnapshot, sp: ServicePlan, surge: SurgePlan,
                max_skew: int, must_balance: bool = False) -> bool:
    """Whether the layout a surge predicts is better than today's: fewer moves left against
    the plan's targets, or (ECS may break ties onto another instance than the plan's) the
    planner's own verdict on the predicted layout: balanced, or fewer moves needed.
    ``must_balance``: only a balanced predicted layout will do."""
    if surge.remaining_moves == 0:
        return True
    if not must_balance and surge.remaining_moves < sp.moves_needed:
        return True
    after = predicted_snapshot(snapshot, surge)
    again = plan(after, PlanOptions(services=(surge.service,),
                                    max_skew=max_skew)).service(surge.service)
    if must_balance:
        return again.balanced
    return again.balanced or again.moves_needed < sp.moves_needed


def predicted_snapshot(snapshot: ClusterSnapshot, surge: SurgePlan) -> ClusterSnapshot:
    """The snapshot as it would be once a surge ran as predicted (resources not shifted: the
    planner only needs where the service's tasks are)."""
    name = surge.service
    instances = snapshot.instance_map()
    removed = set(surge.remove)
    kept = [t for t in snapshot.tasks.get(name, ()) if t.arn not in removed]
    added = [Task(arn=f"predicted-{i}", service=name, instance_arn=arn,
                  az=instances[arn].az if arn in instances else "")
             for i, arn in enumerate(surge.new_on)]
    return replace(snapshot, tasks={**snapshot.tasks, name: tuple(kept + added)})


def surge_moves(snapshot: ClusterSnapshot, surge: SurgePlan) -> list[Move]:
    """A surge as moves: each removed task, paired with a predicted new task's instance."""
    by_arn = {t.arn: t for t in snapshot.tasks.get(surge.service, ())}
    instances = snapshot.instance_map()
    out = []
    for i, arn in enumerate(surge.remove):
        task = by_arn[arn]
        dest = surge.new_on[i] if i < len(surge.new_on) else ""
        out.append(Move(surge.service, arn, task.instance_arn, task.az, dest,
                        instances[dest].az if dest in instances else ""))
    return out


def _removals_per_az(snapshot: ClusterSnapshot, surge: SurgePlan) -> dict[str, int]:
    by_arn = {t.arn: t for t in snapshot.tasks.get(surge.service, ())}
    out: dict[str, int] = defaultdict(int)
    for arn in surge.remove:
        out[by_arn[arn].az] += 1
    return dict(out)


__all__ = ["SurgePlan", "SurgeRefusal", "choose_removals", "choose_surge", "plan_surge",
           "predict_placements", "predicted_snapshot", "smallest_surge", "surge_helps",
           "surge_moves", "target_counts"]
