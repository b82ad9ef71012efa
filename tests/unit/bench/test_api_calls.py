"""benchmarks/api_calls.py (``make bench`` part 3) on a small cluster: the engine's decision
and step run as the modules run them, each service under its lease, so the benchmark cannot
rot silently when the engine's contract changes (it once did: the executor began to refuse
every write without a lease store, and only a full ``make bench`` showed it)."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.api_calls import engine_decision, reference_decision
from tests.unit.engine.factories import synthetic_cluster


def small():
    snap = synthetic_cluster(10, 3, 10, 200, skew="scale-out", seed=0)
    return replace(snap, services={n: replace(s, min_healthy_percent=50)
                                   for n, s in snap.services.items()})


def test_a_decision_stops_tasks_under_leases_and_counts_every_ecs_call():
    snap = small()
    out = engine_decision(snap, max_moves=None)
    assert out["stopped"] == 20                       # the default budget: 10% of 200 tasks
    assert out["by_operation"]["stop_task"] == 20
    assert out["total"] == out["read"] + out["step"]
    assert out["lease_calls"] > 0                     # DynamoDB, not counted as ECS calls
    one = engine_decision(snap, max_moves=1)
    assert one["stopped"] == 1 and one["by_operation"]["stop_task"] == 1


def test_the_reference_lambda_redeploys_every_service():
    out = reference_decision(small())
    assert out["restarted"] == 200
    assert out["by_operation"]["update_service"] == 10 and out["total"] == 41
