"""Part 2: tasks stopped per strategy on skewed scenarios, against an independent lower bound.

2a, planned (no cluster): ``stop`` and ``auto`` in stop mode stop exactly the planned moves
(the evictor grants them, the executor stops those tasks); ``redeploy`` restarts every task
of each service the plan touches; the reference architecture ("redeploy every service" on each
instance state change) restarts every task of every service. The mode ``auto`` picks per
service is the evictor's rule: ``stop`` when a healthy task is spare above
ceil(desired * minimumHealthyPercent / 100) (``evictor.floor_running``), else ``surge`` when
maximumPercent leaves room (``evictor.surge_room``).

2b, surge measured in the sandbox (``surge_sandbox.py``, issue 13.1): a surge's cost is not
the plan's move count (ECS places the new tasks by its own spread, and a surge may need more
than one round), so it is measured: the tasks the engine's surge actions actually stopped.

The lower bound is computed here by brute force, not by the planner: over every layout that is
balanced at AZ level and at instance level inside each AZ (skew <= 1, every ACTIVE instance
eligible; the scenarios leave capacity ample), the fewest tasks that must leave their instance.
"""

from __future__ import annotations

import importlib
import random

from tests.unit.engine.oracle import lower_bound

from .common import ENGINE, table
from .surge_sandbox import MAX_RUNS


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


def _balanced_after(planner, snap, moves) -> bool:
    from tests.unit.engine.factories import apply_moves
    after = apply_moves(snap, moves)
    return all(planner.distribution(after, name).balanced for name in after.services)


def auto_mode(evictor, service, tasks) -> str:
    """The mode the evictor's ``auto`` picks for a service in a snapshot (no load balancer)."""
    healthy = evictor.healthy_tasks(service, tasks)
    if healthy - evictor.floor_running(service) > 0:
        return "stop"
    return "surge" if evictor.surge_room(service) > 0 else "none (no budget)"


def run(quick: bool = False) -> dict:
    from dataclasses import replace

    from . import surge_sandbox

    planner = importlib.import_module(f"{ENGINE}.planner")
    evictor = importlib.import_module(f"{ENGINE}.evictor")
    rows = []
    for name, snap in _scenarios().items():
        if "minHealthy 100" not in name:      # others: minimumHealthyPercent 50 (a spare)
            snap = replace(snap, services={n: replace(s, min_healthy_percent=50)
                                           for n, s in snap.services.items()})
        p = planner.plan(snap)
        moved = len(p.moves)
        touched = {m.service for m in p.moves}
        tasks = {n: len(ts) for n, ts in snap.tasks.items()}
        modes = {auto_mode(evictor, snap.services[s], snap.tasks[s]) for s in touched}
        bound = sum(lower_bound(snap, s) for s in snap.services)
        stops = modes == {"stop"}
        rows.append({
            "scenario": name, "instances": len(snap.instances), "services": len(snap.services),
            "tasks": sum(tasks.values()), "lower_bound": bound,
            "planner_moves_needed": p.moves_needed, "planned_moves": moved,
            "auto_modes": sorted(modes),
            "auto": moved if stops else None, "stop": moved if stops else None,
            "redeploy": sum(tasks[s] for s in touched),
            "reference_redeploy_all": sum(tasks.values()),
            "planned_equals_lower_bound": moved == bound,
            "balanced_after_planned": _balanced_after(planner, snap, p.moves)})
    return {"command": "make bench  (python -m benchmarks.run --only moves)", "rows": rows,
            "planned_equals_lower_bound_everywhere": all(r["planned_equals_lower_bound"]
                                                         for r in rows),
            "surge_measured": surge_sandbox.run(quick=quick),
            "notes": "2a: stop and auto = n/a where minimumHealthyPercent 100 leaves no spare "
                     "task (the evictor refuses stop with a reason; auto surges there, and a "
                     "surge's cost is measured in 2b, not assumed)."}


def _na(value: object) -> object:
    return "n/a" if value is None else value


def render(res: dict) -> str:
    rows = [[r["scenario"], r["instances"], r["services"], r["tasks"], r["lower_bound"],
             r["planned_moves"], "/".join(r["auto_modes"]), _na(r["auto"]), _na(r["stop"]),
             r["redeploy"], r["reference_redeploy_all"],
             "yes" if r["planned_equals_lower_bound"] else "NO",
             "yes" if r["balanced_after_planned"] else "NO"] for r in res["rows"]]
    out = ("2a. Planned, no cluster: tasks stopped/restarted per strategy.\n\n"
           + table(["scenario", "inst", "svcs", "tasks", "lower bound", "planned moves",
                    "auto mode", "auto", "stop", "redeploy", "reference (redeploy all)",
                    "planned = bound", "balanced after"], rows)
           + "\n\n" + res["notes"])
    measured = res.get("surge_measured")
    if measured:
        out += "\n\n2b. Surge measured in the sandbox (auto, minimumHealthyPercent 100).\n\n" \
            + render_measured(measured)
    return out


def _spread(values: list[int]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high} ({'/'.join(map(str, values))})"


def render_measured(rows: list[dict]) -> str:
    out = []
    for r in rows:
        out.append([r["scenario"], r["instances"], r["services"], r["tasks"],
                    _na(r.get("max_moves")) if r.get("max_moves") else "default",
                    _spread(r["lower_bound"]), _spread(r["surge_stopped"]),
                    _spread(r.get("surge_overhead", [])) or "-",
                    _spread(r["surge_actions"]), _spread(r["steps"]),
                    f"{r['balanced']}/{len(r['id_seeds'])}",
                    f"{r['cost_equals_bound']}/{len(r['id_seeds'])}",
                    f"{r['landed_as_predicted']}/{r['landings_reported']}",
                    ", ".join(r["refused_at_end"]) or "-"])
    return (table(["scenario", "inst", "svcs", "tasks", "max_moves", "lower bound",
                   "tasks stopped by surges", "surge overhead", "surges", "steps", "balanced",
                   "stopped = bound", "landed as predicted", "refused at the end"], out)
            + "\n\nOne run per moto ID seed (the layout's tie-breaks differ, the shape does "
              "not); a range lists every run's figure. Tasks stopped = the surge actions' "
              "stopped_tasks in the engine's RebalanceResult (restarts: what max_moves "
              "counts); surge overhead = new tasks the surges scaled in again in the same "
              "step (surge_overhead); surges = surge actions (one per "
              "service per step); the engine is re-run while it still changes something "
              f"(at most {MAX_RUNS} runs). Services are created with "
              "availabilityZoneRebalancing=DISABLED (the engine alone).")
