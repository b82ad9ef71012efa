"""The Event-Driven Ansible plugins, loaded as ansible-rulebook loads them (runpy.run_path):
the SQS source's events and deletes, and the gate filter's verdicts on the recorded events."""

from __future__ import annotations

import asyncio
import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PLUGINS = ROOT / "extensions" / "eda" / "plugins"
EVENTS = ROOT / "files" / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def gate():
    return runpy.run_path(str(PLUGINS / "event_filter" / "ecs_gate.py"))["main"]


@pytest.fixture(scope="module")
def source():
    return runpy.run_path(str(PLUGINS / "event_source" / "sqs_queue.py"))


@pytest.mark.parametrize("name, act, reason_part", [
    ("service_steady_state", True, "sample-app reached a steady state"),
    ("instance_registered_empty", True, "ACTIVE and empty"),
    ("instance_draining", True, "is DRAINING"),
    ("instance_resources_changed", False, "already runs 2 tasks"),
    ("service_placement_failure", False, "SERVICE_TASK_PLACEMENT_FAILURE"),
    ("task_running", False, "not a rebalancing trigger"),
])
def test_the_filter_gives_the_lambda_gates_verdict(gate, name, act, reason_part):
    event = gate({"body": sample(name), "meta": {"MessageId": "1"}})
    verdict = event["taskspread"]
    assert verdict["act"] is act and reason_part in verdict["reason"]
    assert verdict["cluster"] == "demo" and event["meta"] == {"MessageId": "1"}


def test_the_filter_can_keep_to_one_cluster(gate):
    verdict = gate({"body": sample("service_steady_state")}, cluster="other")["taskspread"]
    assert verdict["act"] is False and "another cluster, not other" in verdict["reason"]
    scheduled = gate({"body": sample("scheduled")})["taskspread"]
    assert scheduled["act"] is False and "names no cluster" in scheduled["reason"]
    assert gate({"body": sample("scheduled")}, cluster="demo")["taskspread"]["act"] is True


class FakeSqs:
    def __init__(self, batches):
        self.batches, self.deleted, self.waits = list(batches), [], []

    def get_queue_url(self, QueueName):
        return {"QueueUrl": f"https://sqs/{QueueName}"}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds):
        self.waits.append(WaitTimeSeconds)
        if not self.batches:
            raise asyncio.CancelledError   # ends the source's loop, as a shutdown does
        return {"Messages": self.batches.pop(0)}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)


def test_the_source_puts_each_message_then_deletes_it(source):
    fake = FakeSqs([[{"MessageId": "m1", "ReceiptHandle": "h1",
                      "Body": json.dumps(sample("service_steady_state"))},
                     {"MessageId": "m2", "ReceiptHandle": "h2", "Body": "plain text"}]])
    source["main"].__globals__["_client"] = lambda args: fake
    queue: asyncio.Queue = asyncio.Queue()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(source["main"](queue, {"name": "events", "delay_seconds": 5}))
    first, second = queue.get_nowait(), queue.get_nowait()
    assert first["body"]["detail"]["eventName"] == "SERVICE_STEADY_STATE"
    assert first["meta"] == {"MessageId": "m1"}
    assert second == {"body": "plain text", "meta": {"MessageId": "m2"}}
    assert fake.deleted == ["h1", "h2"] and fake.waits == [5, 5]


class LookupSqs(FakeSqs):
    """GetQueueUrl answers with the given errors first, then the URL."""

    def __init__(self, errors):
        super().__init__([])
        self.errors = list(errors)

    def get_queue_url(self, QueueName):
        if self.errors:
            raise self.errors.pop(0)
        return super().get_queue_url(QueueName)


def client_error(code):
    from botocore.exceptions import ClientError
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "GetQueueUrl")


def test_a_missing_queue_is_a_clear_setup_error(source, monkeypatch):
    monkeypatch.setitem(source["main"].__globals__, "_client", lambda args: LookupSqs(
        [client_error("AWS.SimpleQueueService.NonExistentQueue")]))
    with pytest.raises(ValueError, match="SQS queue events does not exist .*rebalancer role"):
        asyncio.run(source["main"](asyncio.Queue(), {"name": "events"}))


def test_a_transient_lookup_failure_is_retried(source, monkeypatch):
    fake = LookupSqs([client_error("ThrottlingException")])
    monkeypatch.setitem(source["main"].__globals__, "_client", lambda args: fake)
    monkeypatch.setitem(source["main"].__globals__, "RETRY_SECONDS", 0)
    with pytest.raises(asyncio.CancelledError):       # reached the receive loop
        asyncio.run(source["main"](asyncio.Queue(), {"name": "events", "delay_seconds": 1}))
    assert fake.errors == [] and fake.waits == [1]
