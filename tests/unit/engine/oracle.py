"""The brute-force lower bound of moves, shared by the property tests, the benchmarks and the
simulation: one oracle, written once, independent of the planner it checks."""

from __future__ import annotations

from itertools import combinations


def lower_bound(snap, service: str) -> int:
    """Fewest task moves to any AZ-then-instance balanced layout, by enumeration."""
    active = [i for i in snap.instances if i.accepts_tasks]
    count = {i.arn: 0 for i in active}
    for t in snap.tasks[service]:
        if t.instance_arn in count:
            count[t.instance_arn] += 1
    n = sum(count.values())
    azs = sorted({i.az for i in active})
    members = {az: [i.arn for i in active if i.az == az] for az in azs}
    base, extra = divmod(n, len(azs))
    best = None
    for ceil_azs in combinations(azs, extra):
        cost = 0
        for az in azs:
            total = base + (az in ceil_azs)
            b, e = divmod(total, len(members[az]))
            cost += min(sum(max(0, count[m] - b - (m in ceil)) for m in members[az])
                        for ceil in combinations(members[az], e))
        best = cost if best is None else min(best, cost)
    return best or 0
