"""The lease store (``_engine/lease.py``) against DynamoDB as the sandbox serves it (moto), on
the sandbox's manual clock: compare-and-swap claims, fencing, renewal, expiry measured on the
store's ``Date`` header (not the runners' clocks), the surge state, TTL rules, table creation and
the clear refusals when no lease can be had, and the per-service record API."""

from __future__ import annotations

import boto3
import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.errors import (
    LeaseHeld, LeaseLost, LeaseTableMissing, LeaseUnavailable,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import (
    DEFAULT_TABLE, EXPIRY_MARGIN_SECONDS, TTL_ATTRIBUTE, LeaseStore, SurgeState,
)

SVC = "arn:aws:ecs:us-east-1:123456789012:service/demo/sample-app"


def ddb(sandbox):
    return boto3.client("dynamodb", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def store(sandbox, run_id: str, skew: float = 0.0, create: bool = True, **kw) -> LeaseStore:
    """A run's store; ``skew``: the run's clock minus the true (sandbox) time."""
    s = LeaseStore(CountingClient(ddb(sandbox)), run_id=run_id,
                   clock=lambda: sandbox.now() + skew, sleep=sandbox.advance, **kw)
    s.ensure_table(create=create)
    return s


def item(sandbox, table: str = DEFAULT_TABLE) -> dict:
    return ddb(sandbox).get_item(TableName=table, Key={"service": {"S": SVC}},
                                 ConsistentRead=True).get("Item", {})


def test_missing_table_is_created_on_demand_with_ttl(sandbox):
    client = ddb(sandbox)
    s = LeaseStore(CountingClient(client), run_id="a", clock=sandbox.now, sleep=sandbox.advance)
    assert s.ensure_table(create=True) is True
    desc = client.describe_table(TableName=DEFAULT_TABLE)["Table"]
    assert desc["TableStatus"] == "ACTIVE"
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["KeySchema"] == [{"AttributeName": "service", "KeyType": "HASH"}]
    assert len(desc["TableId"]) == 36       # as AWS's (community.aws.dynamodb_table reads it)
    ttl = client.describe_time_to_live(TableName=DEFAULT_TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}
    assert s.ensure_table(create=True) is False           # exists: nothing created


def test_missing_table_without_create_is_refused_naming_the_table(sandbox):
    s = LeaseStore(CountingClient(ddb(sandbox)), table="nope", run_id="a", clock=sandbox.now)
    with pytest.raises(LeaseTableMissing, match="lease table nope does not exist"):
        s.ensure_table(create=False)
    with pytest.raises(LeaseUnavailable, match="nope"):
        s.acquire(SVC)
    assert "nope" not in ddb(sandbox).list_tables()["TableNames"]


def test_one_claim_wins_and_the_other_is_refused_with_the_holder(sandbox):
    a, b = store(sandbox, "run-a"), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    assert (lease.owner, lease.fence) == ("run-a", 1)
    with pytest.raises(LeaseHeld) as held:
        b.acquire(SVC)
    assert held.value.holder.owner == "run-a" and held.value.holder.fence == 1
    assert b.holder(SVC).to_dict() == {"owner": "run-a", "fence": 1,
                                       "since": round(sandbox.now()),
                                       "until": round(sandbox.now() + 60)}


def test_a_late_claim_based_on_an_old_read_cannot_win(sandbox):
    """The TagResource-style race: run B read the item free, run A claimed meanwhile, B's claim
    lands late. The compare-and-swap on ``rev`` refuses B; A keeps the lease and its fence."""
    a, b = store(sandbox, "run-a"), store(sandbox, "run-b")
    real_read = b.read
    stale = [real_read(SVC)]               # B's read: nothing there yet
    a_lease = a.acquire(SVC)
    b.read = lambda service: stale.pop() if stale else real_read(service)
    with pytest.raises(LeaseHeld, match="claimed by another run"):
        b.acquire(SVC)
    a.check(a_lease)                       # A still holds it
    assert item(sandbox)["owner"]["S"] == "run-a" and item(sandbox)["fence"]["N"] == "1"


def test_a_duplicated_claim_of_our_own_is_ours(sandbox):
    """botocore retried our claim and the first attempt had landed: the retry's condition
    fails, the item names us: the lease is ours, with the fence the claim wrote."""
    a = store(sandbox, "run-a")
    api = a.api
    real_call = api.call

    def twice(operation, **params):
        if operation == "update_item" and params.get("ReturnValues") == "ALL_NEW":
            real_call(operation, **params)         # the first attempt lands
        return real_call(operation, **params)      # the retry: condition fails

    api.call = twice
    lease = a.acquire(SVC)
    assert (lease.owner, lease.fence) == ("run-a", 1)
    api.call = real_call
    a.check(lease)


def test_fence_check_fails_after_the_item_is_deleted_or_taken(sandbox):
    a, b = store(sandbox, "run-a"), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    ddb(sandbox).delete_item(TableName=DEFAULT_TABLE, Key={"service": {"S": SVC}})
    with pytest.raises(LeaseLost, match="fence 1"):
        a.check(lease)
    b_lease = b.acquire(SVC)                # the item is gone: B claims afresh
    assert b_lease.fence == 1 and b_lease.owner == "run-b"
    with pytest.raises(LeaseLost):          # same fence number, other owner: still lost
        a.check(lease)


def test_expiry_is_bounded_by_lease_seconds_and_renewals_extend_it(sandbox):
    a, b = store(sandbox, "run-a", lease_seconds=30), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    sandbox.advance(20)
    a.keepalive(lease)                      # 20 s >= 30/3: renewed to now + 30
    sandbox.advance(25)
    with pytest.raises(LeaseHeld):
        b.acquire(SVC)
    sandbox.advance(5 + EXPIRY_MARGIN_SECONDS + 1)
    b_lease = b.acquire(SVC)                # a killed holder holds it at most the lease bound
    assert b_lease.fence == 2
    with pytest.raises(LeaseLost):
        a.check(lease)


def test_a_runner_with_a_slow_clock_keeps_its_lease(sandbox):
    """Runner A's clock is 16 minutes slow, B's is right; A renews every 20 s of its own
    time. B, measuring on the store's clock (``Date``), never sees A's lease expired."""
    a = store(sandbox, "run-a", skew=-960, lease_seconds=60)
    b = store(sandbox, "run-b", skew=0)
    lease = a.acquire(SVC)
    assert abs(lease.until - (sandbox.now() + 60)) <= 1, "until is in store time"
    for _ in range(10):
        sandbox.advance(20)
        a.keepalive(lease)
        with pytest.raises(LeaseHeld):
            b.acquire(SVC)
    # And the other way round: a fast runner does not steal a live lease early.
    c = store(sandbox, "run-c", skew=+960)
    with pytest.raises(LeaseHeld):
        c.acquire(SVC)


def test_surge_state_stays_until_healed_and_the_item_has_no_ttl_meanwhile(sandbox):
    a, b = store(sandbox, "run-a", lease_seconds=15), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    assert TTL_ATTRIBUTE in item(sandbox)
    state = SurgeState("raising", 2, 4, 6, ("t1", "t2"), since=sandbox.now(),
                       until=sandbox.now() + 300)
    a.set_surge(lease, state)
    assert TTL_ATTRIBUTE not in item(sandbox)
    # killed: nothing released. B claims once expired and inherits the surge state.
    sandbox.advance(15 + EXPIRY_MARGIN_SECONDS + 1)
    b_lease = b.acquire(SVC)
    assert b_lease.inherited == state
    assert TTL_ATTRIBUTE not in item(sandbox)
    assert b_lease.inherited.restore_count(6) == 4       # ours, untouched: delta comes off
    assert b_lease.inherited.restore_count(8) is None    # someone else's 8 stands
    b.release(b_lease)                                    # not healed: state kept, no TTL
    assert "surge" in item(sandbox) and TTL_ATTRIBUTE not in item(sandbox)
    c_lease = b.acquire(SVC)
    b.set_surge(c_lease, None)
    b.release(c_lease)
    it = item(sandbox)
    assert "surge" not in it and "owner" not in it
    assert float(it[TTL_ATTRIBUTE]["N"]) >= sandbox.now() + 3600
    assert it["fence"]["N"] == "3"


def test_released_lease_is_free_and_writes_after_release_are_refused(sandbox):
    a, b = store(sandbox, "run-a"), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    a.release(lease)
    with pytest.raises(LeaseLost, match="released"):
        a.check(lease)
    assert b.holder(SVC) is None
    assert b.acquire(SVC).fence == 2


def test_records_are_written_only_under_the_lease_and_survive_claims(sandbox):
    a, b = store(sandbox, "run-a"), store(sandbox, "run-b")
    lease = a.acquire(SVC)
    a.put_record(lease, "breaker", {"cause": "abc", "at": 12})
    assert b.get_record(SVC, "breaker") == {"cause": "abc", "at": 12}
    a.release(lease)
    with pytest.raises(LeaseLost):
        a.put_record(lease, "breaker", {"cause": "late"})
    b_lease = b.acquire(SVC)
    assert b.get_record(SVC, "breaker") == {"cause": "abc", "at": 12}
    b.put_record(b_lease, "breaker", None)
    assert b.get_record(SVC, "breaker") is None
    with pytest.raises(ValueError):
        b.get_record(SVC, "bad name")


def test_lease_seconds_is_bounded():
    with pytest.raises(ValueError, match="lease_seconds"):
        LeaseStore(object(), run_id="a", lease_seconds=5)
    with pytest.raises(ValueError, match="lease_seconds"):
        LeaseStore(object(), run_id="a", lease_seconds=86400)
