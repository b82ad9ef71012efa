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
With several capacity providers in the strategy, each new task first gets its provider from
the strategy's base/weight split (``provider_sequence``, docs/ecs-facts.md §1.5) and is then
placed as above inside that provider's instances only. Limits: binpack/random strategies are
not predicted (ValueError).

What a surge costs is counted in restarts (``SurgePlan.remove``: tasks that ran before the
surge and stop); the new tasks it starts and has ECS scale in again at once (the price of
steering ECS's placement, ``SurgePlan.overhead_on``) are its overhead, at most k. On an
instance above its target a new task is removed before an older one (the same layout, one
restart fewer; ``task_preference`` removes the newest first when the surge runs too), so a
surge that reaches the targets restarts exactly the lower bound of moves.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Union

from .candidates import (
    INSTANCE_LEVEL, CandidateIndex, Constraints, Ledger, instance_map, level_value,
    service_constraints, strategy_levels,
)
from .model import SUBNET_ATTRIBUTE, CapacityProviderItem, ClusterSnapshot, Instance, Service, Task
from .plan_types import Distribution, Explanation, Move, Plan, ServicePlan
from .planner import judge, task_preference

Targets = Union[Mapping[str, int], Distribution, ServicePlan, Plan]


@dataclass(frozen=True, slots=True)
class SurgePlan:
    """``new_on``: the predicted instance ARN of each new task, in placement order.
    ``remove``: task ARNs to remove once the new tasks run (exactly k when possible).
    ``expected``: task count per instance after the surge and the removals (zeros omitted).
    ``remaining_moves``: sum of max(0, expected - target); ``more_surges``: surges of the same
    k still needed (ceil(remaining_moves / k)); ``ties``: placements decided by tie-break.
    ``remove`` holds only tasks that ran before the surge (its restarts); ``overhead_on``: the
    instance of each new task scaled in again at once (the surge's overhead), so that
    len(remove) + len(overhead_on) == k when the surge can remove k tasks."""

    service: str
    k: int
    new_on: tuple[str, ...]
    remove: tuple[str, ...]
    expected: Mapping[str, int]
    remaining_moves: int
    more_surges: int
    ties: int = 0
    overhead_on: tuple[str, ...] = ()

    @property
    def restarts(self) -> int:
        """Tasks that ran before the surge and stop: what ``max_moves`` counts."""
        return len(self.remove)

    @property
    def overhead(self) -> int:
        """New tasks ECS scales in again in the same surge (``surge_overhead``)."""
        return len(self.overhead_on)

    def to_dict(self) -> dict:
        return {"service": self.service, "k": self.k, "new_on": list(self.new_on),
                "remove": list(self.remove), "expected": dict(self.expected),
                "remaining_moves": self.remaining_moves, "more_surges": self.more_surges,
                "ties": self.ties, "restarts": self.restarts,
                "surge_overhead": self.overhead}


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
    counts = _counts(tasks)
    if placed is None:
        placed, ties = predict_placements(snapshot, service, counts, k)
    removals = _Removals(tasks, instance_map(snapshot))
    return _surge_of(service_name, target_counts(targets, service_name), counts, removals,
                     k, placed, ties)


def _surge_of(service_name: str, wanted: Mapping[str, int], counts: Mapping[str, int],
              removals: "_Removals", k: int, placed: Sequence[str], ties: int) -> SurgePlan:
    """``plan_surge`` once the placements are predicted and the removal order is indexed."""
    new_on = list(placed[:k])
    after = dict(counts)
    fresh: dict[str, int] = defaultdict(int)
    for arn in new_on:
        after[arn] = after.get(arn, 0) + 1
        fresh[arn] += 1
    remove, overhead_on = removals.choose_with_new(wanted, k, after, fresh)
    expected = dict(after)
    for arn in remove:
        expected[removals.instance_of[arn]] -= 1
    for arn in overhead_on:
        expected[arn] -= 1
    expected = {a: n for a, n in sorted(expected.items()) if n}
    remaining = sum(max(0, n - wanted.get(a, 0)) for a, n in expected.items())
    return SurgePlan(service_name, k, tuple(new_on), tuple(remove), expected, remaining,
                     math.ceil(remaining / k), ties, tuple(overhead_on))


def smallest_surge(snapshot: ClusterSnapshot, service_name: str, targets: Targets,
                   max_k: int) -> SurgePlan:
    """The smallest k in 1..max_k whose one surge reaches the targets; else the k leaving the
    fewest moves (the smallest such k). ``max_k`` comes from maximumPercent headroom. The
    placements are predicted once, for max_k; each k uses their prefix. No k below the lower
    bound of moves can reach the targets (one surge removes k tasks), so the search starts
    there.

    The moves a surge of k leaves need no removal order: ``choose_removals`` takes from an
    instance above its target while one with a removable task is left (its first key), and
    each such removal takes one move off. So with E(k) = sum over instances of max(0, tasks
    after the k placements - target) and R(k) = sum of min(that excess, removable tasks
    there: the unprotected old ones and the new ones), a surge of k leaves E(k) - min(k, R(k))
    moves. One placement changes E and R on one instance only, so every k costs O(1), and the
    removals are chosen once, for the k returned (the same k, and plan, as trying every k in
    turn). A surge that reaches the targets restarts exactly the lower bound: on each
    instance it removes the new tasks first, and the old ones it removes are those above the
    target before the surge."""
    tasks = snapshot.tasks.get(service_name, ())
    return _smallest(snapshot, service_name, target_counts(targets, service_name),
                     _counts(tasks), _Removals(tasks, instance_map(snapshot)), max_k)


def _smallest(snapshot: ClusterSnapshot, service_name: str, wanted: Mapping[str, int],
              counts: Mapping[str, int], removals: "_Removals", max_k: int) -> SurgePlan:
    """``smallest_surge`` with the service's counts and removal order given (built once by
    a caller that plans several surges of the service)."""
    service = snapshot.services[service_name]
    needed = sum(max(0, n - wanted.get(a, 0)) for a, n in counts.items())
    placed, ties = predict_placements(snapshot, service, counts, max(1, max_k))
    removable = {arn: len(queue) for arn, queue in removals.by_instance.items()}
    after = dict(counts)

    fresh: dict[str, int] = defaultdict(int)

    def excess(arn: str) -> tuple[int, int]:
        over = max(0, after.get(arn, 0) - wanted.get(arn, 0))
        return over, min(over, removable.get(arn, 0) + fresh[arn])

    parts = [excess(arn) for arn in after]
    total_excess = sum(part[0] for part in parts)
    total_removable = sum(part[1] for part in parts)
    first = max(1, min(needed, max_k))
    best_k, best_left = 0, -1
    for k in range(1, max(1, max_k) + 1):
        if k <= len(placed):
            arn = placed[k - 1]
            old_e, old_r = excess(arn)
            after[arn] = after.get(arn, 0) + 1
            fresh[arn] += 1
            new_e, new_r = excess(arn)
            total_excess += new_e - old_e
            total_removable += new_r - old_r
        if k < first:
            continue
        left = total_excess - min(k, total_removable)
        if left == 0:
            return _surge_of(service_name, wanted, counts, removals, k, placed, ties)
        if best_left < 0 or left < best_left:
            best_k, best_left = k, left
    if best_k == 0:
        raise AssertionError("no surge size was tried")
    return _surge_of(service_name, wanted, counts, removals, best_k, placed, ties)


def predict_placements(snapshot: ClusterSnapshot, service: Service, counts: Mapping[str, int],
                       k: int) -> tuple[list[str], int]:
    """Instance ARN of each of ``k`` new tasks placed one at a time, and the number of ties.

    ECS keeps, level by level, the candidates whose value holds the fewest of the service's
    tasks, then the tie-break (``_tie_key``) picks one: that is the lexicographic minimum of
    (tasks at level 1's value, ..., at level n's value, tie key). Instances of one spread
    domain (one path of attribute-level values) share every attribute-level score, so a
    placement compares the domains' best candidates and updates only the chosen instance.
    Inside a domain the best is the least of two queues: a heap of the instances holding the
    service's tasks, by (tasks on it when ``instanceId`` is a level, tie key), and the
    domain's other instances in tie-key order (shared by every service of the snapshot,
    walked past the ones without room). Per service that costs its own tasks plus
    O(domains + log) per placement, not O(pool) per placement (5,000 instances and 500
    services: a fraction of a second, not a minute). The literal reading (filter the whole
    pool per placement) is kept in the tests, which compare the two."""
    levels, cons = _levels_and_constraints(service)
    attr_levels = tuple(lv for lv in levels if lv != INSTANCE_LEVEL)
    per_instance = INSTANCE_LEVEL in levels
    instances, one = _domains(snapshot, cons.member_of, service.providers, attr_levels,
                              service.subnets)
    sequence = provider_sequence(service, counts, instances, k)
    if sequence is None:
        pools = {"": one}
    else:                   # one pool per provider: a new task lands in its provider's
        pools = {provider: _domains(snapshot, cons.member_of, (provider,), attr_levels,
                                    service.subnets)[1]
                 for provider in dict.fromkeys(sequence)}
    ledger = Ledger(instances)
    room = ledger.room_fn(service.resources, distinct=cons.distinct)
    # Spread counts the service's tasks on the instances the new task may use: with a
    # capacity provider strategy, those of the task's provider (docs/ecs-facts.md §1.5).
    per_value = {pool: _value_counts(levels, _in_pool(counts, instances, service, pool,
                                                      sequence is not None), instances)
                 for pool in pools}
    live = dict(counts)
    Key = tuple[str, tuple[str, ...]]       # (pool, domain path)
    heaps: dict[Key, list[tuple[int, tuple[str, str], str]]] = defaultdict(list)

    def pool_of(inst: Instance) -> str:
        return "" if sequence is None else inst.capacity_provider

    for arn, n in counts.items():
        inst = instances.get(arn)
        if inst is None or n <= 0 or cons.distinct:
            continue
        pool = pool_of(inst)
        path = tuple(level_value(lv, inst) for lv in attr_levels)
        domains = pools.get(pool)
        if domains and path in domains and room(arn) > 0 and arn in domains[path][1]:
            heaps[(pool, path)].append((n if per_instance else 0, _tie_key(inst), arn))
    for heap in heaps.values():
        heapq.heapify(heap)
    cursor: dict[Key, int] = {(pool, path): 0 for pool, domains in pools.items()
                              for path in domains}

    def fresh(key: Key, start: int) -> int:
        """The first instance of the domain's tie-key order from ``start`` with none of the
        service's tasks and room for one (an index past the end when there is none)."""
        order = pools[key[0]][key[1]][0]
        while start < len(order) and (live.get(order[start][1], 0) > 0
                                      or room(order[start][1]) <= 0):
            start += 1
        return start

    def best_two(key: Key) -> list[tuple[int, tuple[str, str], str]]:
        order, heap = pools[key[0]][key[1]][0], heaps.get(key, [])
        first = cursor[key] = fresh(key, cursor[key])
        out = list(heap[:3])
        if first < len(order):
            out.append((0, order[first][0], order[first][1]))
            second = fresh(key, first + 1)
            if second < len(order):
                out.append((0, order[second][0], order[second][1]))
        return sorted(out)[:2]

    # A placement changes its own domain only: the others' best two stand until then.
    best_of: dict[Key, list[tuple[int, tuple[str, str], str]]] = {}
    placed: list[str] = []
    ties = 0
    for placement in range(k):
        pool = "" if sequence is None else sequence[placement]
        tops = []
        values = per_value[pool]
        for path in pools[pool]:
            two = best_of.get((pool, path))
            if two is None:
                two = best_of[(pool, path)] = best_two((pool, path))
            if two:
                score = tuple(values[lv].get(v, 0) for lv, v in zip(attr_levels, path))
                tops.append((score + (two[0][0],), two[0][1], path, two))
        if not tops:
            break
        score, _key, path, two = min(tops)
        count, tie_key, arn = two[0]
        ties += (sum(1 for top in tops if top[0] == score) > 1
                 or (len(two) > 1 and two[1][0] == count))
        placed.append(arn)
        from_heap = live.get(arn, 0) > 0
        live[arn] = live.get(arn, 0) + 1
        chosen = instances[arn]
        for level in levels:
            values[level][level_value(level, chosen)] += 1
        ledger.reserve(arn, service.resources)
        heap = heaps[(pool, path)]
        if from_heap:
            heapq.heappop(heap)
        if room(arn) > 0 and not cons.distinct:
            heapq.heappush(heap, (live[arn] if per_instance else 0, tie_key, arn))
        del best_of[(pool, path)]
    return placed, ties


def _in_pool(counts: Mapping[str, int], instances: Mapping[str, Instance], service: Service,
             pool: str, split: bool) -> Mapping[str, int]:
    """The service's task counts on the instances of ``pool``: the provider ``pool`` when the
    strategy splits, else the strategy's providers (every instance without a strategy)."""
    if not split and not service.providers:
        return counts
    wanted = {pool} if split else set(service.providers)
    return {arn: n for arn, n in counts.items()
            if arn in instances and instances[arn].capacity_provider in wanted}


def provider_split(strategy: Sequence[CapacityProviderItem], total: int) -> dict[str, int]:
    """How many of ``total`` tasks each provider of the strategy holds: the ``base`` first to
    the provider that has one, the rest by weight. AWS documents the ratio ("for every one
    task that's run using capacityProviderA, four tasks would use capacityProviderB",
    API CapacityProviderStrategyItem), not the rounding: like the sandbox this uses the
    largest remainder (floors, then one each to the largest fractional parts, ties to the
    provider listed first; docs/ecs-facts.md §1.5). Written here, not taken from a library:
    it is ECS's rule as the sandbox emulates it, a few lines of integer arithmetic."""
    out = {item.provider: 0 for item in strategy}
    rest = total
    for item in strategy:
        if item.base > 0:
            out[item.provider] = min(item.base, total)
            rest = total - out[item.provider]
    weighted = [(item.provider, item.weight) for item in strategy if item.weight > 0]
    weight_sum = sum(w for _name, w in weighted)
    if not weighted or rest <= 0:
        return out
    # Integer largest remainder: share = rest * w / sum, compared as numerators.
    numerators = [(name, rest * w) for name, w in weighted]
    for name, num in numerators:
        out[name] += num // weight_sum
    left = rest - sum(num // weight_sum for _name, num in numerators)
    order = sorted(range(len(numerators)), key=lambda i: (-(numerators[i][1] % weight_sum), i))
    for i in order[:left]:
        out[numerators[i][0]] += 1
    return out


def provider_sequence(service: Service, counts: Mapping[str, int],
                      instances: Mapping[str, Instance], k: int) -> list[str] | None:
    """The provider of each of ``k`` new tasks, given the service's tasks per instance (each
    counted for its instance's provider), or None when the strategy names fewer than two
    providers (every task goes to the one pool). Each new task goes to the provider furthest
    below its share of the new total (``provider_split``), the first listed on a tie."""
    strategy = service.capacity_provider_strategy
    if len(strategy) < 2:
        return None
    have = {item.provider: 0 for item in strategy}
    for arn, n in counts.items():
        inst = instances.get(arn)
        if inst is not None and inst.capacity_provider in have:
            have[inst.capacity_provider] += n
    order = {item.provider: i for i, item in enumerate(strategy)}
    out: list[str] = []
    for _placement in range(k):
        target = provider_split(strategy, sum(have.values()) + 1)
        name = max(have, key=lambda p: (target[p] - have[p], -order[p]))
        out.append(name)
        have[name] += 1
    return out


# One snapshot's candidate domains, kept while the evictor predicts surges for its services
# (each prediction gets a copy of the snapshot with other tasks, the same instances tuple).
# A one-entry memo of a pure function: it holds the instances tuple, so ``is`` is exact.
_DOMAINS_MEMO: list = [None, None, {}]


def _domains(snapshot: ClusterSnapshot, member_of: tuple[str, ...],
             providers: Sequence[str], attr_levels: tuple[str, ...],
             subnets: Sequence[str] = ()) -> tuple[Mapping[str, Instance], dict]:
    """The instance map and, per spread domain (path of ``attr_levels`` values), the
    candidate instances (accepting, memberOf met, of ``providers``, in ``subnets`` for an
    awsvpc service) in tie-key order with the set of their ARNs. Raises ValueError for a
    memberOf the planner cannot evaluate."""
    if _DOMAINS_MEMO[0] is not snapshot.instances:
        _DOMAINS_MEMO[:] = [snapshot.instances, CandidateIndex(snapshot), {}]
    ctx, memo = _DOMAINS_MEMO[1], _DOMAINS_MEMO[2]
    key = (member_of, tuple(sorted(providers)), attr_levels, tuple(sorted(subnets)))
    if key not in memo:
        candidates = ctx.candidates(member_of)
        if isinstance(candidates, Explanation):
            raise ValueError(candidates.message)
        wanted = frozenset(providers)
        in_subnets = frozenset(subnets)
        grouped: dict[tuple[str, ...], list[tuple[tuple[str, str], str]]] = defaultdict(list)
        for inst in candidates:
            if in_subnets and inst.attributes.get(SUBNET_ATTRIBUTE) not in in_subnets:
                continue
            if not wanted or inst.capacity_provider in wanted:
                grouped[tuple(level_value(lv, inst) for lv in attr_levels)].append(
                    (_tie_key(inst), inst.arn))
        memo[key] = {path: (sorted(order), frozenset(entry[1] for entry in order))
                     for path, order in sorted(grouped.items())}
    return ctx.instances, memo[key]


def _levels_and_constraints(service: Service) -> tuple[tuple[str, ...], Constraints]:
    levels = strategy_levels(service)
    if isinstance(levels, Explanation):
        raise ValueError(levels.message)
    cons = service_constraints(service)
    if isinstance(cons, Explanation):
        raise ValueError(cons.message)
    return levels, cons


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
    return _Removals(tasks, instances).choose(wanted, count, live)


class _Removals:
    """The removal order's per-service index, built once for every surge size tried: the
    removable tasks per instance in ``task_preference`` order, and each instance's AZ (the
    instance's own, else its tasks')."""

    def __init__(self, tasks: Sequence[Task], instances: Mapping[str, Instance] | None):
        self.by_instance: dict[str, list[Task]] = defaultdict(list)
        for task in sorted(tasks, key=task_preference):
            if task.protected is not True:
                self.by_instance[task.instance_arn].append(task)
        self.instance_of = {t.arn: t.instance_arn for t in tasks}
        self.instances = instances or {}
        self.task_az: dict[str, str] = {}
        for task in tasks:
            if not self.task_az.get(task.instance_arn):
                self.task_az[task.instance_arn] = task.az
        self._az: dict[str, str] = {}      # az() per instance, asked once per surge size

    def az(self, arn: str) -> str:
        found = self._az.get(arn)
        if found is None:
            inst = self.instances.get(arn)
            found = self._az[arn] = \
                (inst.az if inst is not None else "") or self.task_az.get(arn, "")
        return found

    def choose(self, wanted: Mapping[str, int], count: int, live: dict[str, int]) -> list[str]:
        """``choose_with_new`` without new tasks: task ARNs only."""
        return self.choose_with_new(wanted, count, live, {})[0]

    def choose_with_new(self, wanted: Mapping[str, int], count: int, live: dict[str, int],
                        fresh: Mapping[str, int]) -> tuple[list[str], list[str]]:
        """Each choice is the minimum of (-(tasks above target), -tasks in its AZ, -tasks on
        it, ARN) over the instances with a removable task. The AZ's count is the same for
        all its instances, so each AZ keeps a heap of its instances by the other three, and
        the AZs' tops, with their AZ's count, are a heap of their own: a removal changes only
        its own AZ's top, so it costs O(log instances + log AZs). ``fresh``: new tasks per
        instance (a surge's, predicted), removed before the instance's old ones (the newest
        first: no restart). Returns the old tasks' ARNs and, for each new task removed, its
        instance's ARN."""
        live = dict(live)
        # This set-up touches every instance of the service and runs once per surge size
        # tried, so the AZ of each is looked up in the memo directly.
        az_of, known = self.az, self._az
        per_az: dict[str, int] = defaultdict(int)
        for arn, n in live.items():
            az = known.get(arn)
            per_az[az_of(arn) if az is None else az] += n
        by_instance = self.by_instance
        size = {arn: len(queue) for arn, queue in by_instance.items()}
        for arn, n in fresh.items():
            size[arn] = size.get(arn, 0) + n
        heaps: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        live_get, wanted_get = live.get, wanted.get
        for arn, n_removable in size.items():
            if n_removable > 0:
                n = live_get(arn, 0)
                heaps[known[arn] if arn in known else az_of(arn)].append(
                    (-(n - wanted_get(arn, 0)), -n, arn))
        for heap in heaps.values():
            heapq.heapify(heap)
        # The AZs' tops: (top's first key, -tasks in the AZ, top's other keys, AZ).
        tops = [(heap[0][0], -per_az[az], heap[0][1], heap[0][2], az)
                for az, heap in heaps.items()]
        heapq.heapify(tops)
        chosen: list[str] = []
        new_from: list[str] = []
        taken = dict.fromkeys(size, 0)
        while len(chosen) + len(new_from) < count and tops:
            az = heapq.heappop(tops)[4]
            heap = heaps[az]
            arn = heap[0][2]
            first_new = fresh.get(arn, 0)
            if taken[arn] < first_new:
                new_from.append(arn)
            else:
                chosen.append(by_instance[arn][taken[arn] - first_new].arn)
            taken[arn] += 1
            live[arn] = live.get(arn, 0) - 1
            per_az[az] -= 1
            if taken[arn] < size[arn]:
                n = live[arn]
                heapq.heapreplace(heap, (-(n - wanted.get(arn, 0)), -n, arn))
            else:
                heapq.heappop(heap)
            if heap:
                heapq.heappush(tops, (heap[0][0], -per_az[az], heap[0][1], heap[0][2], az))
        return chosen, new_from


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
    BUDGET = "budget"

    code: str
    message: str


def surge_cap(snapshot: ClusterSnapshot, sp: ServicePlan, room: int) -> int:
    """The largest surge worth predicting: twice the moves needed in each capacity provider's
    pool, counted through the strategy's base/weight split (with one pool: twice the moves
    needed), never above ``room`` (maximumPercent headroom). A surge may cost up to k new
    tasks that ECS scales in again at once; k beyond that is not worth the overhead."""
    needed = sp.moves_needed
    service = snapshot.services[sp.service]
    if len(service.capacity_provider_strategy) < 2:
        return max(1, min(room, 2 * needed))
    instances = instance_map(snapshot)
    wanted = target_counts(sp, sp.service)
    counts = _counts(snapshot.tasks.get(sp.service, ()))
    short: dict[str, int] = defaultdict(int)
    for arn, n in counts.items():
        inst = instances.get(arn)
        if inst is not None and n > wanted.get(arn, 0):
            short[inst.capacity_provider] += 2 * (n - wanted.get(arn, 0))
    sequence = provider_sequence(service, counts, instances, room) or []
    for k, provider in enumerate(sequence, start=1):
        if short.get(provider, 0) > 0:
            short[provider] -= 1
        if k >= 2 * needed and not any(v > 0 for v in short.values()):
            return max(1, k)
    return max(1, room)


def choose_surge(snapshot: ClusterSnapshot, sp: ServicePlan, room: int,
                 per_az: Mapping[str, int], max_skew: int, protected: set[str] | frozenset[str],
                 max_moves_per_az: int | None = None,
                 max_restarts: int | None = None) -> SurgePlan | SurgeRefusal:
    """The surge ECS will actually make for ``sp``: where its k new tasks land (its spread still
    counts the tasks they replace) and which tasks to remove after that; the smallest k (at most
    ``room``, and at most ``surge_cap``) that reaches the targets in one surge, else a smaller
    one that still helps. What it spends is restarts (tasks that ran before it): at most
    ``max_restarts`` (the step's ``max_moves`` left), and with the step's ``per_az`` spending
    at most ``max_moves_per_az`` per source AZ; the new tasks it scales in again are its
    overhead (at most k). Tasks in ``protected`` (by anyone) are never removed; a surge whose
    predicted result is no better than today (the planner's own judgement) is never chosen."""
    name = sp.service
    tasks = snapshot.tasks.get(name, ())
    # Only the tasks whose flag changes are copied (a copy per task is most of the cost at
    # 100,000 tasks); None and False both mean "not protected".
    marked = tuple(t if (t.protected is True) == (t.arn in protected)
                   else replace(t, protected=t.arn in protected) for t in tasks)
    view = replace(snapshot, tasks={**snapshot.tasks, name: marked})
    wanted = target_counts(sp, name)
    counts = _counts(marked)
    removals = _Removals(marked, instance_map(view))
    try:
        want = surge_cap(view, sp, max(1, room))
        best = _smallest(view, name, wanted, counts, removals, want)
    except ValueError as err:
        return SurgeRefusal(SurgeRefusal.UNPREDICTABLE, f"a surge cannot be predicted: {err}")

    def of_size(k: int) -> SurgePlan:
        return _surge_of(name, wanted, counts, removals, k, best.new_on, best.ties)

    def candidates():
        """Smaller surges that may already balance within the tolerance (ECS broke a tie
        elsewhere than the plan's exact targets) first, then the smallest that reaches
        the targets, then smaller ones that still help; built lazily."""
        needed = max(1, min(sp.moves_needed, best.k))
        for k in range(needed, best.k):
            yield of_size(k), True
        yield best, False
        for k in range(needed - 1, 0, -1):
            yield of_size(k), False

    cap = max_moves_per_az
    short = useful = False
    over_budget: SurgePlan | None = None
    for surge, must_balance in candidates():
        if surge.restarts + surge.overhead < surge.k:
            short = True    # ECS would scale in tasks the plan keeps
            continue
        if surge.restarts == 0:
            continue        # moves nothing that ran before: only overhead
        if not keeps_providers(view, surge):
            continue
        if not surge_helps(view, sp, surge, max_skew, must_balance):
            continue
        if max_restarts is not None and surge.restarts > max_restarts:
            over_budget = over_budget or surge
            continue
        useful = True
        if cap is None or all(per_az.get(az, 0) + n <= cap
                              for az, n in _removals_per_az(view, surge).items()):
            return surge
    if useful:
        return SurgeRefusal(SurgeRefusal.AZ_BUDGET,
                            f"max_moves_per_az={cap} is spent for the AZ(s) a surge would "
                            "restart tasks in during this step")
    if over_budget is not None:
        return SurgeRefusal(SurgeRefusal.BUDGET,
                            f"the smallest surge that helps restarts {over_budget.restarts} "
                            f"task(s) and the step's max_moves has {max_restarts} left; a "
                            "later step takes it")
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


def keeps_providers(snapshot: ClusterSnapshot, surge: SurgePlan) -> bool:
    """Whether the surge's predicted layout keeps each capacity provider's task count (only
    asked of a strategy naming two or more providers). ECS splits tasks by base/weight only
    when it places them; a scale-in that leaves one provider short is never set right by
    ECS, so the plan's per-provider counts are kept, not only its spread."""
    service = snapshot.services[surge.service]
    if len(service.capacity_provider_strategy) < 2:
        return True
    instances = instance_map(snapshot)
    before: dict[str, int] = defaultdict(int)
    for arn, n in _counts(snapshot.tasks.get(surge.service, ())).items():
        before[instances[arn].capacity_provider if arn in instances else ""] += n
    after: dict[str, int] = defaultdict(int)
    for arn, n in surge.expected.items():
        after[instances[arn].capacity_provider if arn in instances else ""] += n
    return {p: n for p, n in before.items() if n} == {p: n for p, n in after.items() if n}


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
    again = judge(predicted_snapshot(snapshot, surge), surge.service, max_skew)
    if must_balance:
        return again.balanced
    return again.balanced or again.moves_needed < sp.moves_needed


def predicted_snapshot(snapshot: ClusterSnapshot, surge: SurgePlan) -> ClusterSnapshot:
    """The snapshot as it would be once a surge ran as predicted (resources not shifted: the
    planner only needs where the service's tasks are)."""
    name = surge.service
    instances = instance_map(snapshot)
    removed = set(surge.remove)
    kept = [t for t in snapshot.tasks.get(name, ()) if t.arn not in removed]
    added = [Task(arn=f"predicted-{i}", service=name, instance_arn=arn,
                  az=instances[arn].az if arn in instances else "")
             for i, arn in enumerate(staying_new(surge))]
    return replace(snapshot, tasks={**snapshot.tasks, name: tuple(kept + added)})


def staying_new(surge: SurgePlan) -> list[str]:
    """The instances of the surge's new tasks that stay (its overhead taken off), in
    placement order."""
    gone: dict[str, int] = defaultdict(int)
    for arn in surge.overhead_on:
        gone[arn] += 1
    out = []
    for arn in surge.new_on:
        if gone[arn] > 0:
            gone[arn] -= 1
        else:
            out.append(arn)
    return out


def surge_moves(snapshot: ClusterSnapshot, surge: SurgePlan) -> list[Move]:
    """A surge as moves (its restarts): each removed task that ran before the surge, paired
    with the instance of a new task that stays."""
    by_arn = {t.arn: t for t in snapshot.tasks.get(surge.service, ())}
    instances = instance_map(snapshot)
    staying = staying_new(surge)
    out = []
    for i, arn in enumerate(surge.remove):
        task = by_arn[arn]
        dest = staying[i] if i < len(staying) else ""
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
           "predict_placements", "predicted_snapshot", "provider_sequence", "provider_split",
           "smallest_surge", "surge_cap", "surge_helps", "surge_moves", "target_counts"]
