"""Targets per level: for one service, the eligible instances as slots grouped by domain, the
share of tasks each domain (pool, AZ, attribute value) and each instance should hold within
max_skew with the fewest moves, and the skew before and after (``analyze`` -> ``Analysis``).

Imports ``model``, ``plan_types``, ``candidates`` and ``filling`` from the engine.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .candidates import (
    INSTANCE_LEVEL, POOL_LEVEL, CandidateIndex, Ledger, level_name, level_value,
    service_constraints,
)
from .filling import UNLIMITED, band_fill, band_moves, band_split, water_fill
from .model import AZ_ATTRIBUTE, Instance, Service, Task, TaskResources
from .plan_types import Explanation


class Slot:
    """One eligible instance, for one service. ``path``: group path + (instance ARN,);
    ``keepable``: the tasks that may stay, min(count, cap). A plain slotted class: one is
    built per eligible instance per service, the planner's most frequent allocation.
    """

    __slots__ = ("inst", "path", "count", "cap", "target", "keepable")

    def __init__(self, inst: Instance, path: tuple[str, ...], count: int, cap: int,
                 target: int = 0):
        self.inst, self.path, self.count, self.cap, self.target = inst, path, count, cap, target
        self.keepable = count if count < cap else cap

    def __repr__(self) -> str:
        return (f"Slot({self.inst.arn!r}, count={self.count}, cap={self.cap}, "
                f"target={self.target})")


@dataclass(slots=True)
class _Group:
    """The eligible instances of one leaf domain, discovered lazily in ARN order.

    Occupied instances are always slots; empty ones are scanned in only as far as needed (see
    ``analyze``), which keeps planning proportional to tasks, not instances x services.
    ``pinned``: the service's tasks on ACTIVE instances of this domain that are not candidates
    (agent disconnected, memberOf not met, another provider): ECS's spread counts them for the
    domain, and they stay where they are.
    """

    path: tuple[str, ...]
    members: list[Instance]
    slots: list[Slot] = field(default_factory=list)
    pos: int = 0
    cap: int = 0
    empties: int = 0
    target: int = 0
    pinned: int = 0

    def scan_cap(self, svc: _SvcCtx, limit: int | None) -> None:
        """Scan empty members in until the group's capacity reaches ``limit`` (None: all)."""
        if limit is None:
            self._scan(svc, lambda cap, slots, empties: True)
        else:
            self._scan(svc, lambda cap, slots, empties: cap < limit)

    def scan_slots(self, svc: _SvcCtx, want: int) -> None:
        """Scan empty members in until there are more than ``want`` slots and one empty."""
        self._scan(svc, lambda cap, slots, empties: slots <= want or empties < 1)

    def _scan(self, svc: _SvcCtx, more: Callable[[int, int, int], bool]) -> None:
        """Take the group's next members in order, each empty one with room as a slot, while
        ``more(capacity so far, slots, empty slots)``; members already holding the service's
        tasks have their slots already."""
        members, counts, room = self.members, svc.counts, svc.room
        slots, path = self.slots, self.path
        pos, end, cap_sum, empties = self.pos, len(members), self.cap, self.empties
        while pos < end and more(cap_sum, len(slots), empties):
            inst = members[pos]
            pos += 1
            arn = inst.arn
            if arn in counts:
                continue
            cap = room(arn)
            if cap > 0:
                slots.append(Slot(inst, path + (arn,), 0, cap))
                cap_sum += cap
                empties += 1
        self.pos, self.cap, self.empties = pos, cap_sum, empties

    def held(self) -> int:
        """Tasks of the service in this domain as ECS's spread counts them."""
        return sum(s.count for s in self.slots) + self.pinned


@dataclass(slots=True)
class _SvcCtx:
    """What scanning and target-setting need to know about one service.

    ``fixed``: group depths whose per-domain counts stay as they are (capacity provider pools;
    the AZ level when ECS's own AZ rebalancing owns it). ``max_skew``: the tolerance.
    """

    counts: dict[str, int]
    resources: TaskResources
    ledger: Ledger
    distinct: bool
    limit: int
    fixed: frozenset[int] = frozenset()
    max_skew: int = 1
    room: Callable[[str], int] = field(init=False, repr=False)      # capped by limit/distinct
    raw_room: Callable[[str], int] = field(init=False, repr=False)  # not capped

    def __post_init__(self) -> None:
        self.room = self.ledger.room_fn(self.resources, self.limit, self.distinct)
        self.raw_room = self.ledger.room_fn(self.resources)


@dataclass(slots=True)
class Analysis:
    """``hidden``: leading group levels that only group (pools; the AZ when ECS owns it but the
    strategy does not name it); ``delegated``: reported levels ECS owns (not in ``balanced``);
    ``target_skew``: the skew the targets leave (> max_skew only when capacity binds)."""

    service: Service
    levels: tuple[str, ...]
    slots: list[Slot]
    ineligible: dict[str, int]
    complete: bool = True
    skew: dict[str, int] = field(default_factory=dict)
    target_skew: dict[str, int] = field(default_factory=dict)
    moves_needed: int = 0
    waiting: int = 0
    hidden: int = 0
    delegated: tuple[str, ...] = ()
    groups: list[_Group] = field(default_factory=list)
    azs: dict[str, int] = field(default_factory=dict)

    def balanced(self, max_skew: int) -> bool:
        return all(s <= max_skew for lv, s in self.skew.items() if lv not in self.delegated)

    def balanced_targets(self, max_skew: int) -> bool:
        return all(s <= max_skew for lv, s in self.target_skew.items()
                   if lv not in self.delegated)


def _grouping(service: Service, levels: tuple[str, ...]
              ) -> tuple[tuple[str, ...], frozenset[int], int, tuple[str, ...]]:
    """Group levels (hidden pool/AZ levels first), fixed depths, hidden count, delegated."""
    spread = levels[-1] == INSTANCE_LEVEL
    attrs = levels[:-1] if spread else levels
    group_levels: list[str] = []
    fixed: set[int] = set()
    if service.providers:
        fixed.add(len(group_levels))
        group_levels.append(POOL_LEVEL)
    ecs_owns_az = service.az_rebalancing == "ENABLED"
    if ecs_owns_az and AZ_ATTRIBUTE not in attrs:
        fixed.add(len(group_levels))
        group_levels.append(AZ_ATTRIBUTE)
    hidden = len(group_levels)
    for level in attrs:
        if ecs_owns_az and level == AZ_ATTRIBUTE:
            fixed.add(len(group_levels))
        group_levels.append(level)
    delegated = (level_name(AZ_ATTRIBUTE),) if ecs_owns_az and AZ_ATTRIBUTE in attrs else ()
    return tuple(group_levels), frozenset(fixed), hidden, delegated


def analyze(service: Service, tasks: Sequence[Task], ctx: CandidateIndex, levels: tuple[str, ...],
            exhaustive: bool = False, max_skew: int = 1) -> Analysis | Explanation:
    """Eligible instances, counts, targets within ``max_skew`` and skew for one service.

    Not ``exhaustive``: empty eligible instances are scanned (in ARN order) only until the
    group's capacity covers every task and the group has more slots than its target, plus one
    empty; that is provably enough for exact targets and skew.
    """
    cons = service_constraints(service)
    if isinstance(cons, Explanation):
        return cons
    group_levels, fixed, hidden, delegated = _grouping(service, levels)
    grouped = ctx.grouped(cons.member_of, group_levels, service.providers, service.subnets)
    if isinstance(grouped, Explanation):
        return grouped
    members, path_of = grouped
    counts = _counts(tasks)
    pinned, waiting = _outside(counts, path_of, ctx.instances, group_levels)
    total = sum(n for arn, n in counts.items() if arn in path_of)
    svc = _SvcCtx(counts, service.resources, ctx.ledger, cons.distinct,
                  UNLIMITED if exhaustive else max(total, 1), fixed, max_skew)
    groups = _groups(members, path_of, svc, pinned)
    for group in groups:   # phase 1: enough capacity
        group.scan_cap(svc, None if exhaustive else svc.limit)
    groups = [g for g in groups if g.slots or g.pinned or g.members]
    spread = levels[-1] == INSTANCE_LEVEL
    room = sum(min(g.cap, svc.limit) + g.pinned for g in groups)
    if groups:
        _assign_groups(min(total + sum(pinned.values()), room), groups, 0, svc, spread)
    for group in groups:   # phase 2: enough instances, then the leaf distribution
        group.scan_slots(svc, group.target)
        _leaf(group, spread, max_skew)
    slots = [s for g in groups for s in g.slots]
    eligible = {s.inst.arn for s in slots}
    analysis = Analysis(service, levels, slots,
                        {arn: n for arn, n in sorted(counts.items()) if arn not in eligible},
                        complete=exhaustive or all(g.pos >= len(g.members) for g in groups),
                        waiting=waiting, hidden=hidden, delegated=delegated, groups=groups)
    if groups:
        analysis.skew = _skews(groups, group_levels, hidden, spread, targets=False)
        analysis.target_skew = _skews(groups, group_levels, hidden, spread, targets=True)
    analysis.moves_needed = sum(max(0, s.count - s.target) for s in slots)
    analysis.azs = _az_counts(slots, counts, path_of, ctx.instances)
    return analysis


def _outside(counts: Mapping[str, int], path_of: Mapping[str, tuple],
             instances: Mapping[str, Instance], group_levels: tuple[str, ...]
             ) -> tuple[dict[tuple[str, ...], int], int]:
    """Tasks not on a candidate instance: pinned per group path (the instance is ACTIVE, so
    ECS's spread still counts them for its domain) and the number waiting (DRAINING or
    deregistered instance, or not placed yet: ECS is replacing or placing them)."""
    pinned: dict[tuple[str, ...], int] = defaultdict(int)
    waiting = 0
    for arn, n in counts.items():
        if arn in path_of:
            continue
        inst = instances.get(arn)
        if inst is None or inst.status != "ACTIVE":
            waiting += n
        else:
            pinned[tuple(level_value(lv, inst) for lv in group_levels)] += n
    return pinned, waiting


def _az_counts(slots: Sequence[Slot], counts: Mapping[str, int],
               path_of: Mapping[str, tuple], instances: Mapping[str, Instance]) -> dict[str, int]:
    """Tasks per AZ as ECS's spread counts them: candidates plus other ACTIVE instances."""
    azs: dict[str, int] = defaultdict(int)
    for s in slots:
        azs[s.inst.az] += s.count
    for arn, n in counts.items():
        inst = instances.get(arn)
        if arn not in path_of and inst is not None and inst.status == "ACTIVE":
            azs[inst.az] += n
    return dict(sorted(azs.items()))


def _groups(members: Mapping[tuple[str, ...], list[Instance]], path_of: Mapping[str, tuple],
            svc: _SvcCtx, pinned: Mapping[tuple[str, ...], int]) -> list[_Group]:
    """One group per leaf domain, holding the occupied eligible instances as slots (and the
    pinned count of tasks on non-candidate ACTIVE instances of the domain)."""
    groups = {path: _Group(path, insts) for path, insts in members.items()}
    for path, n in pinned.items():
        groups.setdefault(path, _Group(path, [])).pinned = n
    for arn, count in sorted(svc.counts.items()):
        path = path_of.get(arn)
        if path is None:
            continue
        cap = min(count + svc.raw_room(arn), svc.limit)
        cap = min(cap, 1) if svc.distinct else cap
        group = groups[path]
        group.slots.append(Slot(svc.ledger.instance(arn), path + (arn,), count, cap))
        group.cap += cap
    return [groups[path] for path in sorted(groups)]


def _split(total: int, groups: list[_Group], depth: int, svc: _SvcCtx, spread: bool
           ) -> list[tuple[int, list[_Group]]]:
    """Shares of ``total`` for the child domains of ``groups`` at ``depth``.

    A fixed depth keeps each child's current count. Otherwise, with max_skew 1 and nothing
    pinned, the ceil slots go to the children where one more task saves a move (computed,
    since spreading inside a child can send its extra slot to an empty instance), then to
    those holding most, then by name; else ``band_fill`` (floors = pinned tasks).
    """
    by_key: dict[str, list[_Group]] = defaultdict(list)
    for g in groups:
        by_key[g.path[depth]].append(g)
    keys = sorted(by_key)
    floors = [sum(g.pinned for g in by_key[k]) for k in keys]
    caps = [f + min(svc.limit, sum(g.cap for g in by_key[k])) for f, k in zip(floors, keys)]
    held = [sum(g.held() for g in by_key[k]) for k in keys]
    if depth in svc.fixed:
        shares = [min(h, c) for h, c in zip(held, caps)]
    elif svc.max_skew == 1 and not any(floors):
        def pref(i: int, level: int) -> tuple:
            child = by_key[keys[i]]
            gain = _cost(level, child, depth + 1, svc, spread) - \
                _cost(level + 1, child, depth + 1, svc, spread)
            return (-gain, -sum(s.keepable for g in child for s in g.slots), keys[i])

        shares = water_fill(total, caps, pref)
    else:
        memo: dict[tuple[int, int], int] = {}

        def cost(i: int, share: int) -> int:
            if (i, share) not in memo:
                memo[i, share] = _cost(share, by_key[keys[i]], depth + 1, svc, spread)
            return memo[i, share]

        shares = band_split(total, held, floors, caps, svc.max_skew, cost) or \
            band_fill(total, held, floors, caps, svc.max_skew,
                      [(-h, k) for h, k in zip(held, keys)])
    return list(zip(shares, (by_key[k] for k in keys)))


def _cost(total: int, groups: list[_Group], depth: int, svc: _SvcCtx, spread: bool) -> int:
    """Fewest moves for the domain holding ``groups`` to end up with ``total`` tasks."""
    if depth == len(groups[0].path):
        group = groups[0]
        total = max(0, total - group.pinned)
        group.scan_slots(svc, total)
        slots = group.slots
        if not slots:
            return 0
        if not spread:
            keepable = sum(s.keepable for s in slots)
            return sum(s.count - s.keepable for s in slots) + max(0, keepable - total)
        caps = [s.cap for s in slots]
        if svc.max_skew > 1:
            return band_moves(min(total, sum(caps)), [s.count for s in slots], caps,
                              svc.max_skew)
        n = len(slots)
        if n and min(caps) * n > total:
            # Every slot gets ``level`` or ``level + 1`` and the ceil slots go to the largest
            # keepable first; slots with count > level are exactly those with keepable >
            # level (cap > level), so each ceil slot saves one move while such slots remain.
            level, extra = divmod(total, n)
            over = [s.count - level for s in slots if s.count > level]
            return sum(over) - min(extra, len(over))
        targets = water_fill(total, caps, [(-s.keepable, s.inst.arn) for s in slots])
        return sum(max(0, s.count - t) for s, t in zip(slots, targets))
    return sum(_cost(share, child, depth + 1, svc, spread)
               for share, child in _split(total, groups, depth, svc, spread))


def _assign_groups(total: int, groups: list[_Group], depth: int, svc: _SvcCtx,
                   spread: bool) -> None:
    """Set ``group.target`` (tasks on candidates, pinned ones excluded) for leaf groups under
    one domain at ``depth`` holding ``total`` (pinned ones included)."""
    if not groups:
        return
    if depth == len(groups[0].path):
        groups[0].target = max(0, total - groups[0].pinned)
        return
    for share, child in _split(total, groups, depth, svc, spread):
        _assign_groups(share, child, depth + 1, svc, spread)


def _leaf(group: _Group, spread: bool, max_skew: int = 1) -> None:
    """Targets of the instances of one leaf group: spread (instanceId level) or sticky."""
    slots = group.slots
    if not slots:
        return
    if not spread:
        _sticky(group.target, slots)
        return
    prefs = [(-s.keepable, s.inst.arn) for s in slots]
    caps = [s.cap for s in slots]
    if max_skew == 1:
        targets = water_fill(group.target, caps, prefs)
    else:
        targets = band_fill(group.target, [s.count for s in slots], [0] * len(slots), caps,
                            max_skew, prefs)
    for s, t in zip(slots, targets):
        s.target = t


def _sticky(total: int, slots: Sequence[Slot]) -> None:
    """Inside a leaf attribute domain: keep tasks where they are, add to the emptiest."""
    for s in slots:
        s.target = s.keepable
    diff = total - sum(s.target for s in slots)
    if diff < 0:
        heap = [(-s.target, s.inst.arn, i) for i, s in enumerate(slots) if s.target > 0]
        heapq.heapify(heap)
        for _step in range(-diff):
            _prio, arn, i = heapq.heappop(heap)
            slots[i].target -= 1
            if slots[i].target:
                heapq.heappush(heap, (-slots[i].target, arn, i))
    elif diff > 0:
        heap = [(s.target, s.inst.arn, i) for i, s in enumerate(slots) if s.target < s.cap]
        heapq.heapify(heap)
        for _step in range(diff):
            _prio, arn, i = heapq.heappop(heap)
            slots[i].target += 1
            if slots[i].target < slots[i].cap:
                heapq.heappush(heap, (slots[i].target, arn, i))


def _skews(groups: Sequence[_Group], group_levels: tuple[str, ...], hidden: int, spread: bool,
           targets: bool = False) -> dict[str, int]:
    """Skew per reported level (of counts, or of the targets), measured inside each parent
    domain.

    ``groups``: the leaf groups. Attribute levels are the group path, so their domains'
    counts are group totals (pinned tasks included: ECS's spread counts them); the
    ``instanceId`` level (``spread``) has one domain per candidate slot, its parent being the
    slot's group. The first ``hidden`` levels (pools) are parents only, never reported.
    """
    def value(s: Slot) -> int:
        return s.target if targets else s.count

    totals = [(g.path, sum(value(s) for s in g.slots) + g.pinned) for g in groups]
    out = {}
    for depth in range(hidden, len(group_levels)):
        per_parent: dict[tuple, dict[str, int]] = {}
        for path, total in totals:
            domains = per_parent.setdefault(path[:depth], {})
            domains[path[depth]] = domains.get(path[depth], 0) + total
        out[level_name(group_levels[depth])] = max(max(c.values()) - min(c.values())
                                                   for c in per_parent.values())
    if spread:
        per_group = [[value(s) for s in g.slots] for g in groups if g.slots]
        out[INSTANCE_LEVEL] = max((max(c) - min(c) for c in per_group), default=0)
    return out


def _counts(tasks: Iterable[Task]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for task in tasks:
        out[task.instance_arn] += 1
    return out


__all__ = ["Analysis", "Slot", "analyze"]
