"""The benchmark chart, drawn with matplotlib from benchmarks/results.json.

``python -m benchmarks.run`` (``make bench``) draws it after measuring; redraw it from the
recorded results without measuring again (a few seconds)::

    python -m benchmarks.chart                     # benchmarks/results.json -> benchmarks/scale.png
    python -m benchmarks.chart --results R.json --out chart.png

Left: the planner's CPU time per plan against the number of tasks (log-log; median of the
repeats, bars from the fastest to the slowest repeat; the dashed line is the target). Right:
one whole run (read, plan, decide, report) per size and mode, in CPU seconds, with its target.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .scale import TARGET_SECONDS as PLAN_TARGET_SECONDS, WHOLE_RUN_TARGET

HERE = Path(__file__).resolve().parent
RUN_TARGET_SECONDS = WHOLE_RUN_TARGET["cpu_s"]
MODE_COLOURS = {"stop": "#1f77b4", "surge": "#ff7f0e"}


def _seconds(value: float, _pos=None) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    return f"{value * 1000:.3g} ms"


def _count(value: float, _pos=None) -> str:
    return f"{value:,.0f}"


def scale_chart(scale: dict, meta: dict, path: str | Path) -> None:
    """Write the two-panel PNG for results.json's ``scale`` part (``meta`` for the caption)."""
    with matplotlib.style.context("default"):
        scale_figure(scale, meta).savefig(path, format="png",
                                          metadata={"Software": "taskspread.ecs benchmarks"})


def scale_figure(scale: dict, meta: dict) -> Figure:
    """The chart as a matplotlib figure (see the module's docstring)."""
    rows = scale["rows"]
    whole = scale.get("whole_run") or []
    with matplotlib.style.context("default"):
        figure = Figure(figsize=(13, 5.6), dpi=100, facecolor="white")
        FigureCanvasAgg(figure)
        plan, run = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})

        tasks = [r["tasks"] for r in rows]
        median = [r["plan_cpu_s_median"] for r in rows]
        low = [m - min(r["plan_cpu_s_samples"]) for m, r in zip(median, rows)]
        high = [max(r["plan_cpu_s_samples"]) - m for m, r in zip(median, rows)]
        plan.errorbar(tasks, median, yerr=[low, high], marker="o", color="#1f77b4", capsize=4,
                      linewidth=1.8, label="planner CPU time (median; bar: fastest to slowest repeat)")
        plan.axhline(PLAN_TARGET_SECONDS, color="#d62728", linestyle="--", linewidth=1.4,
                     label=f"target: under {_seconds(PLAN_TARGET_SECONDS)} at 100,000 tasks")
        for r in rows:
            plan.annotate(f"{r['instances']:,} instances\n{r['services']:,} services",
                          (r["tasks"], r["plan_cpu_s_median"]), textcoords="offset points",
                          xytext=(8, -22), fontsize=8, color="#37474f")
        plan.set_xscale("log")
        plan.set_yscale("log")
        plan.set_xlim(min(tasks) / 2, max(tasks) * 3)
        plan.set_ylim(min(median) / 3, PLAN_TARGET_SECONDS * 4)
        plan.xaxis.set_major_formatter(FuncFormatter(_count))
        plan.yaxis.set_major_formatter(FuncFormatter(_seconds))
        plan.set_xlabel("tasks in the cluster (3 AZs, scale-out skew; log scale)")
        plan.set_ylabel("CPU time per plan (log scale)")
        plan.set_title(f"Planner: time grows as tasks$^{{{scale['growth_exponent_time_vs_tasks']:.2f}}}$"
                       f" (n log n would be n$^{{{scale['nlogn_reference_exponent']:.2f}}}$)",
                       fontsize=11)
        plan.grid(True, which="major", color="#dddddd")
        plan.set_axisbelow(True)
        plan.legend(loc="upper left", fontsize=8.5)

        labels = [f"{w['tasks']:,} tasks\n{w['mode']}" for w in whole]
        totals = [w["total_cpu_s"] for w in whole]
        bars = run.bar(range(len(whole)), totals,
                       color=[MODE_COLOURS.get(w["mode"], "#7f7f7f") for w in whole], width=0.6)
        bottom = min(totals) / 3 if totals else 0.1
        for bar, w in zip(bars, whole):
            phases = {p: w.get(f"{p}_cpu_s", 0) for p in ("read", "plan", "decide", "report")}
            top = max(phases, key=phases.get)
            # Above the bar, on white: the target line may pass behind the words.
            run.annotate(f"{_seconds(w['total_cpu_s'])}\n({top} {_seconds(phases[top])})",
                         (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                         textcoords="offset points", xytext=(0, 5), ha="center", va="bottom",
                         fontsize=8.5, zorder=5,
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})
        run.axhline(RUN_TARGET_SECONDS, color="#d62728", linestyle="--", linewidth=1.4)
        handles = [Patch(color=c, label=f"strategy {m}")
                   for m, c in MODE_COLOURS.items() if any(w["mode"] == m for w in whole)]
        handles.append(Line2D([], [], color="#d62728", linestyle="--",
                                               label=f"target: under {_seconds(RUN_TARGET_SECONDS)}"))
        run.legend(handles=handles, loc="upper left", fontsize=8.5)
        run.set_yscale("log")
        if totals:
            run.set_ylim(bottom, max(totals) * 12)
        run.yaxis.set_major_formatter(FuncFormatter(_seconds))
        run.set_xticks(range(len(whole)), labels, fontsize=9)
        run.set_ylabel("CPU time of one run (log scale)")
        run.set_title("Whole run: read + plan + decide + report", fontsize=11)
        run.grid(True, axis="y", color="#dddddd")
        run.set_axisbelow(True)

        figure.suptitle("taskspread.ecs benchmark: planning at scale", fontsize=13,
                        fontweight="bold")
        figure.text(0.5, 0.01, "From benchmarks/results.json (make bench part 1, measured "
                    f"{scale.get('measured_at', meta.get('when', '?'))}, Python {meta.get('python', '?')}, "
                    f"{meta.get('cpus', '?')} CPUs; one core per measurement)",
                    ha="center", fontsize=8.5, color="#555555")
        figure.tight_layout(rect=(0, 0.04, 1, 0.95))
    return figure


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.chart",
                                 description="Redraw scale.png from results.json (no measuring).")
    ap.add_argument("--results", default=str(HERE / "results.json"))
    ap.add_argument("--out", default=str(HERE / "scale.png"))
    args = ap.parse_args(argv)
    try:
        results = json.loads(Path(args.results).read_text())
    except (OSError, ValueError) as err:
        print(f"cannot read {args.results}: {err}", file=sys.stderr)
        return 1
    if "scale" not in results:
        print(f"{args.results} has no 'scale' results: run `make bench` "
              "(or python -m benchmarks.run --only scale) first", file=sys.stderr)
        return 1
    scale_chart(results["scale"], results.get("meta", {}), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
