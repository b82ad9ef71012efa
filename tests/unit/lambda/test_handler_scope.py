"""A trigger costs what it needs: a steady state of service S reads S alone; an instance event
and the schedule read the whole cluster. The result and the log say which scope and why."""

from __future__ import annotations

import json
import math

import pytest

from files.rebalancer import handler as h
from tests.unit.engine.factories import synthetic_cluster
from tests.unit.engine.snapshot_ecs import FakeEcs


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture(scope="module")
def snap():
    return synthetic_cluster(300, 3, 20, 2_000, skew="balanced", seed=1)


@pytest.fixture
def world(monkeypatch, snap):
    fake = FakeEcs(snap)
    clock = Clock()
    monkeypatch.setattr(h, "_CONFIG", None)
    monkeypatch.setenv("TASKSPREAD_CLUSTER", snap.cluster_name)
    monkeypatch.setenv("TASKSPREAD_DRY_RUN", "true")
    monkeypatch.setattr(h, "clients", lambda cfg: (fake, None, None, None))
    monkeypatch.setattr(h, "timers", lambda: (clock.sleep, clock))
    return fake, clock


def steady_state(snap, service):
    return {"source": "aws.ecs", "detail-type": "ECS Service Action",
            "resources": [snap.services[service].arn],
            "detail": {"clusterArn": snap.cluster_arn, "eventName": "SERVICE_STEADY_STATE"}}


def logged(capsys) -> dict:
    lines = map(json.loads, capsys.readouterr().out.splitlines())
    return {line["event"]: line for line in lines if "event" in line}   # not the EMF lines


def test_steady_state_reads_its_service_alone(world, snap, capsys):
    fake, clock = world
    service = "svc0007"
    result = h.handler(steady_state(snap, service), None)
    own = len(snap.tasks[service])
    assert result["status"] == "planned"
    assert result["scope"] == {"read": "services", "services": [service],
                               "reason": f"service {service} reached a steady state"}
    # Only S's tasks: one ListTasks listing by serviceName, its describes; no other service.
    assert fake.calls["list_tasks"] == math.ceil(own / 100)
    assert fake.calls["describe_tasks"] == math.ceil(own / 100)
    assert fake.calls["describe_services"] == 1 and fake.calls["describe_task_definition"] == 1
    assert "list_services" not in fake.calls
    instances = len(snap.instances)
    assert result["api_calls"] == sum(fake.calls.values()) == \
        1 + 2 * math.ceil(instances / 100) + 1 + 1 + 2 * math.ceil(own / 100)
    assert result["reads"]["shared_read_bucket_calls"] == 2 * math.ceil(own / 100)
    lines = logged(capsys)
    assert lines["scope"]["read"] == "services" and lines["scope"]["services"] == [service]
    assert lines["reads"]["api_read_rate"] == 5.0
    assert lines["reads"]["read_pacing_wait_seconds"] == pytest.approx(clock.now, abs=0.01)


@pytest.mark.parametrize("event, reason", [
    ({"source": "aws.events", "detail-type": "Scheduled Event"}, "scheduled run"),
    ("instance", "is ACTIVE and empty"),
])
def test_instance_events_and_the_schedule_read_the_whole_cluster(world, snap, event, reason):
    fake, _ = world
    if event == "instance":
        event = {"source": "aws.ecs", "detail-type": "ECS Container Instance State Change",
                 "detail": {"clusterArn": snap.cluster_arn, "status": "ACTIVE",
                            "agentConnected": True, "ec2InstanceId": "i-new",
                            "runningTasksCount": 0, "pendingTasksCount": 0}}
    result = h.handler(event, None)
    assert result["scope"]["read"] == "cluster" and result["scope"]["services"] is None
    assert reason in result["scope"]["reason"]
    assert fake.calls["list_services"] >= 1
    assert fake.calls["describe_tasks"] == math.ceil(snap.task_count() / 100)


def test_read_rate_from_the_environment(world, snap, monkeypatch):
    fake, clock = world
    monkeypatch.setenv("TASKSPREAD_API_READ_RATE", "2")
    result = h.handler(steady_state(snap, "svc0001"), None)
    calls = result["api_calls"]
    assert result["reads"]["api_read_rate"] == 2.0
    # A burst of two, then two a second (a paginator's end may add one token's wait).
    assert (calls - 2) / 2 <= clock.now <= (calls - 2) / 2 + 0.5 * 3


@pytest.mark.parametrize("value, message", [
    ("fast", "TASKSPREAD_API_READ_RATE must be a number of requests per second"),
    ("100", "TASKSPREAD_API_READ_RATE: api_read_rate must be between 0.5 and 20"),
])
def test_bad_read_rate_is_a_config_error(world, monkeypatch, value, message):
    monkeypatch.setenv("TASKSPREAD_API_READ_RATE", value)
    result = h.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
    assert result["status"] == "error" and message in result["reason"]
