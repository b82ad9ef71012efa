"""Shared helpers: the engine import, median timing, markdown tables."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / ".collections"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

ENGINE = "ansible_collections.taskspread.ecs.plugins.module_utils._engine"


def cpu_median(fn: Callable[[], object], repeats: int) -> tuple[float, float, list[float]]:
    """(median CPU seconds, median wall seconds, every CPU sample) of ``fn`` over ``repeats``.

    CPU time (``time.process_time``) is what "on one core" means and is robust to other load on
    the machine; wall time is reported beside it."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), cpu


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table (readable as plain text too)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x): the growth exponent."""
    import math
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den
