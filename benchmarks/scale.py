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
import time
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
    whole = [measure_whole_run(*size, mode=mode)
             for size in (WHOLE_RUN_SIZES[:1] if quick else WHOLE_RUN_SIZES)
             for mode in WHOLE_RUN_MODES]
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
        "target_met": (big["plan_cpu_s_median"] < TARGET_SECONDS if big["tasks"] >= 100_000
                       else None),
        "whole_run": whole,
        "whole_run_before": WHOLE_RUN_BEFORE,
    }


# Issue 12.2: the whole run at these sizes (instances, services, tasks).
WHOLE_RUN_SIZES = [(1_000, 200, 20_000), (5_000, 500, 100_000)]
WHOLE_RUN_TARGET = {"cpu_s": 2.0, "bytes": 1_000_000}
# The old code's figures, quoted from issue 12.2 (results.json never recorded them).
WHOLE_RUN_BEFORE = {"distributions_cpu_s_5000_100k": 15.8, "module_output_mb_1000_200": 90,
                    "source": "issue 12.2 (distributions() ~15.8 s CPU at 5,000/100,000; "
                              "module output ~90 MB at 1,000/200)"}


def _timed(fn):
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


# minimumHealthyPercent per whole-run mode: 50 lets the evictor stop spare tasks; 100 (ECS's
# default, maximumPercent 200) leaves no spare task, so every service is a surge decision.
WHOLE_RUN_MODES = {"stop": 50, "surge": 100}


def measure_whole_run(instances: int, services: int, tasks: int, mode: str = "stop",
                      repeats: int = 3) -> dict:
    """Issue 12.2: what one ``rebalance`` run in check mode costs before it calls ECS to
    act, on one core: read (snapshot from the in-memory fake ECS of api_calls.py), plan (every
    move), the evictor's decision (default budget: 10% of tasks), the per-service report
    (the run's own plan, no per-instance detail: the modules' default), and json.dumps of the
    module's output (``RebalanceResult.to_dict()``). ``mode`` sets every service's
    minimumHealthyPercent (``WHOLE_RUN_MODES``): "stop" or "surge" decisions for every
    service. Also: ``task_distribution_info``'s default output (``engine.distribution_report``).

    The run is measured ``repeats`` times on the same cluster and the one with the median
    total is reported (``total_cpu_s_runs`` lists every total): CPU time on a shared machine
    moves with the other work on it, as the planner's figures above do (their median of
    repeats)."""
    import json
    from dataclasses import replace
    from tests.unit.engine.factories import synthetic_cluster
    from tests.unit.engine.snapshot_ecs import FakeEcs
    planner = importlib.import_module(f"{ENGINE}.planner")
    snapshot = importlib.import_module(f"{ENGINE}.snapshot")
    evictor = importlib.import_module(f"{ENGINE}.evictor")
    aws_client = importlib.import_module(f"{ENGINE}.aws_client")
    deadline_mod = importlib.import_module(f"{ENGINE}.deadline")
    report = importlib.import_module(f"{ENGINE}.report")
    runner = importlib.import_module(f"{ENGINE}.runner")
    facade = importlib.import_module(ENGINE.rsplit("._engine", 1)[0] + ".engine")
    snap = synthetic_cluster(instances, 3, services, tasks, skew="scale-out", seed=0)
    snap = replace(snap, services={n: replace(s, min_healthy_percent=WHOLE_RUN_MODES[mode],
                                              max_percent=200)
                                   for n, s in snap.services.items()})
    fake = FakeEcs(snap)

    def once() -> tuple[float, tuple]:
        gc.collect()
        read, t_read = _timed(lambda: snapshot.take_snapshot(fake, snap.cluster_name))
        planned, t_plan = _timed(lambda: planner.plan(read))
        deadline = deadline_mod.Deadline(lambda: 0.0, 900)
        decision, t_decide = _timed(lambda: evictor.Evictor(
            aws_client.CountingClient(fake), read.cluster_arn, evictor.Limits(), deadline
        ).decide(read, planned))
        rep, t_report = _timed(lambda: report.report(read, 1, None, planned, detail=False))
        result = runner.RebalanceResult(plan=planned, before=rep, after=rep, decision=decision,
                                        check_mode=True, detail=False)
        output, t_dumps = _timed(lambda: json.dumps(result.to_dict()))
        cpu = t_read + t_plan + t_decide + t_report + t_dumps
        return cpu, (read, planned, decision, result, output, t_read, t_plan, t_decide,
                     t_report, t_dumps)

    runs = sorted((once() for _ in range(max(1, repeats))), key=lambda r: r[0])
    cpu, (read, planned, decision, result, output, t_read, t_plan, t_decide, t_report,
          t_dumps) = runs[len(runs) // 2]
    parts = {k: len(json.dumps(v)) for k, v in result.to_dict().items()}
    info, t_info = _timed(lambda: json.dumps(facade.distribution_report(read, 1, None, False)))
    modes = [g.mode for g in decision.grants]
    refused: dict[str, int] = {}
    for r in decision.refusals:
        refused[r.code] = refused.get(r.code, 0) + 1
    return {"instances": instances, "services": services, "tasks": tasks, "mode": mode,
            "read_cpu_s": round(t_read, 3), "plan_cpu_s": round(t_plan, 3),
            "decide_cpu_s": round(t_decide, 3), "report_cpu_s": round(t_report, 3),
            "dumps_cpu_s": round(t_dumps, 3), "total_cpu_s": round(cpu, 3),
            "total_cpu_s_runs": [round(r[0], 3) for r in runs],
            "moves_planned": len(planned.moves), "max_moves": decision.max_moves,
            "granted_moves": len(decision.moves),
            "grants_by_mode": {m: modes.count(m) for m in sorted(set(modes))},
            "refused_by_code": refused,
            "surge_k_total": sum(g.surge.k for g in decision.grants if g.surge),
            "output_bytes": len(output),
            "output_bytes_by_key": dict(sorted(parts.items(), key=lambda kv: -kv[1])[:4]),
            "plan_moves_bytes": len(json.dumps(result.to_dict()["plan"]["move_summary"])),
            "info_output_bytes": len(info), "info_plan_report_dumps_cpu_s": round(t_info, 3),
            "target_cpu_met": cpu < WHOLE_RUN_TARGET["cpu_s"],
            "target_bytes_met": len(output) < WHOLE_RUN_TARGET["bytes"]}


def render(res: dict) -> str:
    rows = [[r["instances"], r["services"], r["tasks"], r["plan_cpu_s_median"],
             r["plan_wall_s_median"], r["us_per_task"], r["peak_mem_mib"], r["moves_needed"]]
            for r in res["rows"]]
    out = table(["instances", "services", "tasks", "plan CPU s (median)", "wall s",
                 "µs/task", "peak MiB", "moves needed"], rows)
    out += (f"\n\nGrowth exponent (log-log slope of CPU time vs tasks): "
            f"{res['growth_exponent_time_vs_tasks']} (n log n over this range: "
            f"{res['nlogn_reference_exponent']}); memory: {res['growth_exponent_mem_vs_tasks']}."
            f"\nTarget {res['target']}: " + ("not measured (--quick)" if res["target_met"] is None
                                             else "met" if res["target_met"] else "NOT met")
            + ".")
    whole = res.get("whole_run")
    if whole:
        out += "\n\n" + render_whole_run(whole, res.get("whole_run_before", WHOLE_RUN_BEFORE))
    return out


def render_whole_run(rows: list[dict], before: dict) -> str:
    """The whole-run table (issue 12.2), one row per size and mode, with the old code's
    figures beside it and a verdict per row of the largest size."""
    table_rows = [[r["instances"], r["services"], r["tasks"], r.get("mode", "stop"),
                   r["read_cpu_s"], r["plan_cpu_s"], r["decide_cpu_s"], r["report_cpu_s"],
                   r["dumps_cpu_s"], r["total_cpu_s"], r.get("moves_planned", ""),
                   r["granted_moves"], _grants(r), r["output_bytes"],
                   r["info_output_bytes"]] for r in rows]
    biggest = max(r["tasks"] for r in rows)
    verdicts = [_verdict(r) for r in rows if r["tasks"] == biggest]
    return ("Whole run (issue 12.2), CPU seconds on one core: read (snapshot from the in-memory "
            "fake ECS) + plan (every move) + evictor decision (default budget: 10% of tasks) + "
            "report + json.dumps of the rebalance module's check-mode output. Mode stop: every "
            "service minimumHealthyPercent 50; mode surge: 100 (ECS's default) and "
            "maximumPercent 200, so every decision is a surge.\n\n"
            + table(["instances", "services", "tasks", "mode", "read", "plan", "decide",
                     "report", "dumps", "total CPU s", "moves planned", "moves granted",
                     "grants / refusals", "rebalance output bytes",
                     "task_distribution_info output bytes"], table_rows)
            + "\n\nEach row is the median of its repeated runs (by total; every total: "
            + "; ".join(f"{r['instances']}/{r['tasks']} {r.get('mode', 'stop')} "
                        + ", ".join(f"{t:g}" for t in r.get("total_cpu_s_runs", [r["total_cpu_s"]]))
                        for r in rows) + ")."
            + f"\n\nTargets (< {WHOLE_RUN_TARGET['cpu_s']:g} s CPU, < 1 MB default output) "
            + "; ".join(verdicts) + f". Before: {before['source']}.")


def _grants(row: dict) -> str:
    """Grants per mode and refusals per code, e.g. "surge 200 (k 1000)" or "stop 180; deferred 20"."""
    parts = [f"{m} {n}" for m, n in row.get("grants_by_mode", {}).items()]
    if row.get("surge_k_total"):
        parts[-1] += f" (k {row['surge_k_total']})"
    parts += [f"{c} {n}" for c, n in row.get("refused_by_code", {}).items()]
    return "; ".join(parts) or "none"


def _verdict(row: dict) -> str:
    return (f"at {row['instances']}/{row['services']}/{row['tasks']} {row.get('mode', 'stop')} "
            f"mode: CPU {row['total_cpu_s']} s ({'met' if row['target_cpu_met'] else 'NOT met'}),"
            f" rebalance output {row['output_bytes']:,} bytes "
            f"({'met' if row['target_bytes_met'] else 'NOT met'}; largest keys: "
            + ", ".join(f"{k} {v:,}" for k, v in row["output_bytes_by_key"].items())
            + (f"; plan.moves {row['plan_moves_bytes']:,} for {row['granted_moves']:,} granted"
               if "plan_moves_bytes" in row else "") + ")")
