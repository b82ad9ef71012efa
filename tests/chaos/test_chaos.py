"""The chaos suite (issue 10): seeded random clusters and event sequences, the engine run
through them on the in-process sandbox, and invariants checked after each sequence.

Which seeds run:

* ``CHAOS_SEED=<n>``: that one seed (``make chaos SEED=<n>``);
* ``CHAOS_SEEDS=<N>``: N fresh random seeds, printed (``make chaos SEEDS=<N>``);
* otherwise ``FIXED_SEEDS`` (what ``make test`` runs, about a minute on two cores).

``CHAOS_TRACE=<dir>`` also writes each seed's runs, reports and final world to
``<dir>/seed-<n>.txt`` (harness.write_trace): diff two directories to show that a refactoring
changed no decision.

A failing seed's message starts with the one line that reproduces it. Each invariant names
the AWS or design sentence it follows (see invariants.py); the sandbox behaviours the events
use are ECS's documented ones: container instance draining ("tasks that are part of a service
... are replaced ... within the service's minimumHealthyPercent", container-instance-draining),
ASG scale-in and termination (docs/ecs-facts.md §8), Application Auto Scaling scheduled actions
setting desiredCount ("How scheduled scaling works"), task scale-in protection
(task-scale-in-protection.html) and capacity providers with managed draining (§1.5).
"""

from __future__ import annotations

import os
import random

import pytest

from .harness import play_seed
from .invariants import check_all

# 0-11, plus seeds that change desiredCount at a surge's worst moment (mid-surge, or after a
# kill and before the heal): they fail until the restore respects what others set. 13, 35, 41
# and 407 drew that moment when surges were tags; since the lease their worlds play out
# otherwise. 104658 writes desiredCount on a killed run's surge that is left in its lease item
# (found once the harness read surges from the lease table). 855176 and 28299: others lower
# desiredCount while tasks are PENDING and ECS scales in a RUNNING one (the floor watch's
# excuse for it; before it, both were reported as breaches with no engine stop to blame).
FIXED_SEEDS = (*range(0, 12), 13, 35, 41, 407, 104658, 855176, 28299)


def chosen_seeds() -> tuple[int, ...]:
    if os.environ.get("CHAOS_SEED"):
        return (int(os.environ["CHAOS_SEED"]),)
    if os.environ.get("CHAOS_SEEDS"):
        picker = random.Random()          # fresh seeds each time; each one is printed
        return tuple(picker.randrange(10**6) for _ in range(int(os.environ["CHAOS_SEEDS"])))
    return FIXED_SEEDS


def reproduce_line(seed: int) -> str:
    return (f"reproduce: make chaos SEED={seed}   (or: CHAOS_SEED={seed} "
            f"python -m pytest -q tests/chaos/test_chaos.py)")


@pytest.mark.parametrize("seed", chosen_seeds())
def test_chaos_sequence_keeps_every_invariant(seed: int) -> None:
    """Floor, desiredCount, others' protection, no leftovers, balanced within K runs, no
    repeated no-progress move, no escaped exception: see invariants.py for each source."""
    record = play_seed(seed)
    print(record.scenario.summary())
    violations = check_all(record)
    assert not violations, "\n".join([reproduce_line(seed), record.scenario.summary(),
                                      *record.describe_runs(), *violations])
    # the sequence did what it says: every run reported or was killed, none vanished
    assert all(r.completed or r.killed or r.crashed for r in record.runs)
