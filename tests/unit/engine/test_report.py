"""report(): per-service summaries from the plan's own analysis; per-instance maps on request."""

import json

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import PlanOptions, plan
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.report import report
from ansible_collections.taskspread.ecs.plugins.module_utils.engine import distribution_report

from .factories import arn, cluster, inst, svc, synthetic_cluster


def small():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b")]
    return cluster(insts, [svc("api"), svc("web", az_rebalancing="ENABLED")],
                   {"api": {"a1": 3, "b1": 1}, "web": {"a1": 1, "a2": 1, "b1": 3}})


def test_summary_by_default_detail_on_request():
    snap = small()
    out = report(snap, detail=["web"])
    api, web = out["api"], out["web"]
    assert set(api) == {"service", "status", "reason", "skip", "max_skew", "moves_needed",
                        "levels", "azs", "skew", "balanced", "az_rebalancing",
                        "capacity_providers", "delegated", "waiting"}
    assert api["azs"] == {"us-east-1a": 3, "us-east-1b": 1} and api["status"] == "rebalance"
    assert api["reason"]["code"] == "moves_planned" and api["moves_needed"] == 2
    # ECS owns the AZ level: its skew is reported, not held against "balanced"
    assert web["az_rebalancing"] == "ENABLED" and web["delegated"] == [
        "attribute:ecs.availability-zone"] and web["skew"]["attribute:ecs.availability-zone"] == 1
    assert web["balanced"] and web["reason"] is None and web["status"] == "balanced"
    assert web["instances"] == {arn("a1"): 1, arn("a2"): 1, arn("b1"): 3}
    assert web["complete"] is True
    assert "instances" not in api


def test_report_reuses_the_plan_and_accepts_arns():
    snap = small()
    planned = plan(snap, PlanOptions())
    out = report(snap, 1, [snap.services["api"].arn], planned, detail=True)
    assert list(out) == ["api"] and out["api"]["targets"][arn("a2")] == 1


def test_distribution_report_keeps_its_shape():
    info = distribution_report(small(), 1, None, detail=False)
    assert info["imbalanced_services"] == ["api"] and not info["balanced"]
    assert "instances" not in info["services"]["api"]


def test_report_at_scale_is_small():
    """Issue 12 item 2: the default report at 5,000 instances / 500 services / 100,000 tasks
    stays under 1 MB and names every service. Its CPU time is a benchmark target, measured by
    ``make bench`` (part 1, the whole run), not asserted here: ``time.process_time`` in a
    pytest process counts every thread of it (in-process sandboxes of other tests included),
    and this assertion once failed a clean-clone run at 5.8 s where the benchmark measures
    under 1 s."""
    snap = synthetic_cluster(5000, 3, 500, 100_000, skew="scale-out", seed=0)
    out = report(snap)
    text = json.dumps(out)
    assert len(text) < 1_000_000, len(text)
    assert len(out) == 500 and all("instances" not in svc for svc in out.values())
    assert sum(svc["moves_needed"] for svc in out.values()) == 75_000
