"""What must hold after every chaos sequence, written as it should be (issue 10): a failing
invariant is a finding about the engine or the sandbox, never a reason to loosen it.

Each check takes the ``Record`` of one seed and returns violations, one line each, prefixed
with the invariant's name.
"""

from __future__ import annotations

from typing import Callable

from .generator import SETTLE_RUNS
from .harness import Record, RunOutcome, unsettled_services
from .observer import ENGINE_REASON


def floor(record: Record) -> list[str]:
    """Running tasks never below ceil(desiredCount others set * minimumHealthyPercent / 100),
    except what ECS explains (see observer.py)."""
    if record.watch is None or record.watch.error:
        return [f"floor: the watch could not read the sandbox "
                f"({record.watch.error if record.watch else 'no watch'})"]
    out = []
    for name, breaches in sorted(record.watch.breaches.items()):
        episodes = _episodes(breaches)
        shown = "; then ".join(e[0].describe(record.t0) + f" [{len(e)} tick(s)]"
                               for e in episodes[:3])
        out.append(f"floor: {name} below its floor in {len(episodes)} episode(s): {shown}")
    return out


def _episodes(breaches: list) -> list[list]:
    """Consecutive ticks below the floor grouped together (the watch sees every reconcile
    pass, so a tick at or above the floor in between starts a new episode)."""
    out: list[list] = []
    for breach in breaches:
        if out and breach.tick == out[-1][-1].tick + 1:
            out[-1].append(breach)
        else:
            out.append([breach])
    return out


def desired_count(record: Record) -> list[str]:
    """After a completed run, with no surge still held, every service's desiredCount is the
    one others set (autoscalers, people): the engine's restore never overwrites it."""
    out = []
    for after in record.after:
        for name, count in sorted(after.desired.items()):
            if name in after.surge_tags:
                continue
            if count != after.expected[name]:
                out.append(f"desired: after run {after.run} {name} has desiredCount {count}, "
                           f"others set {after.expected[name]}")
    return out


def user_protection(record: Record) -> list[str]:
    """No task protected by someone else was stopped by the engine (docs/ecs-facts.md §1.6:
    "StopTask is not documented to honour protection: a rebalancer must check it itself"),
    and their protection is still there ("A tool that adds protection must remember which
    tasks it protected": it removes only its own; the user's lasts 2880 minutes)."""
    out = [f"user-protection: protected task {arn.rsplit('/', 1)[-1]} stopped: {reason!r}"
           for arn, reason in sorted(record.user_stopped.items())
           if reason.startswith(ENGINE_REASON)]
    for after in record.after:
        if after.user_unprotected:
            out.append(f"user-protection: after run {after.run} the protection of "
                       f"{len(after.user_unprotected)} task(s) the user protected is gone")
    return out


def leftovers(record: Record) -> list[str]:
    """A completed run leaves no surge lock and no protection of its own; a killed run's are
    gone once its deadline has passed and the next run has run (design.md: "A crash must never
    leave a service with a raised desired count or engine-added scale-in protection that
    nothing will undo")."""
    out = []
    for after in record.after:
        for name, value in sorted(after.surge_tags.items()):
            out.append(f"leftovers: after run {after.run} {name} still has a surge left "
                       f"({value})")
        if after.engine_protected:
            out.append(f"leftovers: after run {after.run} {len(after.engine_protected)} task(s)"
                       f" protected that the user did not protect")
    return out


def balanced(record: Record) -> list[str]:
    """Within K quiet runs every service is balanced or skipped with a reason, by the engine's
    own report (design.md: the controller is level-triggered and converges)."""
    settle = [r for r in record.runs if r.phase == "settle"]
    last = settle[-1] if settle else None
    if last is None or not last.completed:
        return [f"balanced: the last quiet run did not complete "
                f"({last.crashed or last.killed if last else 'no quiet run'})"]
    names = unsettled_services(last.report)
    if not names:
        return []
    details = ", ".join(f"{n} {_counts(last.report['after'][n])}" for n in names)
    return [f"balanced: after {len(settle)} of {SETTLE_RUNS} quiet runs not balanced and not "
            f"skipped: {details}"]


def no_repeat(record: Record) -> list[str]:
    """A move (same service, same source instance) whose run made no progress is not repeated
    by the next run while the cluster's shape is unchanged (design.md: "A step whose re-read
    shows no progress is not repeated until the cluster's shape changes")."""
    out = []
    done = [r for r in record.runs if r.completed]
    for first, second in zip(done, done[1:]):
        for service, source in _repeated(first, second):
            out.append(f"no-repeat: run {second.index} repeated run {first.index}'s move of "
                       f"{service} from {source or '(no instance named)'} though it made no "
                       "progress")
    return out


def crashes(record: Record) -> list[str]:
    """A run ends with a result (AWS errors become ``error``), never an escaped exception."""
    out = []
    for run in record.runs:
        for r in (run, run.inner):
            if r is not None and r.crashed:
                out.append(f"crash: run {r.run_id} raised {r.crashed}")
    return out


def blue_green(record: Record) -> list[str]:
    """No task of a blue/green service was stopped by the engine while its deployment was in
    progress, bake included (docs/ecs-facts.md §1.11: "a task stopped is green capacity under
    test or the blue revision's rollback reserve"); see observer.BakeWatch."""
    if record.bake is None:
        return []
    if record.bake.error:
        return [f"blue-green: the watch could not read the sandbox ({record.bake.error})"]
    return [f"blue-green: {line}" for line in record.bake.stops]


CHECKS: tuple[Callable[[Record], list[str]], ...] = (
    floor, desired_count, user_protection, leftovers, balanced, no_repeat, crashes, blue_green)


def check_all(record: Record) -> list[str]:
    return [line for check in CHECKS for line in check(record)]


def _repeated(first: RunOutcome, second: RunOutcome) -> list[tuple[str, str]]:
    out = []
    before1, after1, before2 = (first.report["before"], first.report["after"],
                                second.report["before"])
    moved2 = {(m["service"], m["source_instance"]) for m in second.report["moves"]}
    for move in first.report["moves"]:
        name, source = move["service"], move["source_instance"]
        if name not in before1 or name not in after1 or name not in before2:
            continue
        no_progress = _shape(after1[name]) == _shape(before1[name])
        same_shape = _shape(before2[name]) == _shape(before1[name])
        if no_progress and same_shape and (name, source) in moved2:
            out.append((name, source))
    return sorted(set(out))


def _shape(dist: dict) -> tuple:
    return (tuple(sorted(dist.get("instances", {}).items())),
            tuple(sorted(dist.get("ineligible", {}).items())))


def _counts(dist: dict) -> str:
    return f"instances={sorted(dist.get('instances', {}).values(), reverse=True)} " \
           f"azs={dict(sorted(dist.get('azs', {}).items()))} skew={dist.get('skew')}"
