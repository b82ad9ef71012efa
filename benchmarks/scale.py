"""Part 1: planner scale. Synthetic scale-out snapshots (tests/unit/engine/factories.py):
instances over 3 AZs, tasks packed 4 per instance on the older half, the newer half empty.

Reports per size: planning CPU time (median of repeats, one process, one core), wall time,
peak Python memory allocated while planning (tracemalloc, a separate run: tracing slows the
code), moves needed, and the growth exponent of time against tasks.
"""

from __future__ import annotations

import gc
import importlib
import math
import tracemalloc

from .common import ENGINE, cpu_median, loglog_slope, table

# (instances, services, tasks); 3 AZs each.
SIZES = [(10, 10, 200), (100, 50, 2_000), (1_000, 200, 20_000), (5_000, 500, 100_000)]
TARGET_SECONDS = 1.0


def run(repeats: int = 5, quick: bool = False) -> dict:
    from tests.unit.engine.factories import synthetic_cluster
    planner = importlib.import_module(f"{ENGINE}.planner")
    rows = []
    for instances, services, tasks in (SIZES[:3] if quick else SIZES):
        snap = synthetic_cluster(instances, 3, services, tasks, skew="scale-out", seed=0)
        result = planner.plan(snap)                 # warm-up, and the figures below
        reps = repeats if tasks <= 20_000 else max(3, repeats)
        gc.collect()
        cpu, wall, samples = cpu_median(lambda: planner.plan(snap), reps)
        gc.collect()
        tracemalloc.start()
        planner.plan(snap)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"instances": instances, "azs": 3, "services": services, "tasks": tasks,
                     "repeats": reps, "plan_cpu_s_median": round(cpu, 4),
                     "plan_wall_s_median": round(wall, 4),
                     "plan_cpu_s_samples": [round(s, 4) for s in samples],
                     "peak_mem_mib": round(peak / 2 ** 20, 2),
                     "moves_needed": result.moves_needed, "moves_planned": len(result.moves),
                     "us_per_task": round(cpu / tasks * 1e6, 2)})
    report_row = measure_report(*SIZES[-1]) if not quick else None
    xs = [r["tasks"] for r in rows]
    exponent = loglog_slope(xs, [r["plan_cpu_s_median"] for r in rows])
    big = rows[-1]
    return {
        "command": "make bench  (python -m benchmarks.run --only scale)",
        "rows": rows,
        "growth_exponent_time_vs_tasks": round(exponent, 3),
        "growth_exponent_mem_vs_tasks": round(loglog_slope(xs, [r["peak_mem_mib"] for r in rows]), 3),
        # n log n over this range has a log-log slope of about 1 + 1/ln(n): ~1.1.
        "nlogn_reference_exponent": round(loglog_slope(xs, [x * math.log(x) for x in xs]), 3),
        "target": f"{big['instances']} instances / {big['tasks']} tasks planned in < "
                  f"{TARGET_SECONDS:g} s CPU",
        "target_met": big["plan_cpu_s_median"] < TARGET_SECONDS and big["tasks"] >= 100_000,
        "report": report_row,
    }


def measure_report(instances: int, services: int, tasks: int) -> dict:
    """Issue 12 item 2: read (in-memory fake ECS) + plan + report + json.dumps, CPU seconds
    and the default report's size (target: < 2 s, < 1 MB)."""
    import json
    import time
    from tests.unit.engine.factories import synthetic_cluster
    from .api_calls import FakeEcs
    planner = importlib.import_module(f"{ENGINE}.planner")
    snapshot = importlib.import_module(f"{ENGINE}.snapshot")
    report = importlib.import_module(f"{ENGINE}.report")
    snap = synthetic_cluster(instances, 3, services, tasks, skew="scale-out", seed=0)
    start = time.process_time()
    read = snapshot.take_snapshot(FakeEcs(snap), snap.cluster_name)
    planned = planner.plan(read, planner.PlanOptions(max_moves=planner.UNLIMITED))
    size = len(json.dumps(report.report(read, 1, None, planned)))
    cpu = time.process_time() - start
    return {"instances": instances, "services": services, "tasks": tasks,
            "read_plan_report_dumps_cpu_s": round(cpu, 3), "default_report_bytes": size,
            "target_met": cpu < 2.0 and size < 1_000_000}


def render(res: dict) -> str:
    rows = [[r["instances"], r["services"], r["tasks"], r["plan_cpu_s_median"],
             r["plan_wall_s_median"], r["us_per_task"], r["peak_mem_mib"], r["moves_needed"]]
            for r in res["rows"]]
    out = table(["instances", "services", "tasks", "plan CPU s (median)", "wall s",
                 "µs/task", "peak MiB", "moves needed"], rows)
    out += (f"\n\nGrowth exponent (log-log slope of CPU time vs tasks): "
            f"{res['growth_exponent_time_vs_tasks']} (n log n over this range: "
            f"{res['nlogn_reference_exponent']}); memory: {res['growth_exponent_mem_vs_tasks']}."
            f"\nTarget {res['target']}: {'met' if res['target_met'] else 'NOT met'}.")
    rep = res.get("report")
    if rep:
        out += (f"\nRead + plan + report + json.dumps at {rep['instances']} instances / "
                f"{rep['services']} services / {rep['tasks']} tasks: "
                f"{rep['read_plan_report_dumps_cpu_s']} s CPU, default report "
                f"{rep['default_report_bytes']} bytes (target < 2 s, < 1 MB: "
                f"{'met' if rep['target_met'] else 'NOT met'}).")
    return out
