"""An SQS batch (recorded in files/events/sqs_batch_*.json): every event gated, one decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from files.rebalancer import handler as h
from files.rebalancer.batch import decide_batch, is_sqs_batch

EVENTS = Path(__file__).resolve().parents[3] / "files" / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setattr(h, "_CONFIG", None)
    monkeypatch.setenv("TASKSPREAD_CLUSTER", "demo")
    steps = []

    def fake_step(cfg, budget, services=None, reason=""):
        steps.append(cfg.cluster)
        scopes.append((services, reason))
        return {"status": "balanced", "moves": 0, "api_calls": 7, "api_retries": 0,
                "message": "balanced"}

    def no_aws(cfg):
        raise AssertionError("the gate must answer without an AWS call")

    monkeypatch.setattr(h, "step", fake_step)
    monkeypatch.setattr(h, "clients", no_aws)
    return steps


scopes: list = []


@pytest.fixture(autouse=True)
def _fresh_scopes():
    scopes.clear()


def test_recorded_batches_are_recognised_and_single_events_are_not():
    assert is_sqs_batch(sample("sqs_batch_steady_states"))
    assert not is_sqs_batch(sample("service_steady_state"))
    assert not is_sqs_batch({"Records": []})
    assert not is_sqs_batch({"Records": [{"eventSource": "aws:s3"}]})


def test_a_burst_of_steady_states_is_one_decision_about_the_services_it_names(env, capsys):
    result = h.handler(sample("sqs_batch_steady_states"), None)
    assert env == ["demo"]                       # one engine run for four events
    assert result["status"] == "balanced"
    assert (result["batch_events"], result["acted"]) == (4, 3)
    [line] = [x for x in log_lines(capsys) if x["event"] == "triggered"]
    assert line["trigger"] == "sqs_batch" and line["act"] is True
    assert line["batch_events"] == 4 and line["ignored"] == 1
    assert [a["message_id"][-1] for a in line["acted"]] == ["1", "2", "4"]
    assert {a["trigger"] for a in line["acted"]} == {"service_steady_state"}
    assert line["scope"] == "services" and line["services"] == ["api", "sample-app"]
    # The one decision reads those two services alone (issue 17: a trigger costs what it needs).
    assert scopes == [(["api", "sample-app"], "2 service(s) of the batch reached a steady state")]


def test_an_instance_event_in_the_batch_widens_the_decision_to_the_cluster(env, capsys):
    batch = decide_batch(sample("sqs_batch_with_new_instance"), "demo")
    assert [g.verdict.trigger for g in batch.acted] == ["service_steady_state",
                                                         "instance_state"]
    assert [g.verdict.reason for g in batch.ignored] == ["instance i-0123456789abcdef0 "
                                                          "already runs 2 tasks"]
    assert batch.whole_cluster is True
    h.handler(sample("sqs_batch_with_new_instance"), None)
    [line] = [x for x in log_lines(capsys) if x["event"] == "triggered"]
    assert line["scope"] == "cluster" and env == ["demo"]
    assert scopes == [(None, "the whole cluster: instance i-0123456789abcdef0 is ACTIVE and "
                             "empty")]


def test_a_batch_without_a_trigger_makes_no_aws_call(env, capsys):
    result = h.handler(sample("sqs_batch_no_trigger"), None)
    assert env == [] and result["status"] == "ignored" and result["batch_events"] == 4
    assert result["reason"] == "none of the batch's 4 events is a rebalancing trigger"
    batch = decide_batch(sample("sqs_batch_no_trigger"), "demo")
    assert [g.verdict.reason for g in batch.ignored][2] == "the message body is not a JSON event"


def test_a_failed_decision_returns_the_whole_batch_to_the_queue(env, monkeypatch):
    monkeypatch.setattr(h, "step", lambda cfg, budget, **_: {"status": "error",
                                                             "reason": "throttled"})
    with pytest.raises(h.BatchFailed, match="the batch's decision failed: throttled"):
        h.handler(sample("sqs_batch_steady_states"), None)


def test_a_bad_environment_fails_the_batch_instead_of_dropping_it(env, monkeypatch, capsys):
    monkeypatch.setenv("TASKSPREAD_STRATEGY", "shuffle")
    with pytest.raises(h.BatchFailed, match="TASKSPREAD_STRATEGY must be one of"):
        h.handler(sample("sqs_batch_steady_states"), None)
    assert log_lines(capsys)[-1]["event"] == "config_error"
