"""The Lambda's gate, fed the recorded event samples in files/events/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from files.rebalancer.gate import decide

EVENTS = Path(__file__).resolve().parents[3] / "files" / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name, act, trigger, reason_part", [
    ("instance_registered_empty", True, "instance_state", "ACTIVE and empty"),
    ("instance_draining", True, "instance_state", "is DRAINING"),
    ("instance_inactive", True, "instance_state", "is INACTIVE"),
    ("instance_resources_changed", False, "instance_state", "already runs 2 tasks"),
    ("instance_disconnected", False, "instance_state", "agent connected: False"),
    ("instance_other_cluster", False, "ECS Container Instance State Change", "another cluster"),
    ("service_steady_state", True, "service_steady_state", "sample-app reached a steady state"),
    ("service_placement_failure", False, "service_action", "SERVICE_TASK_PLACEMENT_FAILURE"),
    ("deployment_in_progress", False, "ECS Deployment State Change", "not a rebalancing trigger"),
    ("task_running", False, "ECS Task State Change", "not a rebalancing trigger"),
    ("hook_awaiting_action", False, "hook_state", "HOOK_AWAITING_ACTION: the service waits"),
    ("scheduled", True, "schedule", "scheduled run"),
    ("malformed_no_detail", False, "ECS Container Instance State Change", "not an ECS event"),
])
def test_every_recorded_event_gets_the_expected_decision(name, act, trigger, reason_part):
    decision = decide(sample(name), "demo")
    assert (decision.act, decision.trigger) == (act, trigger)
    assert reason_part in decision.reason


def test_steady_state_names_the_service():
    assert decide(sample("service_steady_state"), "demo").service == "sample-app"


def test_cluster_may_be_given_as_arn():
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
    assert decide(sample("instance_registered_empty"), arn).act is True


@pytest.mark.parametrize("event", [None, [], "text", 42, {"source": "aws.ecs", "detail": []},
                                   {"source": "aws.ecs", "detail-type": "ECS Service Action",
                                    "detail": {"clusterArn": 7}}])
def test_malformed_events_are_ignored_without_error(event):
    decision = decide(event, "demo")
    assert decision.act is False
    assert decision.reason


def test_instance_without_task_counts_acts_conservatively():
    event = sample("instance_registered_empty")
    del event["detail"]["runningTasksCount"], event["detail"]["pendingTasksCount"]
    decision = decide(event, "demo")
    assert decision.act is True and "task count unknown" in decision.reason
