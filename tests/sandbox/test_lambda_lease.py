"""The rebalancer function's step (files/rebalancer/handler.py) under the lease: its log lines
name the lease it held for each service it acted on, and the holder of every service it left
alone because another run held the lease. In-process sandbox, the function's clients pointed
at it; the table is created first, as the rebalancer role does (the function may not)."""

from __future__ import annotations

import json

from engine_harness import SERVICE, engine_client, service_doc, skewed_cluster
from sandbox.scenario import Seed

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import LeaseStore
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from files.rebalancer import handler as h
from files.rebalancer.config import Config

STOP_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=50, max_percent=200)


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_step_logs_the_lease_it_held_and_the_holder_it_left_alone(sandbox, monkeypatch, capsys):
    aws, _ = skewed_cluster(sandbox, Seed(**STOP_SEED))
    monkeypatch.setattr(h, "clients", lambda cfg: tuple(engine_client(sandbox, s) for s in (
        "ecs", "elbv2", "application-autoscaling", "dynamodb")))
    cfg = Config(cluster="demo", region="us-east-1")
    store = LeaseStore(CountingClient(engine_client(sandbox, "dynamodb")), run_id="person",
                       clock=sandbox.now)
    assert store.ensure_table(create=True)

    other = store.acquire(service_doc(aws("ecs"))["serviceArn"])
    result = h.step(cfg, 60)
    held = [line for line in lines(capsys) if line.get("event") == "lease_held"]
    assert result["moves"] == 0
    assert held and held[0]["leases"][SERVICE]["owner"] == "person"
    assert held[0]["leases"][SERVICE]["fence"] == other.fence

    store.release(other)
    result = h.step(cfg, 60)
    moved = [line for line in lines(capsys) if line.get("event") == "moves"]
    assert result["status"] == "moved" and result["moves"] == 1     # 10% of 4 tasks: 1
    lease = moved[0]["leases"][SERVICE]
    assert lease["owner"] != "person" and lease["fence"] == other.fence + 1
    assert lease["until"] - lease["since"] == 60


def test_step_without_the_table_changes_nothing_and_names_it(sandbox, monkeypatch, capsys):
    aws, _ = skewed_cluster(sandbox, Seed(**STOP_SEED))
    monkeypatch.setattr(h, "clients", lambda cfg: tuple(engine_client(sandbox, s) for s in (
        "ecs", "elbv2", "application-autoscaling", "dynamodb")))
    before = sorted(t for t in aws("ecs").list_tasks(cluster="demo")["taskArns"])
    result = h.step(Config(cluster="demo", region="us-east-1", lease_table="missing"), 60)
    assert result["moves"] == 0 and "lease table missing does not exist" in result["message"]
    assert sorted(aws("ecs").list_tasks(cluster="demo")["taskArns"]) == before
    assert "missing" not in engine_client(sandbox, "dynamodb").list_tables()["TableNames"]


def test_task_distribution_info_shows_the_lease_holder(sandbox):
    """What task_distribution_info returns per service (``engine.lease_holders``): the holder
    while a run holds the lease, and null once released; a warning, not a failure, without
    the table."""
    from ansible_collections.taskspread.ecs.plugins.module_utils.engine import (
        lease_holders, take_snapshot,
    )

    aws, _ = skewed_cluster(sandbox, Seed(**STOP_SEED))
    ddb = engine_client(sandbox, "dynamodb")
    snap = take_snapshot(aws("ecs"), "demo")
    missing, warning = lease_holders(ddb, "taskspread-ecs-leases", snap)
    assert missing == {SERVICE: None} and "does not exist" in warning
    store = LeaseStore(CountingClient(ddb), run_id="run-x", clock=sandbox.now)
    store.ensure_table(create=True)
    lease = store.acquire(snap.services[SERVICE].arn)
    held, warning = lease_holders(ddb, "taskspread-ecs-leases", snap, [SERVICE])
    assert warning == ""
    assert held == {SERVICE: {"holder": {"owner": "run-x", "fence": 1,
                                         "since": round(lease.since),
                                         "until": round(lease.until)},
                              "surge_pending": False, "no_progress": None}}
    store.release(lease)
    assert lease_holders(ddb, "taskspread-ecs-leases", snap)[0] == {
        SERVICE: {"holder": None, "surge_pending": False, "no_progress": None}}
