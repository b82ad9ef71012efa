"""The handler: a malformed or irrelevant event is a logged no-op with no AWS call; a bad
environment is a logged error, never a traceback."""

from __future__ import annotations

import json

import pytest

from files.rebalancer import handler as h

MALFORMED = [None, [], "ECS", 42, {}, {"detail": "x"}, {"source": "aws.ecs"},
             {"source": "aws.ecs", "detail-type": "ECS Container Instance State Change",
              "detail": {"clusterArn": 7, "status": ["ACTIVE"]}},
             {"source": "aws.ecs", "detail-type": "ECS Service Action", "detail": None}]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setattr(h, "_CONFIG", None)
    monkeypatch.setenv("TASKSPREAD_CLUSTER", "demo")

    def no_aws(cfg):
        raise AssertionError("the gate must answer without an AWS call")

    monkeypatch.setattr(h, "clients", no_aws)


@pytest.mark.parametrize("event", MALFORMED, ids=[repr(e)[:40] for e in MALFORMED])
def test_malformed_events_are_logged_no_ops(env, capsys, event):
    result = h.handler(event, None)
    assert result["status"] == "ignored" and result["reason"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["triggered"]
    assert lines[0]["act"] is False


@pytest.mark.parametrize("variable, value, message", [
    ("TASKSPREAD_CLUSTER", "", "TASKSPREAD_CLUSTER is not set"),
    ("TASKSPREAD_STRATEGY", "shuffle", "TASKSPREAD_STRATEGY must be one of"),
    ("TASKSPREAD_MAX_SKEW", "wide", "TASKSPREAD_MAX_SKEW must be a whole number"),
    ("TASKSPREAD_MAX_MOVES", "0", "TASKSPREAD_MAX_MOVES must be between 1 and 1000000"),
])
def test_bad_environment_is_a_logged_error(env, monkeypatch, capsys, variable, value, message):
    monkeypatch.setenv(variable, value)
    result = h.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
    assert result["status"] == "error" and message in result["reason"]
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["event"] == "config_error" and message in line["error"]
