"""``python -m benchmarks.run`` (``make bench``): all six benchmarks, engine and reference side
by side. Writes benchmarks/results.json, benchmarks/results.md and benchmarks/scale.png, and
prints the tables.

    python -m benchmarks.run                 # everything (under 15 min on 2 cores)
    python -m benchmarks.run --only scale    # one part: scale | moves | api | sandbox | faults | availability | cost
    python -m benchmarks.run --quick         # smaller sizes, seed sandbox scenario only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from . import common  # noqa: F401  (sets sys.path)
from . import api_calls, availability, cost, faults, moves, scale, time_to_balance
from .chart import scale_chart

HERE = Path(__file__).resolve().parent
PARTS = {"scale": ("1. Planner scale", scale), "moves": ("2. Tasks stopped per strategy", moves),
         "api": ("3. ECS API calls per rebalance decision", api_calls),
         "sandbox": ("4. Time to balance in the sandbox (emulated seconds)", time_to_balance),
         "faults": ("5. Rebalancing under ECS API throttling", faults),
         "availability": ("6. Availability through the walkthrough (requests on the ALB)",
                          availability),
         "cost": ("7. Cost per trigger (issue 17)", cost)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run")
    ap.add_argument("--only", choices=sorted(PARTS), action="append")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args(argv)
    out = Path(args.out)
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() and args.only else {}
    results["meta"] = {"command": command.strip(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                         time.gmtime()),
                       "python": platform.python_version(), "machine": platform.machine(),
                       "cpus": os.cpu_count(), "quick": args.quick}
    for key in args.only or list(PARTS):
        title, mod = PARTS[key]
        t0 = time.perf_counter()
        print(f"## {title}", flush=True)
        if key == "scale":
            res = mod.run(repeats=args.repeats, quick=args.quick)
        else:
            res = mod.run(quick=args.quick)
        res["bench_wall_seconds"] = round(time.perf_counter() - t0, 1)
        # Each part keeps when and how it was measured: an --only run keeps the other parts'
        # figures from results.json, and the header's run is not theirs.
        res["measured_at"] = results["meta"]["when"]
        results[key] = res
        print(mod.render(res) + "\n", flush=True)
    md = ["# taskspread.ecs benchmarks", "",
          f"Last written by `{results['meta']['command']}` (`make bench`) on "
          f"{results['meta']['when']}, Python {results['meta']['python']}, "
          f"{results['meta']['cpus']} CPUs. Each part says when it was measured: `--only` "
          "re-measures the parts it names and keeps the others.", ""]
    for key, (title, mod) in PARTS.items():
        if key in results:
            when = results[key].get("measured_at", "before parts recorded their own time")
            md += [f"## {title}", "", f"Command: `{results[key].get('command', '')}`, "
                   f"measured {when}.", "", mod.render(results[key]), ""]
    (out / "results.md").write_text("\n".join(md))
    results_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if "scale" in results:
        scale_chart(results["scale"], results["meta"], out / "scale.png")
    print(f"wrote {results_path}, {out / 'results.md'}, {out / 'scale.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
