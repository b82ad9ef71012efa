"""The simulation's own machinery, without a sandbox: call points are numbered across runs and
paginator pages, a killed run reaches AWS no more, and each lease fault does to the write what
its name says. A stub client records what actually reached "AWS"."""

from __future__ import annotations

import pytest
from botocore.exceptions import ReadTimeoutError

from tests.simulation.calls import (KILL_AFTER, KILL_BEFORE, LEASE_DELAY_CALLS, LEASE_DELAYED,
                                    LEASE_DUPLICATED, LEASE_LOST_APPLIED, LEASE_LOST_DROPPED,
                                    SURGE_TAG, ClientProxy, Fault, Killed, Run, Sim,
                                    is_lease_write)


class Paginator:
    _pagination_cfg = {"input_token": "nextToken", "output_token": "nextToken"}


class StubEcs:
    """Answers every operation; ``list_tasks`` has two pages."""

    def __init__(self):
        self.reached: list[tuple[str, dict]] = []

    def get_paginator(self, op):
        return Paginator()

    def list_tasks(self, **kw):
        self.reached.append(("list_tasks", kw))
        return {"taskArns": ["a"], "nextToken": "t"} if "nextToken" not in kw else {
            "taskArns": ["b"]}

    def __getattr__(self, op):
        def call(**kw):
            self.reached.append((op, kw))
            return {}
        return call


class StubSandbox:
    endpoint = "http://127.0.0.1:1"

    def now(self):
        return 100.0


class StubWorld:
    sandbox = StubSandbox()
    t0 = 100.0


CLAIM = {"resourceArn": "svc", "tags": [{"key": SURGE_TAG, "value": "v2 owner=r1"}]}


def proxy(faults):
    sim = Sim(StubWorld(), faults)
    run = Run("r1", 600)
    sim.runs.append(run)
    ecs = StubEcs()
    return sim, run, ecs, ClientProxy(sim, run, "ecs", ecs)


def test_calls_and_pages_are_numbered_call_points():
    sim, _, ecs, client = proxy([])
    client.describe_services(cluster="c", services=["s"])
    pages = list(client.get_paginator("list_tasks").paginate(cluster="c"))
    assert [p["taskArns"] for p in pages] == [["a"], ["b"]]
    assert [(p.n, p.op) for p in sim.points] == [(1, "describe_services"), (2, "list_tasks"),
                                                  (3, "list_tasks")]
    assert ecs.reached[2] == ("list_tasks", {"cluster": "c", "nextToken": "t"})


def test_a_kill_before_stops_the_call_and_every_later_one():
    sim, run, ecs, client = proxy([Fault(KILL_BEFORE, 2)])
    client.describe_services()
    with pytest.raises(Killed):
        client.update_service(desiredCount=5)
    with pytest.raises(Killed):
        client.untag_resource(resourceArn="svc", tagKeys=[SURGE_TAG])   # its finally block
    assert [op for op, _ in ecs.reached] == ["describe_services"]
    assert run.dead and run.refused_after_kill == 1


def test_a_kill_after_lets_the_call_land():
    _, run, ecs, client = proxy([Fault(KILL_AFTER, 1)])
    with pytest.raises(Killed):
        client.update_service(desiredCount=5)
    assert ecs.reached == [("update_service", {"desiredCount": 5})] and run.dead


def test_a_delayed_lease_write_times_out_and_lands_later():
    _, _, ecs, client = proxy([Fault(LEASE_DELAYED, 1)])
    with pytest.raises(ReadTimeoutError):
        client.tag_resource(**CLAIM)
    assert ecs.reached == []
    for _ in range(LEASE_DELAY_CALLS):
        client.describe_services()
    assert [op for op, _ in ecs.reached] == ["describe_services", "describe_services",
                                             "tag_resource", "describe_services"]


def test_a_duplicated_lease_write_lands_twice():
    _, _, ecs, client = proxy([Fault(LEASE_DUPLICATED, 1)])
    client.tag_resource(**CLAIM)
    for _ in range(LEASE_DELAY_CALLS):
        client.describe_services()
    assert [op for op, _ in ecs.reached].count("tag_resource") == 2


@pytest.mark.parametrize("kind,landed", [(LEASE_LOST_APPLIED, 1), (LEASE_LOST_DROPPED, 0)])
def test_a_lost_lease_write_times_out_landed_or_not(kind, landed):
    _, _, ecs, client = proxy([Fault(kind, 1)])
    with pytest.raises(ReadTimeoutError):
        client.tag_resource(**CLAIM)
    assert [op for op, _ in ecs.reached].count("tag_resource") == landed


def test_lease_writes_are_the_lock_tag_writes_and_dynamodb_writes():
    assert is_lease_write("ecs", "tag_resource", CLAIM)
    assert is_lease_write("ecs", "untag_resource", {"tagKeys": [SURGE_TAG]})
    assert not is_lease_write("ecs", "tag_resource",
                              {"tags": [{"key": "taskspread:last-step", "value": "x"}]})
    assert is_lease_write("dynamodb", "put_item", {})
    assert not is_lease_write("dynamodb", "get_item", {})
    assert not is_lease_write("ecs", "update_service", {})


def test_a_lease_item_past_its_runs_bound_is_a_violation(sandbox):
    """The bound check reads DynamoDB lease items (``owner``, ``until``) from the sandbox."""
    from sandbox.scenario import Clients
    from tests.simulation.calls import CallPoint
    from tests.simulation.invariants import SLACK_SECONDS, BoundWatch

    aws = Clients(sandbox.endpoint)
    ddb = aws("dynamodb")
    ddb.create_table(TableName="leases", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "service", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "service", "AttributeType": "S"}])

    class World:
        cluster, service, t0 = "none", "none", sandbox.now()

        def __init__(self):
            self.sandbox, self.aws = sandbox, aws

    sim = Sim(World(), [])
    run = Run("r1", 600, started=sandbox.now())
    sim.runs.append(run)
    watch = BoundWatch()
    for until in (run.bound + SLACK_SECONDS, run.bound + SLACK_SECONDS + 300):
        ddb.put_item(TableName="leases", Item={"service": {"S": "app"}, "owner": {"S": "r1"},
                                               "until": {"N": str(until)}})
        watch(sim, CallPoint(1, "r1", "dynamodb", "put_item", sandbox.now(), lease_write=True))
    assert [v.invariant for v in watch.violations] == ["bound"]
    assert "lease of r1 in leases" in watch.violations[0].text
