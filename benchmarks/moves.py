"""Part 2: tasks stopped per strategy on skewed scenarios, against an independent lower bound.

Strategies, without a cluster: ``stop``, ``surge`` and ``auto`` stop exactly the planned moves
(the executor stops the planned tasks; surge scales the same tasks in); ``redeploy`` restarts
every task of each service the plan touches; the reference architecture ("redeploy every
service" on each instance state change) restarts every task of every service.

The lower bound is computed here by brute force, not by the planner: over every layout that is
balanced at AZ level and at instance level inside each AZ (skew <= 1, every ACTIVE instance
eligible; the scenarios leave capacity ample), the fewest tasks that must leave their instance.
"""

from __future__ import annotations

import importlib
import random
from itertools import combinations

from .common import ENGINE, table

BIG = 10 ** 6


def _scenarios():
    from tests.unit.engine.factories import cluster, inst, svc

    out = {}
    # 1. New empty instance: 3 AZs x 2 instances balanced, a 7th instance joins AZ a.
    insts = [inst(f"{z}{k}", z) for z in "abc" for k in range(2)] + [inst("a2", "a")]
    out["new empty instance"] = cluster(
        insts, [svc("web"), svc("api"), svc("worker")],
        {"web": {f"{z}{k}": 2 for z in "abc" for k in range(2)},
         "api": {"a0": 2, "a1": 1, "b0": 2, "b1": 1, "c0": 1, "c1": 2},
         "worker": {"a0": 1, "a1": 1, "b0": 1, "b1": 1, "c0": 1, "c1": 1}})
    # 2. One AZ lost and restored: AZ c's tasks were replaced in a and b; c is back, empty.
    insts = [inst(f"{z}{k}", z) for z in "abc" for k in range(3)]
    out["AZ lost and restored"] = cluster(
        insts, [svc("web"), svc("api"), svc("cache")],
        {"web": {f"{z}{k}": 3 for z in "ab" for k in range(3)},
         "api": {"a0": 2, "a1": 2, "a2": 1, "b0": 2, "b1": 2, "b2": 1},
         "cache": {"a0": 2, "a1": 1, "a2": 1, "b0": 2, "b1": 2, "b2": 1}})
    # 3. Unequal AZs (4 / 2 / 1 instances), tasks packed on the oldest instance of each AZ.
    insts = ([inst(f"a{k}", "a") for k in range(4)] + [inst(f"b{k}", "b") for k in range(2)]
             + [inst("c0", "c")])
    out["unequal AZs 4/2/1"] = cluster(
        insts, [svc("web"), svc("api")],
        {"web": {"a0": 6, "b0": 5, "c0": 4}, "api": {"a0": 3, "a1": 1, "b0": 4, "c0": 1}})
    # 4. Many services: 12 instances (3 AZs), 40 services, the newest 4 instances empty.
    rng = random.Random(7)
    insts = [inst(f"{z}{k}", z) for z in "abc" for k in range(4)]
    old = [f"{z}{k}" for z in "abc" for k in range(3)]
    services, placement = [], {}
    for n in range(40):
        name = f"svc{n:02d}"
        services.append(svc(name))
        per: dict[str, int] = {}
        for _ in range(rng.randint(2, 12)):
            ref = rng.choice(old)
            per[ref] = per.get(ref, 0) + 1
        placement[name] = per
    out["many services (40)"] = cluster(insts, services, placement)
    # 5. Scale-out, minimumHealthyPercent 100 (auto must surge): 2 AZs, 2 old + 2 new.
    insts = [inst(f"{z}{k}", z) for z in "ab" for k in range(2)]
    out["scale-out, minHealthy 100"] = cluster(
        insts, [svc("web"), svc("api")], {"web": {"a0": 4, "b0": 4}, "api": {"a0": 3, "b0": 3}})
    return out


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


def _balanced_after(planner, snap, moves) -> bool:
    from tests.unit.engine.factories import apply_moves
    after = apply_moves(snap, moves)
    return all(planner.distribution(after, name).balanced for name in after.services)


def run() -> dict:
    from dataclasses import replace

    planner = importlib.import_module(f"{ENGINE}.planner")
    executor = importlib.import_module(f"{ENGINE}.executor")
    rows = []
    for name, snap in _scenarios().items():
        if "minHealthy 100" not in name:      # others: minimumHealthyPercent 50 (a spare)
            snap = replace(snap, services={n: replace(s, min_healthy_percent=50)
                                           for n, s in snap.services.items()})
        p = planner.plan(snap, planner.PlanOptions(max_moves=BIG))
        moved = len(p.moves)
        touched = {m.service for m in p.moves}
        tasks = {n: len(ts) for n, ts in snap.tasks.items()}
        modes = {executor.Executor(None, "", executor.ExecOptions(strategy="auto"))._mode(
            snap.services[s], snap.tasks[s]) for s in touched}
        bound = sum(lower_bound(snap, s) for s in snap.services)
        rows.append({
            "scenario": name, "instances": len(snap.instances), "services": len(snap.services),
            "tasks": sum(tasks.values()), "lower_bound": bound,
            "auto": moved, "auto_modes": sorted(modes),
            "stop": moved if "minHealthy 100" not in name else None,   # no spare: stop skips
            "surge": moved, "redeploy": sum(tasks[s] for s in touched),
            "reference_redeploy_all": sum(tasks.values()),
            "auto_equals_lower_bound": moved == bound,
            "balanced_after_auto": _balanced_after(planner, snap, p.moves)})
    return {"command": "make bench  (python -m benchmarks.run --only moves)", "rows": rows,
            "auto_equals_lower_bound_everywhere": all(r["auto_equals_lower_bound"] for r in rows),
            "notes": "stop = n/a where minimumHealthyPercent 100 leaves no spare task (the "
                     "executor skips the service with a reason); auto surges there instead."}


def render(res: dict) -> str:
    rows = [[r["scenario"], r["instances"], r["services"], r["tasks"], r["lower_bound"],
             r["auto"], "n/a" if r["stop"] is None else r["stop"], r["surge"], r["redeploy"],
             r["reference_redeploy_all"], "yes" if r["auto_equals_lower_bound"] else "NO",
             "yes" if r["balanced_after_auto"] else "NO"] for r in res["rows"]]
    return (table(["scenario", "inst", "svcs", "tasks", "lower bound", "auto", "stop", "surge",
                   "redeploy", "reference (redeploy all)", "auto = bound", "balanced after"],
                  rows)
            + "\n\nTasks stopped/restarted per strategy. " + res["notes"])
