"""The evictor and the executor, branch by branch, against an in-memory ECS (fake_ecs.py).

The sandbox tests (tests/sandbox/test_engine_safety.py, test_faults.py) show the same contract
against our ECS control plane; these pin every branch cheaply: budgets, leases, protection,
the no-progress record, the deadline, surge restore by delta, healing, and errors mid-step.
"""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import breaker
from ansible_collections.taskspread.ecs.plugins.module_utils._engine import lock as lk
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.codes import Refused
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.deadline import Deadline
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.evictor import (
    Evictor, Limits,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.executor import (
    STOP_REASON, ExecOptions, Executor,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import LeaseStore
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.plan_types import (
    PlanOptions,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.planner import plan

from .factories import cluster, inst, ref, svc
from .fake_ecs import FakeEcs, client_error

RUN = "run-a"


class Clock:
    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def fake_for(snap) -> FakeEcs:
    tasks = {name: [(t.arn.rsplit("/", 1)[-1], ref(t.instance_arn)) for t in ts]
             for name, ts in snap.tasks.items()}
    fake = FakeEcs({n: s.desired for n, s in snap.services.items()}, tasks)
    for s in snap.services.values():
        fake.tags[s.arn].update(s.tags)
    return fake


def decide(snap, fake, clock=None, seconds=900.0, store=None, **limits):
    clock = clock or Clock()
    evictor = Evictor(CountingClient(fake), snap.cluster_arn, Limits(**limits),
                      Deadline(clock, seconds), leases=store)
    return evictor.decide(snap, plan(snap, PlanOptions()))


@pytest.fixture(autouse=True)
def dynamodb():
    """The lease table, in moto's in-process DynamoDB (every step holds a lease)."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def leases(clock, run_id: str = RUN) -> LeaseStore:
    store = LeaseStore(CountingClient(boto3.client("dynamodb", region_name="us-east-1")),
                       run_id=run_id, clock=clock, sleep=clock.sleep)
    store.ensure_table(create=True)
    return store


def executor(snap, fake, clock, seconds=900.0, **options) -> Executor:
    return Executor(CountingClient(fake), snap.cluster_arn, Deadline(clock, seconds), RUN,
                    ExecOptions(poll_interval=5, **options), sleep=clock.sleep,
                    leases=leases(clock))


def two_az(*services, placement, fields=None):
    return cluster([inst("a1", "a"), inst("b1", "b")], list(services), placement, fields)


# ----------------------------------------------------------------------------- evictor

def test_an_unmovable_service_first_spends_no_budget():
    """Defect 3: a min 100 / max 100 service sorted first no longer starves the next one."""
    snap = two_az(svc("aaa-pinned", min_healthy_percent=100, max_percent=100),
                  svc("web", min_healthy_percent=50),
                  placement={"aaa-pinned": {"a1": 4}, "web": {"a1": 8}})
    fake = fake_for(snap)
    decision = decide(snap, fake, max_moves=4)
    assert [(g.service.name, g.mode, len(g.moves)) for g in decision.grants] == [("web", "stop", 4)]
    assert decision.spent == 4
    assert [(r.service, r.code) for r in decision.refusals] == [
        ("aaa-pinned", Refused.NO_DISRUPTION_BUDGET)]


def test_budget_left_over_is_deferred_with_its_figures():
    snap = two_az(svc("a", min_healthy_percent=0), svc("b", min_healthy_percent=0),
                  placement={"a": {"a1": 4}, "b": {"a1": 4}})
    decision = decide(snap, fake_for(snap), max_moves=2)
    assert [(g.service.name, len(g.moves)) for g in decision.grants] == [("a", 2)]
    (refusal,) = decision.refusals
    assert refusal.code == Refused.DEFERRED and "max_moves=2" in refusal.message


def test_per_az_budget_limits_moves_out_of_one_az():
    snap = cluster([inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")],
                   [svc("web", min_healthy_percent=0)], {"web": {"a1": 8}})
    decision = decide(snap, fake_for(snap), max_moves=10, max_moves_per_az=2)
    assert [m.source_az for m in decision.moves] == ["us-east-1a", "us-east-1a"]


def test_a_surge_lock_of_another_run_is_never_touched():
    """Defect 1: the next run skips a service whose lock another run holds."""
    held = lk.SurgeLock("run-b", lk.RAISING, 1, 4, 5, 999_000.0, 1_000_500.0).to_tag()
    snap = two_az(svc("web", min_healthy_percent=100, tags={lk.SURGE_TAG: held}),
                  placement={"web": {"a1": 4}})
    fake = fake_for(snap)
    decision = decide(snap, fake)
    assert decision.grants == [] and decision.refusals[0].code == Refused.SURGE_IN_PROGRESS
    assert "run-b" in decision.refusals[0].message
    assert fake.calls == []            # not even a protection read


def _store_record(store, snap, need, age_seconds=10.0, max_skew=1):
    """The breaker's record of a step on ``web`` in ``snap`` that ended ``age_seconds`` ago
    (on the store's clock), written the way the executor does: with the lease's release."""
    cause = breaker.cause_of(snap, "web", max_skew)
    lease = store.acquire(snap.services["web"].arn)
    record = breaker.Record(cause.digest, need, store.now() - age_seconds, "run-0", "stop", 1)
    store.release(lease, {breaker.RECORD: record.to_value()})


def test_no_progress_record_in_the_lease_stops_a_repeat_while_its_cause_stands():
    snap = two_az(svc("web", min_healthy_percent=50), placement={"web": {"a1": 4}})
    clock = Clock()
    store = leases(clock)
    _store_record(store, snap, need=2)
    decision = decide(snap, fake_for(snap), clock, store=store)
    assert decision.grants == []
    (refusal,) = decision.refusals
    assert refusal.code == Refused.NO_PROGRESS
    assert "stop step of run run-0" in refusal.message and "re-arms" in refusal.message
    assert refusal.to_dict()["no_progress"]["need"] == 2
    # a cause change: an instance joins the pool
    grown = cluster([inst("a1", "a"), inst("b1", "b"), inst("b2", "b")],
                    [svc("web", min_healthy_percent=50)], {"web": {"a1": 4}})
    assert [g.service.name for g in decide(grown, fake_for(grown), clock,
                                           store=store).grants] == ["web"]
    # a change of desired count, of the health percents: causes too
    for changed, tasks in ((svc("web", 5, min_healthy_percent=50), 5),
                           (svc("web", min_healthy_percent=75), 4)):
        other = two_az(changed, placement={"web": {"a1": tasks}})
        assert decide(other, fake_for(other), clock, store=store).grants, changed


def test_no_progress_record_rearms_after_its_time_and_after_progress():
    snap = two_az(svc("web", min_healthy_percent=50), placement={"web": {"a1": 4}})
    clock = Clock()
    store = leases(clock)
    _store_record(store, snap, need=2, age_seconds=30 * 60 - 5)
    assert decide(snap, fake_for(snap), clock, store=store,
                  no_progress_minutes=30).grants == []
    _store_record(store, snap, need=2, age_seconds=30 * 60 + 5)
    assert decide(snap, fake_for(snap), clock, store=store, no_progress_minutes=30).grants
    # the step it records started from more moves than are needed now: it made progress
    _store_record(store, snap, need=3)
    assert decide(snap, fake_for(snap), clock, store=store).grants


def test_an_instance_outside_the_pool_is_no_cause():
    """A draining instance, or one the service's memberOf excludes, is not in its pool."""
    base = [inst("a1", "a"), inst("b1", "b")]
    snap = cluster(base, [svc("web", min_healthy_percent=50)], {"web": {"a1": 4}})
    with_draining = cluster(base + [inst("c1", "c", status="DRAINING")],
                            [svc("web", min_healthy_percent=50)], {"web": {"a1": 4}})
    assert breaker.cause_of(snap, "web", 1) == breaker.cause_of(with_draining, "web", 1)
    assert breaker.cause_of(snap, "web", 1) != breaker.cause_of(snap, "web", 2)


def test_an_unreadable_record_never_trips():
    assert breaker.Record.from_value({"cause": "x"}) is None
    assert breaker.Record.from_value("v1 shape=abc at=1") is None


def test_protected_tasks_are_swapped_for_unprotected_neighbours_or_dropped():
    """Defect 6: a task protected by someone else is never chosen."""
    snap = two_az(svc("web", min_healthy_percent=0), placement={"web": {"a1": 4}})
    fake = fake_for(snap)
    planned = [m.task_arn for m in decide(snap, fake_for(snap), max_moves=10).moves]
    assert len(planned) == 2
    fake.protected.update(planned)
    decision = decide(snap, fake, max_moves=10)
    assert len(decision.moves) == 2
    assert not {m.task_arn for m in decision.moves} & fake.protected
    fake.protected.update(t.arn for t in snap.tasks["web"])
    none = decide(snap, fake, max_moves=10)
    assert none.grants == [] and none.refusals[0].code == Refused.PROTECTED


def test_protection_is_read_100_tasks_a_call_and_unknown_counts_as_protected():
    snap = cluster([inst("a1", "a", cpu=1 << 20, memory=1 << 21), inst("b1", "b")],
                   [svc("web", min_healthy_percent=0)], {"web": {"a1": 250}})
    fake = fake_for(snap)
    decision = decide(snap, fake, max_moves=200)
    assert fake.count("get_task_protection") == 3
    assert len(decision.moves) == 125


def test_get_protection_failures_make_a_task_immovable():
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.evictor import (
        read_protection,
    )

    class Failing(FakeEcs):
        def get_task_protection(self, cluster, tasks):
            resp = super().get_task_protection(cluster, tasks)
            resp["failures"] = [{"arn": tasks[0], "reason": "MISSING"}]
            return resp

    snap = two_az(svc("web", min_healthy_percent=0), placement={"web": {"a1": 2}})
    fake = Failing({"web": 2}, {"web": [("web-000001", "a1"), ("web-000002", "a1")]})
    arns = [t.arn for t in snap.tasks["web"]]
    assert read_protection(CountingClient(fake), snap.cluster_arn, arns) == {arns[0]}


def test_stop_needs_a_healthy_spare_and_container_health_counts():
    """Defects 8 and 9: no spare means no action; UNHEALTHY tasks are not spare."""
    snap = two_az(svc("web", min_healthy_percent=50, container_health_check=True),
                  placement={"web": {"a1": 4}},
                  fields={f"web-00000{n}": {"health": "UNKNOWN"} for n in (1, 2, 3)})
    decision = decide(snap, fake_for(snap), strategy="stop")
    assert decision.grants == [] and decision.refusals[0].code == Refused.NO_DISRUPTION_BUDGET
    assert "1 healthy" in decision.refusals[0].message


def test_a_surge_is_not_started_when_the_deadline_is_too_close():
    """Defect 7: the run's deadline bounds whether a surge may start."""
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 4}})
    decision = decide(snap, fake_for(snap), seconds=60, surge_min_seconds=120)
    assert decision.grants == [] and decision.refusals[0].code == Refused.DEADLINE


# ---------------------------------------------------------------------------- executor

def grant_of(snap, fake, clock, **limits):
    decision = decide(snap, fake, clock, **limits)
    assert decision.grants, decision.refusals
    return decision


def test_stop_records_each_stop_and_keeps_them_when_a_later_one_fails():
    """Defect 10: a ClientError mid-step keeps the record of tasks already stopped."""
    snap = two_az(svc("web", min_healthy_percent=0), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock, max_moves=2)
    calls = []

    def second_fails(params):
        calls.append(params)
        if len(calls) == 2:
            raise client_error("StopTask")

    fake.fail["stop_task"] = second_fails
    result = executor(snap, fake, clock).execute(decision)
    (action,) = result.actions
    assert action.stopped_tasks == [decision.moves[0].task_arn]
    assert "InvalidParameterException" in action.error and result.changed
    assert fake.calls[-1][1]["reason"] == STOP_REASON


def test_a_count_written_by_someone_else_during_the_surge_stands():
    """Defect 2: someone sets 6 during the surge (it read 5); the run ends at 6, not 4 and
    not 6 minus the delta: desiredCount is absolute, only our own write is undone."""
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock)
    scaled: list[int] = []

    def autoscaler(params):
        if not scaled:                       # while the surge tasks run, someone sets 6
            fake.desired["web"] = 6
            fake._reconcile("web")
            scaled.append(fake.desired["web"])

    fake.fail["list_tasks"] = autoscaler
    result = executor(snap, fake, clock).execute(decision)
    assert scaled == [6] and result.errors == []
    assert "set to 6 by someone else" in result.actions[0].detail
    assert result.actions[0].moves == []            # nothing was moved by this surge
    assert fake.desired["web"] == 6
    assert lk.SURGE_TAG not in fake.tags[snap.services["web"].arn]
    assert not any(fake.tags.values())          # no record in anyone's tags: it is in the lease
    record = leases(clock).get_record(snap.services["web"].arn, breaker.RECORD)
    assert record["mode"] == "surge" and record["moves"] == 0 and record["run"] == RUN
    assert fake.protected == set()                      # only ours, and it is gone


def test_surge_writes_its_state_in_the_lease_first_and_never_touches_user_protection():
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 24}})
    fake, clock = fake_for(snap), Clock()
    user = sorted(t.arn for t in snap.tasks["web"])[:3]
    fake.protected.update(user)                          # the user protected three tasks
    decision = grant_of(snap, fake, clock, max_moves=1)
    assert not set(user) & {m.task_arn for m in decision.moves}
    mine_before = set(fake.protected)
    run = executor(snap, fake, clock)
    order: list[tuple[str, str]] = []
    real = run.leases.api.call

    def recorded(operation, **params):
        surge = params.get("ExpressionAttributeValues", {}).get(":surge", {}).get("M")
        order.append(("ddb", surge["phase"]["S"] if surge else operation))
        return real(operation, **params)

    run.leases.api.call = recorded
    original_update = fake.update_service

    def update(*a, **kw):
        order.append(("ecs", f"desired={kw.get('desiredCount')}"))
        return original_update(*a, **kw)

    fake.update_service = update
    result = run.execute(decision)
    (leaving,) = result.actions[0].stopped_tasks
    assert result.errors == [] and leaving not in user
    assert not [p for op, p in fake.calls if op == "tag_resource"
                and p["tags"][0]["key"] == lk.SURGE_TAG], "the lock left service tags"
    ecs_writes = [w for w in order if w[0] == "ecs"]
    assert ecs_writes == [("ecs", "desired=25"), ("ecs", "desired=24")]
    assert order.index(("ddb", "raising")) < order.index(("ecs", "desired=25"))
    assert order.index(("ddb", "lowering")) < order.index(("ecs", "desired=24"))
    protect_calls = [p for op, p in fake.calls if op == "update_task_protection" and p["enabled"]]
    assert all(len(p["tasks"]) <= 10 for p in protect_calls)
    assert not set().union(*(p["tasks"] for p in protect_calls)) & mine_before
    assert fake.protected == mine_before                 # the user's protection stays
    assert leaving in fake.stopped and fake.desired["web"] == 24
    assert all(p["minutes"] <= 15 for p in protect_calls)   # expires by the deadline
    assert result.actions[0].lease["owner"] == RUN


@pytest.mark.parametrize("reason", ["TASK_NOT_VALID", "MISSING", "SOMETHING_ELSE"])
def test_protection_failures_abandon_the_surge_and_undo_it(reason):
    """ECS's per-task failures abandon the surge and undo it; a task that is gone
    (TASK_NOT_VALID, MISSING) is no error of the run: the action lists the failures for the
    runner to re-plan, and the next grants go on."""
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock)
    original = fake.update_task_protection

    def failing(cluster, tasks, protectionEnabled, expiresInMinutes=None):
        resp = original(cluster, tasks, protectionEnabled, expiresInMinutes)
        if protectionEnabled:
            resp["failures"] = [{"arn": tasks[-1], "reason": reason}]
        return resp

    fake.update_task_protection = failing
    result = executor(snap, fake, clock).execute(decision)
    (action,) = result.actions
    if reason == "SOMETHING_ELSE":
        assert "protecting the tasks that stay failed" in action.error
        assert action.vanished == []
    else:
        assert action.error == "" and result.errors == []
        assert [f["reason"] for f in action.vanished] == [reason]
        assert action.detail.startswith("re-planned: protecting the tasks that stay failed")
    assert action.moves == []
    assert fake.desired["web"] == 4 and fake.protected == set()
    assert lk.SURGE_TAG not in fake.tags[snap.services["web"].arn]
    # an abandoned step leaves no breaker record: it is not a step that made no progress
    assert leases(clock).get_record(snap.services["web"].arn, breaker.RECORD) is None


def test_a_stop_that_finds_its_task_gone_stops_no_more_and_is_replanned():
    """StopTask answers for a task already stopped by someone else: the service has one
    healthy task fewer than the grant counted, so no further task is stopped."""
    snap = two_az(svc("web", min_healthy_percent=0), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock, max_moves=2)
    first = decision.moves[0].task_arn
    fake.live["web"] = [e for e in fake.live["web"] if e[0] != first]   # gone meanwhile
    result = executor(snap, fake, clock).execute(decision)
    (action,) = result.actions
    assert action.stopped_tasks == [] and action.error == ""
    assert action.vanished == [{"arn": first, "reason": "STOPPED"}]
    assert [c for c in fake.calls if c[0] == "stop_task"] == [
        ("stop_task", {"task": first, "reason": STOP_REASON})]


def test_surge_times_out_at_the_run_deadline_and_restores():
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock)
    fake.new_instance = "new"
    original = fake._reconcile
    fake._reconcile = lambda name: None                 # new tasks never start
    result = executor(snap, fake, clock, seconds=300).execute(decision)
    fake._reconcile = original
    assert "before the run's deadline" in result.actions[0].error
    assert clock.now == pytest.approx(1_000_300.0, abs=5.0)
    assert fake.desired["web"] == 4
    assert lk.SURGE_TAG not in fake.tags[snap.services["web"].arn]


def test_a_lease_held_or_claimed_first_by_another_run_changes_nothing():
    """Two runs at once: the lease is held by run B before this run reads it, or B claims it
    between this run's read and its compare-and-swap claim: this run leaves the service
    alone (lease_held, with B as the holder) and writes nothing to ECS."""
    snap = two_az(svc("web", min_healthy_percent=100), placement={"web": {"a1": 4}})
    arn = snap.services["web"].arn
    for when in ("before", "between"):
        fake, clock = fake_for(snap), Clock()
        decision = grant_of(snap, fake, clock)
        run = executor(snap, fake, clock)
        other = leases(clock, "run-b")
        if when == "before":
            other.acquire(arn)
        else:
            real = run.leases.api.call

            def late(operation, **params):
                if operation == "update_item" and params.get("ReturnValues") == "ALL_NEW":
                    other.acquire(arn)
                return real(operation, **params)

            run.leases.api.call = late
        result = run.execute(decision)
        assert result.actions == [] and result.errors == []
        assert [r.code for r in decision.refusals] == [Refused.LEASE_HELD], when
        assert decision.refusals[0].lease["owner"] == "run-b"
        assert fake.count("update_service") == 0 and fake.desired["web"] == 4
        assert fake.count("update_task_protection") == 0
        boto3.client("dynamodb", region_name="us-east-1").delete_item(
            TableName="taskspread-ecs-leases", Key={"service": {"S": arn}})


def test_redeploy_forces_a_new_deployment():
    snap = two_az(svc("web", min_healthy_percent=50), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock, strategy="redeploy")
    result = executor(snap, fake, clock).execute(decision)
    assert result.actions[0].mode == "redeploy"
    assert ("update_service", {"service": "web", "desiredCount": None,
                               "forceNewDeployment": True}) in fake.calls


@pytest.mark.parametrize("phase,desired,expected", [
    (lk.RAISING, 4, 4),      # killed between the tag and the raise: nothing to undo
    (lk.RAISING, 5, 4),      # raised, never lowered: the delta comes off
    (lk.RAISING, 7, 7),      # raised, then someone set 7: theirs stands
    (lk.LOWERING, 4, 4),     # lowered already: only the tag goes
    (lk.LOWERING, 5, 4),     # killed between the tag and the lowering
    (lk.LOWERING, 9, 9),     # someone set 9 after: theirs stands
])
def test_heal_undoes_an_expired_lock_by_delta(phase, desired, expected):
    clock = Clock()
    before, setv = (4, 5) if phase == lk.RAISING else (5, 4)
    old = lk.SurgeLock("dead", phase, 1, before, setv, clock.now - 900, clock.now - 1).to_tag()
    snap = two_az(svc("web", desired, tags={lk.SURGE_TAG: old}), placement={"web": {"a1": 4}})
    fake = fake_for(snap)
    fake.desired["web"] = desired
    assert executor(snap, fake, clock).heal(snap) == ["web"]
    assert fake.desired["web"] == expected
    assert lk.SURGE_TAG not in fake.tags[snap.services["web"].arn]


def test_heal_leaves_a_young_lock_alone():
    clock = Clock()
    young = lk.SurgeLock("alive", lk.RAISING, 1, 4, 5, clock.now - 10, clock.now + 300).to_tag()
    snap = two_az(svc("web", 5, tags={lk.SURGE_TAG: young}), placement={"web": {"a1": 5}})
    fake = fake_for(snap)
    assert executor(snap, fake, clock).heal(snap) == []
    assert fake.desired["web"] == 5 and fake.count("update_service") == 0


def test_legacy_or_unreadable_lock_is_removed_without_changing_desired():
    clock = Clock()
    snap = two_az(svc("web", 5, tags={lk.SURGE_TAG: "4@123"}), placement={"web": {"a1": 5}})
    fake = fake_for(snap)
    assert executor(snap, fake, clock).heal(snap) == ["web"]
    assert fake.desired["web"] == 5


@pytest.mark.parametrize("kw,message", [
    ({"protection_minutes": 0}, "protection_minutes"),
    ({"protection_minutes": 2881}, "protection_minutes"),
    ({"poll_interval": 0}, "poll_interval"),
])
def test_exec_options_reject_bad_values(kw, message):
    with pytest.raises(ValueError, match=message):
        ExecOptions(**kw)


@pytest.mark.parametrize("kw,message", [
    ({"strategy": "shuffle"}, "strategy"), ({"max_moves": 0}, "max_moves"),
    ({"max_moves_per_az": 0}, "max_moves_per_az"),
])
def test_limits_reject_bad_values(kw, message):
    with pytest.raises(ValueError, match=message):
        Limits(**kw)


def test_the_fullest_az_with_an_empty_instance_gets_one_useful_surge_under_the_default_budget():
    """Issue 13.1 under the default budget (1 move): a surge of 1 lands in the other AZ (ECS's
    spread counts the task it replaces), which the planner still calls balanced; granted, not
    refused as 'protected' (nothing is protected)."""
    snap = cluster([inst("a1", "a"), inst("a2", "a"), inst("a3", "a"), inst("b1", "b"),
                    inst("b2", "b")], [svc("web", min_healthy_percent=100)],
                   {"web": {"a1": 2, "a2": 1, "b1": 1, "b2": 1}})
    decision = decide(snap, fake_for(snap))
    assert decision.refusals == [] and decision.max_moves == 1
    (grant,) = decision.grants
    assert grant.mode == "surge" and grant.surge.k == 1
    assert grant.surge.remove == (decision.moves[0].task_arn,)


# ----------------------------------------------------------- issue 16: findings, item 4

def test_a_task_is_never_granted_twice_in_one_decision():
    """Issue 16, no duplicate grants. The plan moves three tasks off a1 (6/0); the budget is
    two. Everything on a1 is protected by someone else except the third planned task, so the
    first chunk (the first two planned moves) swaps one protected task for it and drops the
    other; the next chunk is that very task, planned in its own right. It was granted a second
    time (two moves, one task stopped twice); now each task is granted once."""
    snap = two_az(svc("web", min_healthy_percent=0), placement={"web": {"a1": 6}})
    fake = fake_for(snap)
    planned = [m.task_arn for m in plan(snap, PlanOptions()).service("web").moves]
    assert len(planned) == 3
    fake.protected.update(t.arn for t in snap.tasks["web"] if t.arn != planned[2])
    decision = decide(snap, fake, max_moves=2)
    granted = [m.task_arn for m in decision.moves]
    assert len(granted) == len(set(granted)), f"granted twice: {granted}"
    assert granted == [planned[2]]
    assert decision.spent == 1


def test_every_surge_of_a_step_checks_the_time_left():
    """Issue 16, per-surge time checks. Two services each get a surge in one decision, taken
    with 200 s left (a surge needs surge_min_seconds=120). The first surge takes 100 s (here the
    clock jumps 100 s at its raise: the time a load-balanced surge spends waiting for healthy
    targets), so
    the second would start with about 100 s left. It used to start anyway (one started with 78 s
    left and was abandoned); now it is refused with the deadline reason and touches nothing."""
    snap = two_az(svc("a", min_healthy_percent=100), svc("b", min_healthy_percent=100),
                  placement={"a": {"a1": 4}, "b": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock, max_moves=4, surge_min_seconds=120, seconds=200)
    assert [(g.service.name, g.mode) for g in decision.grants] == [("a", "surge"),
                                                                   ("b", "surge")]
    slow: list[str] = []

    def first_surge_takes_100_s(params):
        if params["service"] == "a" and not slow:        # its targets turn healthy slowly
            slow.append("a")
            clock.now += 100

    fake.fail["update_service"] = first_surge_takes_100_s
    result = executor(snap, fake, clock, seconds=200,
                      surge_min_seconds=120).execute(decision)
    assert [a.service for a in result.actions] == ["a"], result.actions
    assert result.errors == []
    assert [u["service"] for _, u in [c for c in fake.calls if c[0] == "update_service"]] \
        == ["a", "a"]                                   # raised and lowered a; b untouched
    assert fake.desired == {"a": 4, "b": 4}
    assert not [kw for op, kw in fake.calls if op in ("tag_resource", "untag_resource")
                and kw["resourceArn"] == snap.services["b"].arn]
    refusal = [r for r in decision.refusals if r.service == "b"]
    assert [r.code for r in refusal] == [Refused.DEADLINE]
    assert "100 s are left" in refusal[0].message


@pytest.mark.parametrize("change, why", [
    ("lost", "runs 3 task(s) now, fewer than its read counted: 2 stop(s) would leave 1, "
             "below its floor of 2"),
    ("desired", "desiredCount is 6 now, 4 when it was read"),
])
def test_a_stop_first_rereads_the_service_and_replans_if_it_changed_since_the_read(change, why):
    """The decision's read may be minutes old at scale. Tasks lost since (an instance died) or
    a desiredCount someone changed since: no task is stopped, and the runner re-plans from a
    fresh read (chaos seed 28299 drew an instance termination between the read and the stop;
    its stop still kept the floor, but one more lost task would not have)."""
    snap = two_az(svc("web", min_healthy_percent=50), placement={"web": {"a1": 4}})
    fake, clock = fake_for(snap), Clock()
    decision = grant_of(snap, fake, clock, max_moves=2)
    assert len(decision.moves) == 2                      # floor 2 of 4: two spare
    if change == "lost":
        fake.live["web"] = fake.live["web"][1:]          # gone with its instance meanwhile
    else:
        fake.desired["web"] = 6                          # someone scaled out meanwhile
    result = executor(snap, fake, clock).execute(decision)
    (action,) = result.actions
    assert fake.count("stop_task") == 0 and action.stopped_tasks == [] and action.error == ""
    assert action.detail.startswith("re-planned: web") and why in action.detail
    (failure,) = action.vanished
    assert failure["reason"] == "SERVICE_CHANGED_SINCE_READ" and failure["stops"] == 2
