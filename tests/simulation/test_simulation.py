"""The fixed part of the deterministic simulation that ``make test`` runs (``make simulate``
explores every call point; see README "Deterministic simulation").

Each case is one schedule: a scenario and one fault placed at a call point named by what the
engine does there (``update_service@1``: the first UpdateService of the run; ``lease@1``: its
first lease write), so a case keeps its meaning when the engine's calls change. A case passes
when every invariant of ``tests/simulation/invariants.py`` holds; a failure prints which
invariant broke at which call point, the runs, the events and the one-line replay.
"""

from __future__ import annotations

import logging

import pytest

from tests.simulation.explore import release, run_named, run_seed
from tests.simulation.worlds import SCENARIOS

# grouped by scenario: each scenario's world is built once (moto holds one world at a time)
FIXED = [
    # the protocol with nothing interfering: the lower bound of moves, no invariant broken
    ("surge", "none"),
    # kills: after the raise landed, before the lowering, before the lock is released
    ("surge", "kill_after@update_service@1"),
    ("surge", "kill_before@update_service@2"),
    ("surge", "kill_before@lease@-1"),
    # a second run inside the first, and one whose clock is 16 minutes ahead
    ("surge", "second_run@update_service@1"),
    ("surge", "second_run_clock_ahead@update_service@1+1"),
    ("surge", "second_run_dies@lease@1"),
    # someone else writes desiredCount just before the surge's read for its raise (it stands:
    # the raise is on top of it), inside the read-write window (overwritten: the one window
    # ECS's API leaves open, said in the events, not checked), and mid-surge
    ("surge", "person_desired@update_service@1-1"),
    ("surge", "autoscaling_desired@update_service@1-1"),
    ("surge", "person_desired@update_service@1"),
    ("surge", "person_desired@update_service@1+1"),
    ("surge", "person_desired@update_service@2-1"),
    # the service's tags deleted while the surge holds the service
    ("surge", "tags_deleted@update_service@1"),
    # the claim delayed (lands late), duplicated, lost; the release lost
    ("surge", "lease_delayed@lease@1"),
    ("surge", "lease_duplicated@lease@1"),
    ("surge", "lease_lost_applied@lease@1"),
    ("surge", "lease_lost_dropped@lease@-1"),
    # two faults: a late claim while a second run comes in; tags deleted, then a second run
    # that raises and dies
    ("surge", "lease_delayed@lease@1;second_run@lease@1+1"),
    ("surge", "tags_deleted@update_task_protection@1;second_run_dies@update_task_protection@1+1"),
    # the deadline inside the surge, right after the raise; and inside the run's first second
    # (below the shortest wait_timeout: played with the shortest, never a crash of the harness)
    ("surge", "deadline@update_service@1+1"),
    ("surge", "deadline@#2"),
    # behind an ALB: a target failing its checks before the run decides; the deadline while
    # the surge waits for its new target to turn healthy
    ("surge_alb", "none"),
    ("surge_alb", "target_unhealthy@describe_services@1"),
    ("surge_alb", "deadline@describe_target_health@2"),
    # a container health check and no load balancer; a flapping container mid-surge
    ("surge_healthcheck", "none"),
    ("surge_healthcheck", "container_health_flap@update_service@1+1"),
    # A leaving task's health check fails while the surge waits: ECS replaces it, and the
    # lowering must wait for the replacement too (it could be among the tasks that stay).
    ("surge_healthcheck", "container_health_flap@update_service@1+4"),
    # stop mode (spare above the floor): a kill and a second run at the first stop
    ("stop", "none"),
    ("stop", "kill_before@stop_task@1"),
    ("stop", "second_run@stop_task@1"),
    ("large", "none"),
]


@pytest.fixture(autouse=True, scope="module")
def worlds_of_this_module():
    """Quiet request logs; the built worlds' sandboxes stop when the module is done."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    yield
    release()


@pytest.mark.parametrize("scenario,spec", FIXED, ids=[f"{s}:{f}" for s, f in FIXED])
def test_fixed_schedule(scenario, spec):
    out = run_named(SCENARIOS[scenario], spec)
    assert out.ok, "\n" + out.details()


@pytest.mark.parametrize("seed", [1, 2])
def test_random_large_schedule(seed):
    out = run_seed(SCENARIOS["large"], seed)
    assert out.faults, "a random schedule has at least one fault"
    assert out.ok, "\n" + out.details()
