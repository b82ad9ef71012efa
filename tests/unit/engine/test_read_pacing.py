"""The run's read pacing (aws_client.ReadPacer): a token bucket on the injected clock."""

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    DEFAULT_READ_RATE, CountingClient, ReadPacer, check_read_rate,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.errors import (
    ReadTooSlow,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.runner import (
    RebalanceRequest, rebalance,
)
from tests.unit.engine.factories import synthetic_cluster
from tests.unit.engine.snapshot_ecs import FakeEcs


class Clock:
    """A manual clock that only ``sleep`` moves."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_burst_of_one_second_then_paced_at_the_rate():
    clock = Clock()
    pacer = ReadPacer(5.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(25):
        pacer.take("describe_tasks")
        stamps.append(clock.now - 1000.0)
    assert stamps[:5] == [0.0] * 5          # the burst: one second's worth
    assert stamps[-1] == pytest.approx(4.0)  # 20 more at 5/s
    assert pacer.waited == pytest.approx(4.0)
    assert pacer.shared_calls == 25 and pacer.shared_bucket_seconds() == pytest.approx(1.25)
    # Over any window of T seconds at most rate x (T + 1) reads.
    for i, start in enumerate(stamps):
        for j in range(i, len(stamps)):
            assert j - i + 1 <= 5.0 * (stamps[j] - start + 1) + 1e-9


def test_time_passing_refills_and_other_reads_are_not_the_shared_bucket():
    clock = Clock()
    pacer = ReadPacer(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        pacer.take("describe_container_instances")
    clock.now += 10.0                        # idle: the bucket refills to its capacity only
    for _ in range(3):
        pacer.take("list_tasks")
    assert pacer.waited == pytest.approx(0.5)
    assert pacer.to_dict() == {"api_read_rate": 2.0, "reads": 5, "shared_read_bucket_calls": 3,
                               "shared_read_bucket_seconds": 0.15,
                               "read_pacing_wait_seconds": 0.5}


def test_a_clock_that_does_not_move_cannot_spin():
    pacer = ReadPacer(1.0, clock=lambda: 0.0, sleep=lambda s: None)
    for _ in range(4):
        pacer.take("list_tasks")
    assert pacer.waited == pytest.approx(3.0)


@pytest.mark.parametrize("rate", [0, 0.1, 21, -5])
def test_rate_bounds(rate):
    with pytest.raises(ValueError, match="api_read_rate must be between 0.5 and 20"):
        check_read_rate(rate)
    with pytest.raises(ValueError, match="api_read_rate"):
        RebalanceRequest(cluster="c", api_read_rate=rate)


class Pages:
    def __init__(self, n):
        self.n, self.requests = n, 0

    def get_paginator(self, op):
        outer = self

        class P:
            def paginate(self, **_):
                for k in range(outer.n):
                    outer.requests += 1
                    yield {"taskArns": [str(k)]}
        return P()

    def stop_task(self, **_):
        return {}


def test_counting_client_paces_reads_per_page_and_never_writes():
    clock = Clock()
    pacer = ReadPacer(1.0, clock=clock, sleep=clock.sleep)
    fake = Pages(3)
    api = CountingClient(fake, pacer)
    assert [p["taskArns"] for p in api.pages("list_tasks", cluster="c")] == [["0"], ["1"], ["2"]]
    # Three pages, three reads counted: the paginator's end gave its token back (it waited
    # for it, one token's time, since a page does not say whether another follows).
    assert (api.calls, pacer.reads, pacer.shared_calls, fake.requests) == (3, 3, 3, 3)
    assert pacer.waited == pytest.approx(3.0)
    api.call("stop_task", cluster="c", task="t")
    assert pacer.reads == 3 and clock.now == pytest.approx(1003.0)


def test_a_run_reports_its_reads_and_waits_on_the_manual_clock():
    snap = synthetic_cluster(20, 2, 4, 200, skew="balanced", seed=0)
    fake = FakeEcs(snap)
    clock = Clock()
    result = rebalance(fake, RebalanceRequest(cluster=snap.cluster_name, check_mode=True,
                                              wait=False, api_read_rate=2.0),
                       sleep=clock.sleep, clock=clock)
    reads = result.to_dict()["reads"]
    calls = sum(fake.calls.values())
    shared = fake.calls["list_tasks"] + fake.calls["describe_tasks"]
    assert reads["reads"] == calls == result.api_calls
    assert reads["shared_read_bucket_calls"] == shared
    assert reads["shared_read_bucket_seconds"] == pytest.approx(shared / 20.0, abs=0.01)
    # Two a second after a burst of two: the run took (calls - 2) / 2 seconds of the clock.
    assert reads["read_pacing_wait_seconds"] == pytest.approx((calls - 2) / 2.0, abs=0.01)
    assert clock.now - 1000.0 == pytest.approx((calls - 2) / 2.0)
    assert DEFAULT_READ_RATE == RebalanceRequest(cluster="c").api_read_rate == 5.0


def test_seconds_for_counts_the_tokens_in_the_bucket_first():
    clock = Clock()
    pacer = ReadPacer(4.0, clock=clock, sleep=clock.sleep)
    assert pacer.seconds_for(4) == 0.0 and pacer.seconds_for(12) == pytest.approx(2.0)
    for _ in range(4):
        pacer.take("list_tasks")
    assert pacer.seconds_for(8) == pytest.approx(2.0)


def test_a_read_that_would_outlast_the_deadline_is_refused_before_the_tasks_are_read():
    """At 0.5 reads a second, 40 instances / 4 services / 2,000 tasks need about 40 more
    reads (4 task definitions, 20 ListTasks pages, 20 DescribeTasks): 80 s, more than the 30 s
    the run has. Refused with what to change, before any task is read and with nothing
    written; with the time it needs, the same read goes through."""
    snap = synthetic_cluster(40, 4, 4, 2000, skew="balanced", seed=0)
    fake = FakeEcs(snap)
    clock = Clock()
    with pytest.raises(ReadTooSlow) as err:
        rebalance(fake, RebalanceRequest(cluster=snap.cluster_name, wait=False,
                                         wait_timeout=30, api_read_rate=0.5),
                  sleep=clock.sleep, clock=clock)
    assert err.value.tasks == 2000 and err.value.calls == 4 + 20 + 20
    message = str(err.value)
    assert "reading 2000 task(s)" in message and "api_read_rate 0.5/s" in message
    assert "nothing was changed" in message and "rebalancer_timeout" in message
    assert fake.calls["list_tasks"] == fake.calls["describe_tasks"] == 0
    assert not any(op.startswith(("update_", "stop_", "tag_")) for op in fake.calls)
    clock = Clock()
    ok = rebalance(FakeEcs(snap), RebalanceRequest(cluster=snap.cluster_name, check_mode=True,
                                                   wait=False, wait_timeout=600,
                                                   api_read_rate=0.5),
                   sleep=clock.sleep, clock=clock)
    assert ok.error == "" and len(ok.before) == 4


def test_the_read_price_counts_every_read_still_to_come():
    """Task definitions, ListTasks and DescribeTasks pages, and one DescribeCapacityProviders
    call per 10 provider names (their types tell Managed Instances apart)."""
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.deadline import Deadline
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
        _check_read_time,
    )
    clock = Clock()
    pacer = ReadPacer(1.0, clock=clock, sleep=clock.sleep)
    docs = [{"taskDefinition": "td:1", "runningCount": 150, "pendingCount": 50},
            {"taskDefinition": "td:2", "runningCount": 0}]
    with pytest.raises(ReadTooSlow) as err:
        _check_read_time(docs, True, pacer, Deadline(clock, 5), providers=21)
    # 2 task definitions + (2 + 1) listings + 2 describes + 3 provider calls (10 a page)
    assert (err.value.tasks, err.value.calls) == (200, 10)
    _check_read_time(docs, True, pacer, Deadline(clock, 9))
