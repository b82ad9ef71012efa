"""The surge module's literal readings of ECS's placement and of the removal order: every
placement filters the whole pool level by level, every removal scans every instance. O(k x
pool); the engine's heap-per-domain versions are property-tested against these."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.candidates import (
    CandidateIndex, level_value,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    ClusterSnapshot, Instance, Service, Task,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.planner import (
    task_preference,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.surge import (
    SurgePlan, _counts, _levels_and_constraints, _tie_key, _value_counts, provider_sequence,
    predict_placements, target_counts,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.plan_types import (
    Explanation,
)


def _placement_inputs(snapshot: ClusterSnapshot, service: Service
                      ) -> tuple[tuple[str, ...], Constraints, list[Instance], CandidateIndex]:
    """The service's levels and constraints, the pool its new tasks may land on (accepting,
    memberOf met, of the strategy's providers) and a fresh candidate index (its ledger)."""
    levels, cons = _levels_and_constraints(service)
    ctx = CandidateIndex(snapshot)
    candidates = ctx.candidates(cons.member_of)
    if isinstance(candidates, Explanation):
        raise ValueError(candidates.message)
    providers = frozenset(service.providers)
    pool = [i for i in candidates if not providers or i.capacity_provider in providers]
    return levels, cons, pool, ctx


def predict_placements_simple(snapshot: ClusterSnapshot, service: Service,
                              counts: Mapping[str, int], k: int) -> tuple[list[str], int]:
    """``predict_placements`` read literally: every placement filters the whole pool, level
    by level. O(k x pool); kept as the reference the fast one is property-tested against."""
    levels, cons, pool, ctx = _placement_inputs(snapshot, service)
    instances = ctx.instances
    per_value = _value_counts(levels, counts, instances)
    live = dict(counts)
    sequence = provider_sequence(service, counts, instances, k)
    # Spread counts the service's tasks on the instances of the new task's provider (of the
    # strategy's providers when it names one; every instance without a strategy).
    wanted = set(service.providers)
    if wanted:
        per_value = {p: _value_counts(levels, {a: n for a, n in counts.items() if a in instances
                                               and instances[a].capacity_provider in
                                               ({p} if sequence else wanted)}, instances)
                     for p in (set(sequence) if sequence else {""})}
    else:
        per_value = {"": per_value}
    placed: list[str] = []
    ties = 0
    for placement in range(k):
        values = per_value[sequence[placement] if sequence else ""]
        room = ctx.ledger.room_fn(service.resources, distinct=cons.distinct)
        cands = [i for i in pool if room(i.arn) > 0
                 and not (cons.distinct and live.get(i.arn, 0) > 0)
                 and (sequence is None or i.capacity_provider == sequence[placement])]
        if not cands:
            break
        for level in levels:
            if len(cands) <= 1:
                break
            scores = [values[level].get(level_value(level, i), 0) for i in cands]
            low = min(scores)
            cands = [i for i, sc in zip(cands, scores) if sc == low]
        ties += len(cands) > 1
        chosen = min(cands, key=_tie_key)
        placed.append(chosen.arn)
        live[chosen.arn] = live.get(chosen.arn, 0) + 1
        for level in levels:
            values[level][level_value(level, chosen)] += 1
        ctx.ledger.reserve(chosen.arn, service.resources)
    return placed, ties


def choose_removals_simple(tasks: Sequence[Task], targets: Mapping[str, int],
                           count: int | None = None, *, after: Mapping[str, int] | None = None,
                           instances: Mapping[str, Instance] | None = None,
                           fresh: Mapping[str, int] | None = None) -> list[str]:
    """Task ARNs to remove from ``tasks`` (the service's tasks once the surge's new ones run)
    so the layout comes closest to ``targets``: one at a time from the instance furthest above
    its target, then the AZ holding most, then the instance holding most; inside an instance
    the task ``task_preference`` moves first. Tasks protected by others are never chosen.

    ``count`` defaults to len(tasks) - sum(targets). ``after`` (counts including tasks not in
    ``tasks``, e.g. predicted ones) and ``instances`` (for AZs) are optional. ``fresh``: new
    tasks per instance, removable before the instance's old ones; each is returned as
    ``new@<instance ARN>``.
    """
    wanted = targets
    live = dict(after) if after is not None else _counts(tasks)
    if count is None:
        count = max(0, len(tasks) - sum(wanted.values()))
    by_instance: dict[str, list[Task]] = defaultdict(list)
    for arn_, n in (fresh or {}).items():
        by_instance[arn_].extend([f"new@{arn_}"] * n)
    for task in sorted(tasks, key=task_preference):
        if task.protected is not True:
            by_instance[task.instance_arn].append(task)
    az_of = {arn: (instances[arn].az if instances and arn in instances else "")
             for arn in {*live, *by_instance}}
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
        chosen.append(task if isinstance(task, str) else task.arn)
        live[arn] -= 1
        per_az[az_of.get(arn, "")] -= 1
    return chosen


def plan_surge_simple(snapshot: ClusterSnapshot, service_name: str, targets, k: int,
                      placed: Sequence[str], ties: int) -> SurgePlan:
    """One surge of k planned literally: the first k placements, then the removals one at a
    time by the literal scan, new tasks before old ones on their instance."""
    tasks = snapshot.tasks.get(service_name, ())
    wanted = target_counts(targets, service_name)
    after = dict(_counts(tasks))
    fresh: dict[str, int] = defaultdict(int)
    for arn in placed[:k]:
        after[arn] = after.get(arn, 0) + 1
        fresh[arn] += 1
    chosen = choose_removals_simple(tasks, wanted, k, after=after,
                                    instances=snapshot.instance_map(), fresh=fresh)
    remove = tuple(c for c in chosen if not c.startswith("new@"))
    overhead_on = tuple(c[len("new@"):] for c in chosen if c.startswith("new@"))
    instance_of = {t.arn: t.instance_arn for t in tasks}
    expected = dict(after)
    for arn in remove:
        expected[instance_of[arn]] -= 1
    for arn in overhead_on:
        expected[arn] -= 1
    expected = {a: n for a, n in sorted(expected.items()) if n}
    remaining = sum(max(0, n - wanted.get(a, 0)) for a, n in expected.items())
    return SurgePlan(service_name, k, tuple(placed[:k]), remove, expected, remaining,
                     -(-remaining // k), ties, overhead_on)


def smallest_surge_simple(snapshot: ClusterSnapshot, service_name: str, targets,
                          max_k: int) -> SurgePlan:
    """Every k from the lower bound to max_k planned in full, in turn."""
    service = snapshot.services[service_name]
    counts = _counts(snapshot.tasks.get(service_name, ()))
    wanted = target_counts(targets, service_name)
    needed = sum(max(0, n - wanted.get(a, 0)) for a, n in counts.items())
    placed, ties = predict_placements_simple(snapshot, service, counts, max(1, max_k))
    best = None
    for k in range(max(1, min(needed, max_k)), max(1, max_k) + 1):
        surge = plan_surge_simple(snapshot, service_name, targets, k, placed, ties)
        if surge.remaining_moves == 0:
            return surge
        if best is None or surge.remaining_moves < best.remaining_moves:
            best = surge
    return best
