"""Schedules: which faults at which call points, playing one, exploring a scenario.

A scenario's *reference run* is its schedule without a fault; its call points are the
timeline the other schedules place faults on (everything is deterministic, so a schedule
makes the same calls as the reference up to its first fault).

* Small scenarios, exhaustively: every fault kind that applies (``calls.AT_EVERY_CALL``,
  ``target_unhealthy`` with a load balancer, ``container_health_flap`` with a health check)
  at every call point of the first run, the lease faults at every lease write, and the run's
  deadline at every distinct moment of the timeline. Rounds of a poll that repeat the same
  calls between two sleeps are represented by the first and the last round of the streak.
  ``SEED=n`` is the n-th schedule of that list.
* Large scenarios, at random: ``SEED=n`` seeds the choice of 1 to 3 faults (kinds and call
  points of the reference timeline).

The end of every schedule: in-flight lease writes land, time passes beyond every run's bound,
then two clean runs (level-triggered healing), then the end invariants.
"""

from __future__ import annotations

import argparse
import logging
import re
import os
import pickle
import random
import sys
import time
import traceback
from dataclasses import dataclass, field

from .calls import (AT_EVERY_CALL, AT_LEASE_WRITES, DEADLINE, HEALTH_FLAP, KILL_AFTER, KINDS, NONE,
                    TARGET_UNHEALTHY, WRITE_OPS, CallPoint, Fault, Sim, deadline_wait,
                    split_faults)
from .invariants import (BoundWatch, TickPoints, Violation, crashes, deadlines, desired_at_end,
                         floor, leftovers, lower_bound, no_repeat)
from .worlds import SCENARIOS, Scenario, World, build, start_sandbox

SANDBOX_SEED = 1616
HEAL_RUNS = 2
FIRST_RUN = "r1"


@dataclass
class Outcome:
    scenario: str
    seed: int
    faults: list[Fault]
    violations: list[Violation] = field(default_factory=list)
    points: list[CallPoint] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    spec: str = ""          # a named schedule (kind@where), else the seed names it

    @property
    def ok(self) -> bool:
        return not self.violations

    def replay(self) -> str:
        if self.spec:
            return f"make simulate SCENARIO={self.scenario} FAULT='{self.spec}'"
        return f"make simulate SCENARIO={self.scenario} SEED={self.seed}"

    def describe(self) -> str:
        faults = ", ".join(f.describe() for f in self.faults)
        lines = [f"{self.scenario} seed {self.seed} [{faults}]: "
                 + ("ok" if self.ok else f"{len(self.violations)} violation(s)")]
        lines += [f"  {v.describe()}" + (f" ({self._point(v.at)})" if v.at else "")
                  for v in self.violations]
        if not self.ok:
            lines += [f"  replay: {self.replay()}"]
        return "\n".join(lines)

    def details(self) -> str:
        return "\n".join([self.describe(), "  runs:"] + [f"    {r}" for r in self.runs]
                         + ["  events:"] + [f"    {e}" for e in self.events])

    def _point(self, n: int) -> str:
        return self.points[n - 1].describe() if 0 < n <= len(self.points) else "?"


@dataclass
class Base:
    """A scenario's world built once per process: every schedule plays on a copy of it."""

    world: World
    bound: int              # the oracle's lower bound of moves at the start
    originals: set[str]


_BASES: dict[str, Base] = {}


def base(scenario: Scenario) -> Base:
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
        take_snapshot)
    from tests.unit.engine.oracle import lower_bound as oracle

    if scenario.name not in _BASES:
        # moto's backends are process-global: one built world at a time
        for other in list(_BASES):
            _BASES.pop(other).world.sandbox.stop()
        world = build(start_sandbox(SANDBOX_SEED), scenario)
        _BASES[scenario.name] = Base(world, oracle(take_snapshot(world.ecs, world.cluster),
                                                   world.service),
                                     {t.arn for t in world.live_tasks()})
    return _BASES[scenario.name]


def release() -> None:
    """Stop the built worlds' sandboxes (a test module's teardown)."""
    for name in list(_BASES):
        _BASES.pop(name).world.sandbox.stop()


def play(scenario: Scenario, faults: list[Fault], seed: int = 0,
         reference: list[CallPoint] | None = None) -> Outcome:
    """One schedule, on a copy of the scenario's world: a forked child process plays it on
    its own sandbox server (the parent's world stays as built), and sends the outcome back.
    Building the world once is what makes exhaustive exploration affordable; the copy is
    exact (the whole process), so a schedule repeats."""
    built = base(scenario)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                            # the child
        os.close(read_end)
        status = 1
        try:
            out = _play_copy(built, scenario, faults, seed, reference)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(out, pipe)
            status = 0
        except BaseException:  # noqa: BLE001 - the parent reports a child that died
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"{scenario.name} {[f.describe() for f in faults]}: the child "
                           f"playing the schedule died (status {status})")
    return pickle.loads(data)


def _play_copy(built: Base, scenario: Scenario, faults: list[Fault], seed: int,
               reference: list[CallPoint] | None) -> Outcome:
    """In the child: serve the copied sandbox on a port of its own, then play."""
    world = built.world
    sandbox = world.sandbox
    sandbox.restart_server()
    world.aws = world.fresh_clients()
    try:
        wait, timed = split_faults(faults, reference or [])
        sim = Sim(world, timed)
        bounds = BoundWatch()
        sim.after_call.append(bounds)
        ticks = TickPoints(sim)
        sandbox.runtime.on_tick(ticks)
        sim.run_engine(FIRST_RUN, wait if wait is not None else scenario.wait_timeout)
        sim.faults = []                         # faults never reached do not fire later
        sim.land_everything()
        latest = max(r.bound for r in sim.runs)
        sandbox.advance(max(0.0, latest - sandbox.now()) + 120)
        for index in range(HEAL_RUNS):
            sim.run_engine(f"heal{index + 1}", scenario.wait_timeout)
        out = Outcome(scenario.name, seed, faults, points=sim.points, events=sim.events)
        out.violations = (floor(sim, ticks) + bounds.violations + desired_at_end(sim)
                          + leftovers(sim) + deadlines(sim) + crashes(sim) + no_repeat(sim))
        if all(f.kind == NONE for f in faults):
            stopped = len(built.originals - {t.arn for t in world.live_tasks()})
            out.violations += lower_bound(sim, built.bound, stopped)
        out.runs = [_describe_run(r, world.t0) for r in sim.runs]
        return out
    finally:
        sandbox.stop()


def _describe_run(run, t0: float) -> str:
    how = (run.result.message() if run.result is not None
           else f"KILLED ({run.killed})" if run.killed else f"CRASHED ({run.crashed})")
    inner = f" inside {run.nested_in}" if run.nested_in else ""
    clock = f" clock {run.offset:+.0f}s" if run.offset else ""
    return (f"{run.id}{inner}{clock} wait_timeout {run.wait_timeout:.0f}s "
            f"t+{run.started - t0:.0f}s..t+{run.ended - t0:.0f}s: {how}")


# ------------------------------------------------------------------ schedules
_REFERENCE: dict[str, Outcome] = {}


def reference(scenario: Scenario) -> Outcome:
    """The scenario's schedule without a fault (cached per process)."""
    if scenario.name not in _REFERENCE:
        _REFERENCE[scenario.name] = play(scenario, [Fault(NONE)])
        _REFERENCE[scenario.name].spec = NONE
    return _REFERENCE[scenario.name]


def representative_points(points: list[CallPoint]) -> list[int]:
    """Call points of the first run, a streak of identical poll rounds reduced to its first
    and last round. A round is the calls between two sleeps of the run (by operation)."""
    first = [p for p in points if p.run == FIRST_RUN]
    rounds: list[list[CallPoint]] = []
    for p in first:
        if not rounds or _new_round(rounds[-1], p):
            rounds.append([p])
        else:
            rounds[-1].append(p)
    keep: list[int] = []
    i = 0
    while i < len(rounds):
        j = i
        while j + 1 < len(rounds) and _shape(rounds[j + 1]) == _shape(rounds[i]):
            j += 1
        for r in {i, j}:
            keep += [p.n for p in rounds[r]]
        i = j + 1
    return sorted(keep)


def _new_round(current: list[CallPoint], p: CallPoint) -> bool:
    # a sleep between two calls shows as time having moved
    return p.at > current[-1].at


def _shape(round_: list[CallPoint]) -> tuple:
    return tuple((p.service, p.op) for p in round_)


def exhaustive(scenario: Scenario, ref: Outcome) -> list[list[Fault]]:
    points = representative_points(ref.points)
    kinds = scenario.fault_kinds_here(AT_EVERY_CALL + (TARGET_UNHEALTHY, HEALTH_FLAP))
    out: list[list[Fault]] = [[Fault(NONE)]]
    writes = [p.n for p in ref.points if p.run == FIRST_RUN and p.lease_write]
    changes = [p.n for p in ref.points if p.run == FIRST_RUN and p.op in WRITE_OPS]
    for kind in kinds:
        # a kill after a read is the kill before the next call: only writes need their own
        at = [n for n in points if n in changes] if kind == KILL_AFTER else points
        out += [[Fault(kind, n)] for n in at]
    for kind in AT_LEASE_WRITES:
        out += [[Fault(kind, n)] for n in writes]
    seen: set[float] = set()
    for p in ref.points:
        # points whose deadline is the same (the same instant, or inside the first second,
        # where the shortest wait_timeout stands in) are one schedule
        if p.run != FIRST_RUN or p.n <= 1:
            continue
        wait = deadline_wait(ref.points, p.n)
        if wait not in seen:
            seen.add(wait)
            out.append([Fault(DEADLINE, p.n)])
    return out


def random_schedule(scenario: Scenario, ref: Outcome, seed: int) -> list[Fault]:
    rng = random.Random(seed)
    first = [p for p in ref.points if p.run == FIRST_RUN]
    kinds = scenario.fault_kinds_here(AT_EVERY_CALL + (TARGET_UNHEALTHY, HEALTH_FLAP))
    writes = [p.n for p in first if p.lease_write]
    faults = []
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.15 and writes:
            faults.append(Fault(rng.choice(AT_LEASE_WRITES), rng.choice(writes)))
        elif roll < 0.25:
            faults.append(Fault(DEADLINE, rng.choice(first).n))
        else:
            faults.append(Fault(rng.choice(kinds), rng.choice(first).n))
    if sum(f.kind == DEADLINE for f in faults) > 1:
        faults = [f for f in faults if f.kind != DEADLINE] + [
            next(f for f in faults if f.kind == DEADLINE)]
    return sorted(faults, key=lambda f: (f.at, f.kind))


def schedule(scenario: Scenario, seed: int) -> list[Fault]:
    ref = reference(scenario)
    if scenario.large:
        return random_schedule(scenario, ref, seed)
    every = exhaustive(scenario, ref)
    if not 0 <= seed < len(every):
        raise ValueError(f"scenario {scenario.name} has schedules 0..{len(every) - 1}")
    return every[seed]


def locate(points: list[CallPoint], where: str) -> int:
    """The call point a fixed schedule names on the first run's reference timeline, so it
    keeps its meaning when the engine's calls change: ``update_service@1`` (the first
    UpdateService), ``lease@-1`` (the last lease write), ``describe_services@2+1`` (the call
    after the second DescribeServices), ``update_service@1-1`` (the call before the first
    UpdateService), ``#17`` (call point 17)."""
    first = [p for p in points if p.run == FIRST_RUN]
    if where.startswith("#"):
        return int(where[1:])
    name, _, rest = where.partition("@")
    found = re.fullmatch(r"(-?\d+)([+-]\d+)?", rest)
    index, offset = (found.group(1), found.group(2)) if found else (rest, None)
    matches = [p.n for p in first if (p.lease_write if name == "lease" else p.op == name)]
    try:
        return matches[int(index) - 1 if int(index) > 0 else int(index)] + int(offset or 0)
    except (IndexError, ValueError):
        raise LookupError(f"{where!r}: the reference run has {len(matches)} {name} call(s): "
                          f"{[p.describe() for p in first]}") from None


def named(scenario: Scenario, spec: str) -> list[Fault]:
    """``kind@where`` (``where`` as ``locate`` reads it; ``none`` alone) -> the faults;
    several joined by ``;`` (``tags_deleted@update_service@1;second_run@update_service@1+1``)."""
    faults = []
    for part in spec.split(";"):
        kind, _, where = part.strip().partition("@")
        if kind not in KINDS:
            raise LookupError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        if kind != NONE:
            faults.append(Fault(kind, locate(reference(scenario).points, where)))
    return faults or [Fault(NONE)]


def run_named(scenario: Scenario, spec: str) -> Outcome:
    faults = named(scenario, spec)
    if faults == [Fault(NONE)]:
        return reference(scenario)
    out = play(scenario, faults, 0, reference(scenario).points)
    out.spec = spec
    return out


def run_seed(scenario: Scenario, seed: int) -> Outcome:
    faults = schedule(scenario, seed)
    if faults == [Fault(NONE)]:
        out = reference(scenario)
        out.seed = seed
        return out
    return play(scenario, faults, seed, reference(scenario).points)


# ------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make simulate", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="", help="one scenario (default: every one)")
    parser.add_argument("--seed", type=int, default=None, help="replay one schedule")
    parser.add_argument("--count", type=int, default=20,
                        help="random schedules per large scenario")
    parser.add_argument("--fault", default="",
                        help="replay a named schedule: kind@where, e.g. "
                             "kill_after@update_service@1")
    parser.add_argument("--kind", default="",
                        help="explore only the schedules of this fault kind")
    parser.add_argument("--verbose", action="store_true", help="runs and events of failures")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)     # the sandbox's request log
    names = [args.scenario] if args.scenario else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]}; one of {', '.join(SCENARIOS)}")
    if args.fault:
        if len(names) != 1:
            parser.error("--fault needs --scenario")
        out = run_named(SCENARIOS[names[0]], args.fault)
        print(out.details())
        return 0 if out.ok else 1
    failed = 0
    for name in names:
        scenario = SCENARIOS[name]
        started = time.monotonic()
        if args.seed is not None:
            seeds = [args.seed]
        elif scenario.large:
            seeds = list(range(1, args.count + 1))
        else:
            every = exhaustive(scenario, reference(scenario))
            seeds = [i for i, faults in enumerate(every)
                     if not args.kind or all(f.kind == args.kind for f in faults)]
        bad: list[Outcome] = []
        by_invariant: dict[str, int] = {}
        for seed in seeds:
            out = run_seed(scenario, seed)
            if args.seed is not None:
                print(out.details())
            elif len(seeds) > 20 and (seeds.index(seed) + 1) % 50 == 0:
                print(f"   ... {seeds.index(seed) + 1}/{len(seeds)}", flush=True)
            if not out.ok:
                bad.append(out)
                for v in {v.invariant for v in out.violations}:
                    by_invariant[v] = by_invariant.get(v, 0) + 1
                if args.seed is None:
                    print(out.details() if args.verbose else out.describe(), flush=True)
        failed += len(bad)
        summary = ", ".join(f"{k} {n}" for k, n in sorted(by_invariant.items())) or "none"
        how = ("replay" if args.seed is not None
               else "random" if scenario.large else "exhaustive")
        print(f"== {name}: {len(seeds)} interleaving(s) explored ({how}), "
              f"{len(bad)} failing; failing by invariant: {summary} "
              f"[{time.monotonic() - started:.0f}s]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
