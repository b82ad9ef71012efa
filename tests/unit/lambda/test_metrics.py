"""metrics.documents(): a run's result in, the exact CloudWatch EMF documents out."""

from __future__ import annotations

import json

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.report import report
from files.rebalancer import handler as h
from files.rebalancer import metrics
from files.rebalancer.config import Config
from tests.unit.engine.factories import cluster, inst, svc

NS = "TaskSpread/ECS"
TS = 1_767_225_600_000


def before() -> dict:
    """The engine's own per-service report: api out of balance (AZ skew 2, instance skew 3),
    web balanced (ECS owns its AZ level), jobs with no task on any instance (not measured)."""
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("api"), svc("web", az_rebalancing="ENABLED"), svc("jobs")],
                   {"api": {"a1": 3, "b1": 1}, "web": {"a1": 1, "a2": 1, "b1": 3}})
    out = report(snap, 1, detail=False)
    assert not any(out["jobs"]["azs"].values())     # no task on an EC2 instance
    return out


def summary(**extra) -> dict:
    base = {"before": before(), "moves": [{"service": "api"}, {"service": "api"}],
            "plan": {"moves_planned": 3},
            "skipped": [{"service": "api", "code": "no_progress", "message": "m"},
                        {"service": "db", "code": "protected", "message": "m"},
                        {"service": "q", "code": "protected", "message": "m"},
                        {"service": "old", "code": "opted_out", "message": "m"}],
            "api_calls": 17, "api_retries": 2, "error": ""}
    base.update(extra)
    return base


def emf(dimensions: dict, metric_values: dict) -> dict:
    return {"_aws": {"Timestamp": TS, "CloudWatchMetrics": [{
        "Namespace": NS, "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": n, "Unit": "Count"} for n in metric_values]}]},
        **dimensions, **metric_values}


def test_cluster_document_and_refusals_by_code():
    docs = metrics.documents(summary(), cluster="demo", namespace=NS, timestamp_ms=TS)
    assert docs == [
        emf({"Cluster": "demo"}, {
            "ServicesOutOfBalance": 1, "MaxAzSkew": 2, "MaxInstanceSkew": 3, "TasksMoved": 2,
            "MovesPlanned": 3, "Refusals": 3, "ApiCalls": 17, "ApiRetries": 2,
            "RunErrors": 0}),
        emf({"Cluster": "demo", "Reason": "no_progress"}, {"Refusals": 1}),
        emf({"Cluster": "demo", "Reason": "protected"}, {"Refusals": 2}),
    ]
    assert [m["Name"] for m in docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == list(
        metrics.CLUSTER_METRICS)


def test_per_service_documents_only_when_asked():
    docs = metrics.documents(summary(), cluster="demo", namespace=NS, timestamp_ms=TS,
                             per_service=True)
    assert docs[3:] == [
        emf({"Cluster": "demo", "Service": "api"},
            {"AzSkew": 2, "InstanceSkew": 3, "OutOfBalance": 1, "TasksMoved": 2}),
        emf({"Cluster": "demo", "Service": "web"},
            {"AzSkew": 1, "InstanceSkew": 0, "OutOfBalance": 0, "TasksMoved": 0}),
    ]
    plain = metrics.documents(summary(), cluster="demo", namespace=NS, timestamp_ms=TS)
    assert not any("Service" in d for d in plain)


def test_dry_run_counts_no_moves_and_errors_count_one():
    docs = metrics.documents(summary(error="ClientError: boom"), cluster="c", namespace=NS,
                             timestamp_ms=TS, dry_run=True)
    assert (docs[0]["TasksMoved"], docs[0]["MovesPlanned"], docs[0]["RunErrors"]) == (0, 3, 1)
    assert metrics.documents(None, cluster="c", namespace=NS, timestamp_ms=TS) == [
        emf({"Cluster": "c"}, {"RunErrors": 1})]


def test_a_balanced_run_has_no_refusal_documents():
    docs = metrics.documents(summary(skipped=[{"service": "x", "code": "opted_out"}], moves=[]),
                             cluster="c", namespace=NS, timestamp_ms=TS)
    assert len(docs) == 1 and docs[0]["Refusals"] == 0 and docs[0]["TasksMoved"] == 0


def test_every_document_is_valid_emf():
    """The rules CloudWatch applies before it extracts metrics: every dimension and metric
    named in a directive is a top-level member, dimensions are strings, values numbers."""
    for doc in metrics.documents(summary(), cluster="c", namespace=NS, timestamp_ms=TS,
                                 per_service=True):
        json.dumps(doc)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert isinstance(doc["_aws"]["Timestamp"], int)
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(doc[d], str) for d in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(doc[metric["Name"]], int) and metric["Unit"] == "Count"


class _Move:
    def __init__(self, data: dict):
        self.data = data

    def to_dict(self) -> dict:
        return self.data


class _Result:
    def __init__(self, data: dict):
        self.data = {"scope": {"read": "cluster", "services": None, "reason": "test"},
                     "reads": {"reads": 0}, **data}
        self.moves = [_Move(m) for m in data.get("moves", [])]
        self.decision = None

    def to_dict(self) -> dict:
        return self.data

    def message(self) -> str:
        return "2 task(s) moved in 1 step(s); not balanced yet"


@pytest.mark.parametrize("env, expected", [
    ({}, "TaskSpread/ECS"),
    ({"TASKSPREAD_METRICS_NAMESPACE": "Team/Spread"}, "Team/Spread"),
    ({"TASKSPREAD_METRICS": "false"}, None),
])
def test_the_handler_prints_the_documents(monkeypatch, capsys, env, expected):
    cfg = Config.from_env({"TASKSPREAD_CLUSTER": "demo", **env})
    assert cfg.metrics_namespace == expected
    data = summary(plan={"moves_planned": 3, "moves": []}, actions=[])
    monkeypatch.setattr(h, "clients", lambda cfg: (None, None, None, None))
    monkeypatch.setattr(h._runner, "rebalance", lambda *a, **k: _Result(data))
    monkeypatch.setattr(h.time, "time", lambda: TS / 1000)
    assert h.step(cfg, 60)["status"] == "moved"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    printed = [line for line in lines if "_aws" in line]
    if expected is None:
        assert printed == []
    else:
        assert printed == [dict(d, _aws={**d["_aws"], "CloudWatchMetrics": [
            {**d["_aws"]["CloudWatchMetrics"][0], "Namespace": expected}]})
            for d in metrics.documents(data, cluster="demo", namespace=NS, timestamp_ms=TS)]
        assert printed[0]["TasksMoved"] == 2
    assert all("_aws" not in line for line in lines if "event" in line)


@pytest.mark.parametrize("value", ["AWS/Lambda", "bad|name", "x" * 256])
def test_a_bad_namespace_is_a_config_error(value):
    from files.rebalancer.config import ConfigError

    with pytest.raises(ConfigError, match="TASKSPREAD_METRICS_NAMESPACE"):
        Config.from_env({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_METRICS_NAMESPACE": value})


def test_tasks_moved_from_the_default_per_service_summary():
    data = summary(moves=[], move_summary=[{"service": "api", "moves": 3, "from": {}, "to": {}}])
    [cluster_doc] = [d for d in metrics.documents(data, cluster="demo", namespace=NS,
                                                  timestamp_ms=TS) if "Reason" not in d]
    assert cluster_doc["TasksMoved"] == 3
