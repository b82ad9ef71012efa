"""Pure integer filling: how ``total`` tasks spread over domains with capacities, counts and
floors, within a skew tolerance, moving the fewest. Lists of ints in, lists of ints out.

Imports nothing from the engine (no engine types): the planner's targets (``targets.py``) call
these with the numbers of their domains. Written here rather than taken from a library: no
maintained package solves "fewest moves within a skew band under capacities" (the closest,
ILP/flow solvers, would be a heavy dependency shipped inside the Lambda for a few dozen lines).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

UNLIMITED = 1 << 30   # more than any count or capacity: "nothing limits"


def water_fill(total: int, caps: Sequence[int],
               prefs: Sequence[tuple] | Callable[[int, int], tuple]) -> list[int]:
    """Spread ``total`` over items with capacities ``caps`` as evenly as capacity allows.

    The ceil slots go to the open items whose preference sorts first: ``prefs[i]``, or
    ``prefs(i, level)`` (called only when there are ceil slots to give). ``total`` <= sum(caps).
    """
    n = len(caps)
    if n and min(caps) * n > total:   # nothing saturates: the sorted loop stops at once
        level, remaining = divmod(total, n)
    else:
        order = sorted(range(n), key=lambda i: caps[i])
        remaining = total
        level = UNLIMITED
        for pos, idx in enumerate(order):
            left = n - pos
            if caps[idx] * left <= remaining:
                remaining -= caps[idx]
                continue
            level, remaining = divmod(remaining, left)
            break
    targets = [min(c, level) for c in caps]
    if level != UNLIMITED and remaining:
        open_items = [i for i in range(n) if caps[i] > level]
        if callable(prefs):
            open_items.sort(key=lambda i: prefs(i, level))
        else:
            open_items.sort(key=prefs.__getitem__)
        for i in open_items[:remaining]:
            targets[i] += 1
    return targets


def band_fill(total: int, counts: Sequence[int], floors: Sequence[int], caps: Sequence[int],
              max_skew: int, prefs: Sequence[tuple]) -> list[int]:
    """Targets ``t`` (``floors[i] <= t[i] <= caps[i]``, summing to ``total``) within
    ``max_skew`` of each other where capacity allows, moving the fewest tasks from ``counts``.

    This is what ``max_skew`` means: a tolerance, not a trigger for perfect balance. With
    max_skew 2, 8/0 over two instances becomes 5/3 (3 moves), not 4/4. The band [H - k, H]
    is tried for every H from the perfect water level L* (the largest level with
    sum(clamp(L*, floor, cap)) <= total) to L* + k + 1; each domain is clamped into the band,
    the rest filled lowest first or cut highest first; the fewest moves win, then the least
    skew, then the lowest band. ``prefs[i]`` breaks ties (sorts first = served first).
    """
    lo = water_level(total, floors, caps)
    best: tuple[tuple, list[int]] | None = None
    for high in range(lo, lo + max_skew + 2):
        targets = _band(total, counts, floors, caps, high - max_skew, high, prefs)
        if targets is None:
            continue
        open_t = [t for t, c in zip(targets, caps) if t < c] or targets
        key = (sum(c - t for c, t in zip(counts, targets) if c > t),
               max(open_t, default=0) - min(open_t, default=0), high)
        if best is None or key < best[0]:
            best = (key, targets)
    if best is None:   # cannot happen when floors <= caps and sum(floors) <= total <= sum(caps)
        return water_fill(total, caps, prefs)
    return best[1]


def water_level(total: int, floors: Sequence[int], caps: Sequence[int]) -> int:
    """The largest level L with sum(clamp(L, floor, cap)) <= total (L* of ``band_fill``)."""
    if caps and not any(floors) and min(caps) >= total:
        return total // len(caps)          # nothing clamps: the plain average
    lo, hi = 0, max(caps, default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(max(mid, f), c) for f, c in zip(floors, caps)) <= total:
            lo = mid
        else:
            hi = mid - 1
    return lo


def band_moves(total: int, counts: Sequence[int], caps: Sequence[int], max_skew: int) -> int:
    """``band_fill``'s number of moves (no floors), without building the targets.

    When no cap binds inside the bands tried, clamping the counts into band [L, H] cuts the
    tasks above H and leaves S tasks; reaching ``total`` adds tasks below H (no move) or cuts
    S - total more above L (one move each); feasible when n * L <= total <= n * H. Falls back
    to ``band_fill`` otherwise."""
    n = len(counts)
    level = total // n if n else 0
    if not n or min(caps) < level + max_skew + 1:
        targets = band_fill(total, counts, [0] * n, caps, max_skew,
                            [(0, i) for i in range(n)])
        return sum(max(0, c - t) for c, t in zip(counts, targets))
    best = None
    for high in range(level, level + max_skew + 2):
        low = high - max_skew
        if n * max(low, 0) > total or n * high < total:
            continue
        floor = max(low, 0)
        cuts = sum(c - high for c in counts if c > high)
        kept = sum(floor if c < floor else high if c > high else c for c in counts)
        moves = cuts + max(0, kept - total)
        best = moves if best is None else min(best, moves)
    return best or 0


def _band(total: int, counts: Sequence[int], floors: Sequence[int], caps: Sequence[int],
          low: int, high: int, prefs: Sequence[tuple]) -> list[int] | None:
    """Counts clamped into [low, high] (within floor and cap), then fixed to sum to ``total``:
    the surplus goes to the lowest open domains, a shortfall is cut from the highest ones."""
    lows = [max(f, min(low, c)) for f, c in zip(floors, caps)]
    highs = [max(lw, min(high, c)) for lw, c in zip(lows, caps)]
    targets = [min(max(n, lw), hg) for n, lw, hg in zip(counts, lows, highs)]
    diff = total - sum(targets)
    if diff > 0:
        heap = [(t, prefs[i], i) for i, t in enumerate(targets) if t < highs[i]]
        sign = 1
    elif diff < 0:
        heap = [(-t, prefs[i], i) for i, t in enumerate(targets) if t > lows[i]]
        sign = -1
    else:
        return targets
    heapq.heapify(heap)
    for _step in range(abs(diff)):
        if not heap:
            return None
        _prio, pref, i = heapq.heappop(heap)
        targets[i] += sign
        if (sign > 0 and targets[i] < highs[i]) or (sign < 0 and targets[i] > lows[i]):
            heapq.heappush(heap, (targets[i] if sign > 0 else -targets[i], pref, i))
    return targets


def band_split(total: int, held: Sequence[int], floors: Sequence[int], caps: Sequence[int],
               max_skew: int, cost: Callable[[int, int], int]) -> list[int] | None:
    """Shares of ``total`` for child domains within ``max_skew`` of each other (where
    capacity allows) with the fewest moves *below* them: ``cost(i, share)`` is child i's
    fewest moves for ``share``. A move between children can fix both levels at once (3/3
    over AZs as 0/3 and 0/3 inside them, max_skew 2: one move to 2/4 is enough), so the
    shares are chosen on the children's costs, not on this level's counts: for each band
    [H - k, H] a small knapsack over the children (each share has at most k + 1 values).
    None when no band fits (then ``band_fill`` decides).
    """
    lo = water_level(total, floors, caps)
    best: tuple[tuple, list[int]] | None = None
    for high in range(lo, lo + max_skew + 2):
        lows = [max(f, min(high - max_skew, c)) for f, c in zip(floors, caps)]
        highs = [max(lw, min(high, c)) for lw, c in zip(lows, caps)]
        if sum(lows) > total or sum(highs) < total:
            continue
        # states: sum of shares so far -> (cost, shares)
        states: dict[int, tuple[int, list[int]]] = {0: (0, [])}
        for i, (lw, hg) in enumerate(zip(lows, highs)):
            nxt: dict[int, tuple[int, list[int]]] = {}
            for acc, (acc_cost, chosen) in states.items():
                for share in sorted(range(lw, hg + 1), key=lambda v: abs(v - held[i])):
                    key = acc + share
                    if key > total:
                        continue
                    value = acc_cost + cost(i, share)
                    if key not in nxt or value < nxt[key][0]:
                        nxt[key] = (value, chosen + [share])
            states = nxt
        if total not in states:
            continue
        value, shares = states[total]
        open_s = [v for v, c in zip(shares, caps) if v < c] or shares
        rank = (value, max(open_s) - min(open_s), high)
        if best is None or rank < best[0]:
            best = (rank, shares)
    return None if best is None else best[1]


__all__ = ["UNLIMITED", "band_fill", "band_moves", "band_split", "water_fill", "water_level"]
