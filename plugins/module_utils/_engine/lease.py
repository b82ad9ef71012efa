"""The per-service lease: a DynamoDB item with a real compare-and-swap, held by every step that
acts on a service (a stop or a surge), and the home of a surge's state.

ECS tags have no conditional write, so a lock kept in tags cannot stop two runs that both read
"free" (a late or retried TagResource wins silently; a person deleting the tag frees it). A
DynamoDB item can: every write below is a conditional UpdateItem.

One item per service, keyed by the service ARN (``service``). Attributes:

* ``owner``: the run id holding the lease (absent once released);
* ``fence``: the fencing number, +1 with every claim (never with a renewal), so a run that lost
  its lease can tell: its (owner, fence) pair no longer matches;
* ``rev``: +1 with every write; a claim is a compare-and-swap on the ``rev`` it read, so a claim
  racing another claim, a renewal or a release fails instead of winning late;
* ``since`` / ``until``: when the holder claimed it and until when it is valid, in seconds on the
  store's clock (see below); every fenced write renews ``until`` to now + ``lease_seconds``;
* ``surge``: the surge's own state (phase, delta, before, set, the task ARNs whose protection this
  run added, since, until), written before desiredCount or protection changes (``SurgeState``);
  a later holder heals it by delta (``lock.restore_count``) and removes what was protected;
* ``expires_at``: the TTL attribute (epoch seconds) the table's TTL deletes the item by. It is set
  only while the item holds no ``surge`` state: a record that still needs healing never vanishes;
* ``rec_<name>``: per-service records of other parts of the engine (``get_record`` /
  ``put_record``, or with ``release``: any JSON value, written only under the caller's lease,
  fence checked), e.g. the no-progress breaker's memory (``breaker.py``, ``rec_no_progress``).
  They survive claims and releases; TTL takes them with the item (a day after the last
  release, ``RETENTION_SECONDS``).

The protocol (``Lease`` is what a run holds):

1. ``acquire``: a consistent GetItem; a live lease of another run is refused (``LeaseHeld``,
   with its holder); otherwise a conditional UpdateItem claims it (``rev`` unchanged since the
   read, or the item absent): owner = this run, fence + 1, until = now + lease_seconds. A failed
   condition means another run got there first (``LeaseHeld``), unless the item now names this
   run (a duplicate of our own claim, retried by botocore, landed first): then it is ours.
   A ``surge`` state left by a predecessor comes with the lease (``Lease.inherited``) for the new
   holder to heal before anything else.
2. ``check`` (the fence check, immediately before every write to desiredCount or to task
   protection): a conditional UpdateItem ``owner = me AND fence = mine`` that also renews
   ``until``. A failed check raises ``LeaseLost``: the run stops writing and reports it.
   ``keepalive`` renews the same way during waits, once a third of the lease has gone by.
3. ``set_surge``: the surge state, written fenced (TTL removed while it is set).
4. ``release``: fenced; removes the owner, keeps fence and records, sets the TTL attribute when no
   surge state is left.

Time. Expiry must not depend on runners' clocks agreeing (a runner 16 minutes slow must not have
its live surge healed by another). Two designs exist: measure time on the store's clock, or
(amazon-dynamodb-lock-client's) steal only after seeing the record unchanged for a full lease
period on one's own clock. This uses the store's clock: every DynamoDB response carries a
``Date`` header set by AWS, from which ``StoreClock`` keeps the offset between the run's own
clock and the store's; ``until`` is written and compared in store time. A run then needs no
wait of a whole lease period before it may heal a killed run's surge (a Lambda invocation is
short), and a runner's clock only has to measure its own elapsed time. ``Date`` has one-second
resolution, so a lease counts as expired only ``EXPIRY_MARGIN_SECONDS`` after ``until``. A
response without ``Date`` (a proxy that strips it) falls back to the run's own clock.

The residual window: between a passed fence check and the ECS write it guards, the lease can
only be lost by the holder stalling for longer than the whole remaining lease (at least two
thirds of ``lease_seconds``) between two consecutive calls.

The table: ``DEFAULT_TABLE``, on-demand billing, key ``service`` (S), TTL on ``expires_at``.
``ensure_table`` creates it when missing if allowed (never in check mode); otherwise a missing
table or permission is a ``LeaseUnavailable`` naming the table and the permission.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import LeaseHeld, LeaseLost, LeaseTableMissing, LeaseUnavailable
from .lock import SurgeLock, restore_count

try:
    from botocore.exceptions import ClientError
except ImportError:  # the modules report a missing botocore through AnsibleAWSModule
    ClientError = None  # type: ignore[assignment,misc]

DEFAULT_TABLE = "taskspread-ecs-leases"
KEY = "service"
TTL_ATTRIBUTE = "expires_at"
DEFAULT_LEASE_SECONDS = 60
MIN_LEASE_SECONDS = 15
MAX_LEASE_SECONDS = 900
EXPIRY_MARGIN_SECONDS = 2.0      # Date has one-second resolution; plus a request's latency
RETENTION_SECONDS = 86400        # a released item's TTL: the fence history is kept a day
TABLE_ACTIVE_TIMEOUT = 120.0
RECORD_PREFIX = "rec_"


def validate_lease_seconds(value: float) -> float:
    if not MIN_LEASE_SECONDS <= value <= MAX_LEASE_SECONDS:
        raise ValueError(f"lease_seconds must be between {MIN_LEASE_SECONDS} and "
                         f"{MAX_LEASE_SECONDS}, got {value}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lease (what a person needs to see)."""

    owner: str
    fence: int
    since: float
    until: float

    def to_dict(self) -> dict:
        return {"owner": self.owner, "fence": self.fence, "since": round(self.since),
                "until": round(self.until)}


@dataclass(frozen=True, slots=True)
class SurgeState:
    """A surge's state, in the lease item. ``phase``: ``raising`` (written before desiredCount
    goes up: ``before`` = the count read just before, ``set`` = before + delta) or ``lowering``
    (before it comes down: ``before`` = the raised count read just before, ``set`` = the lowered
    one); ``protected``: task ARNs whose protection this run added (removed by whoever ends or
    heals the surge); ``since``/``until``: store time of the surge's start and the latest it
    may still run (its protection expires by then)."""

    phase: str
    delta: int
    before: int
    set: int
    protected: tuple[str, ...] = ()
    since: float = 0.0
    until: float = 0.0

    def to_item(self) -> dict:
        return {"M": {"phase": {"S": self.phase}, "delta": _n(self.delta),
                      "before": _n(self.before), "set": _n(self.set),
                      "protected": {"L": [{"S": a} for a in self.protected]},
                      "since": _n(self.since), "until": _n(self.until)}}

    @classmethod
    def from_item(cls, value: Mapping[str, Any]) -> "SurgeState":
        m = value.get("M", {})
        return cls(phase=m.get("phase", {}).get("S", "unknown"),
                   delta=int(float(m.get("delta", {}).get("N", "0"))),
                   before=int(float(m.get("before", {}).get("N", "-1"))),
                   set=int(float(m.get("set", {}).get("N", "-1"))),
                   protected=tuple(v["S"] for v in m.get("protected", {}).get("L", [])),
                   since=float(m.get("since", {}).get("N", "0")),
                   until=float(m.get("until", {}).get("N", "0")))

    def restore_count(self, current: int) -> int | None:
        """The desiredCount that undoes this surge given the current one, by the delta rules
        of ``lock.restore_count`` (only our own write is undone; None: leave it)."""
        return restore_count(SurgeLock(owner="", phase=self.phase, delta=self.delta,
                                       before=self.before, set=self.set, start=self.since,
                                       deadline=self.until), current)


@dataclass(slots=True)
class Lease:
    """A lease this run holds. ``inherited``: a predecessor's surge state that came with the
    claim (to heal first); ``renewed_at``: the run's own clock at the last renewal."""

    service: str
    owner: str
    fence: int
    since: float
    until: float
    inherited: SurgeState | None = None
    surge: SurgeState | None = None
    renewed_at: float = 0.0
    released: bool = False

    @property
    def holder(self) -> Holder:
        return Holder(self.owner, self.fence, self.since, self.until)


class StoreClock:
    """Time on the lease store's clock: the run's clock plus the offset measured from the
    ``Date`` header of DynamoDB's responses (the latest one seen)."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.offset = 0.0
        self.measured = False

    def observe(self, response: Mapping[str, Any]) -> None:
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        raw = headers.get("date") or headers.get("Date")
        if not raw:
            return
        try:
            stamp = email.utils.parsedate_to_datetime(raw).timestamp()
        except (TypeError, ValueError):
            return
        self.offset = stamp - self.clock()
        self.measured = True

    def now(self) -> float:
        return self.clock() + self.offset


class LeaseStore:
    """The lease table, through a client with ``call(operation, **params)`` (the engine's
    counting wrapper of a boto3 DynamoDB client)."""

    def __init__(self, api: Any, table: str = DEFAULT_TABLE, run_id: str = "",
                 clock: Callable[[], float] = time.time,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 sleep: Callable[[float], Any] = time.sleep):
        if not table:
            raise ValueError("lease_table must not be empty")
        if not run_id:
            raise ValueError("a lease needs the run's id")
        self.api, self.table, self.run_id = api, table, run_id
        self.lease_seconds = validate_lease_seconds(lease_seconds)
        self.clock = clock
        self.store_clock = StoreClock(clock)
        self.sleep = sleep

    # ------------------------------------------------------------------ table
    def ensure_table(self, create: bool) -> bool:
        """Make sure the table can be used; return whether it was created. Reads one item
        (GetItem: the one permission every user of the lease has). A missing table is created
        (on-demand, TTL on ``expires_at``, waited for until ACTIVE) when ``create``; otherwise,
        and for a missing permission, ``LeaseUnavailable`` names the table and what is
        missing."""
        try:
            self._call("get_item", TableName=self.table, Key=_key("taskspread:probe"),
                       ConsistentRead=True)
            return False
        except LeaseTableMissing:
            if not create:
                raise
        self._create_table()
        return True

    def _create_table(self) -> None:
        try:
            self._call("create_table", TableName=self.table, BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                       Tags=[{"Key": "taskspread:purpose", "Value": "rebalancer leases"}])
        except Exception as err:  # noqa: BLE001 - botocore's ClientError, classified by code
            if _code(err) != "ResourceInUseException":    # another run created it meanwhile
                raise
        started = self.clock()
        while True:
            resp = self._call("describe_table", TableName=self.table)
            if resp.get("Table", {}).get("TableStatus") == "ACTIVE":
                break
            if self.clock() - started > TABLE_ACTIVE_TIMEOUT:
                raise LeaseUnavailable(f"lease table {self.table} did not become ACTIVE "
                                       f"within {TABLE_ACTIVE_TIMEOUT:.0f} s")
            self.sleep(2)
        self._call("update_time_to_live", TableName=self.table,
                   TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})

    # ----------------------------------------------------------------- reads
    def read(self, service: str) -> dict | None:
        """The service's item (consistent read), or None."""
        resp = self._call("get_item", TableName=self.table, Key=_key(service),
                          ConsistentRead=True)
        return resp.get("Item")

    def holder(self, service: str) -> Holder | None:
        """The live holder of the service's lease (None when free or expired)."""
        item = self.read(service)
        return self._live_holder(item) if item else None

    def pending_surge(self, service: str) -> tuple[SurgeState | None, Holder | None]:
        """A surge state left in the item and its live holder (None when expired or free)."""
        item = self.read(service)
        if not item:
            return None, None
        state = SurgeState.from_item(item["surge"]) if "surge" in item else None
        return state, self._live_holder(item)

    def expired(self, until: float) -> bool:
        return self.store_clock.now() > until + EXPIRY_MARGIN_SECONDS

    def _live_holder(self, item: Mapping[str, Any]) -> Holder | None:
        owner = item.get("owner", {}).get("S", "")
        if not owner:
            return None
        holder = _holder(item)
        return None if self.expired(holder.until) else holder

    # --------------------------------------------------------------- protocol
    def acquire(self, service: str) -> Lease:
        """Claim the service's lease (compare-and-swap on the item read just before)."""
        item = self.read(service)
        if item:
            live = self._live_holder(item)
            if live is not None and live.owner != self.run_id:
                raise LeaseHeld(service, live)
        now = self.store_clock.now()
        has_surge = bool(item) and "surge" in item
        names = {"#o": "owner", "#f": "fence", "#r": "rev", "#s": "since", "#u": "until",
                 "#t": TTL_ATTRIBUTE}
        values = {":me": {"S": self.run_id}, ":zero": _n(0), ":one": _n(1), ":now": _n(now),
                  ":until": _n(now + self.lease_seconds)}
        update = ("SET #o = :me, #f = if_not_exists(#f, :zero) + :one, "
                  "#r = if_not_exists(#r, :zero) + :one, #s = :now, #u = :until")
        if has_surge:
            update += " REMOVE #t"
        else:
            update += ", #t = :ttl"
            values[":ttl"] = _n(now + self.lease_seconds + RETENTION_SECONDS)
        if item:
            condition = "#r = :seen"
            values[":seen"] = _n(int(float(item.get("rev", {}).get("N", "0"))))
        else:
            condition = "attribute_not_exists(#k)"
            names["#k"] = KEY
        try:
            resp = self._call("update_item", TableName=self.table, Key=_key(service),
                              UpdateExpression=update, ConditionExpression=condition,
                              ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                              ReturnValues="ALL_NEW", conditional=True)
        except _ConditionFailed:
            fresh = self.read(service)
            if fresh and fresh.get("owner", {}).get("S") == self.run_id:
                return self._lease_from(service, fresh)       # our own duplicate landed
            raise LeaseHeld(service, _holder(fresh) if fresh and "owner" in fresh else None,
                            f"the lease of {service} was claimed by another run between "
                            "this run's read and its claim; service left alone") from None
        return self._lease_from(service, resp["Attributes"])

    def check(self, lease: Lease) -> Lease:
        """The fence check before a write to desiredCount or protection: still ours (owner and
        fence unchanged), renewed. Raises ``LeaseLost``."""
        self._fenced(lease, "SET #u = :until, #r = #r + :one", {})
        return lease

    def keepalive(self, lease: Lease) -> None:
        """Renew (fenced) once a third of the lease has gone by on the run's clock."""
        if not lease.released and self.clock() - lease.renewed_at >= self.lease_seconds / 3:
            self.check(lease)

    def renew_interval(self) -> float:
        return self.lease_seconds / 3

    def set_surge(self, lease: Lease, state: SurgeState | None) -> None:
        """Write (or with None, clear) the surge state, fenced. While it is set the item has no
        TTL: a record that still needs healing never vanishes."""
        if state is None:
            ttl = self.store_clock.now() + self.lease_seconds + RETENTION_SECONDS
            self._fenced(lease, "SET #u = :until, #r = #r + :one, #t = :ttl REMOVE surge",
                         {":ttl": _n(ttl)}, ttl=True)
        else:
            self._fenced(lease, "SET #u = :until, #r = #r + :one, surge = :surge REMOVE #t",
                         {":surge": state.to_item()}, ttl=True)
        lease.surge = state
        if state is None:
            lease.inherited = None

    def release(self, lease: Lease, records: Mapping[str, Any] | None = None) -> None:
        """Give the lease up (fenced): owner removed, fence and records kept; the item gets its
        TTL unless a surge state is left in it (to be healed by the next holder). ``records``:
        per-service records (name -> JSON value) written in the same conditional write."""
        if lease.released:
            return
        now = self.store_clock.now()
        pending = lease.surge is not None or lease.inherited is not None
        sets = ["#r = #r + :one", "#u = :now"]
        values = {":now": _n(now)}
        if not pending:
            sets.append("#t = :ttl")
            values[":ttl"] = _n(now + RETENTION_SECONDS)
        names = {}
        for i, (name, value) in enumerate(sorted((records or {}).items())):
            names[f"#rec{i}"] = RECORD_PREFIX + _record_name(name)
            values[f":rec{i}"] = {"S": json.dumps(value, sort_keys=True)}
            sets.append(f"#rec{i} = :rec{i}")
        self._fenced(lease, "SET " + ", ".join(sets) + " REMOVE #o", values, ttl=not pending,
                     renew=False, extra_names=names)
        lease.released = True

    # ---------------------------------------------------------------- records
    def get_record(self, service: str, name: str) -> Any:
        """A per-service record (any JSON value) another part of the engine stored; None."""
        return record_of(self.read(service) or {}, name)

    def now(self) -> float:
        """Now on the store's clock (the clock ``until`` and the records' times use)."""
        return self.store_clock.now()

    def live_holder(self, item: Mapping[str, Any] | None) -> Holder | None:
        """The live holder named in an item ``read`` returned (None: free or expired)."""
        return self._live_holder(item) if item else None

    def put_record(self, lease: Lease, name: str, value: Any) -> None:
        """Store a per-service record under the caller's lease (fence checked; ``LeaseLost``
        when it is no longer ours); None deletes it."""
        attr = RECORD_PREFIX + _record_name(name)
        if value is None:
            self._fenced(lease, "SET #u = :until, #r = #r + :one REMOVE #rec", {},
                         extra_names={"#rec": attr})
        else:
            self._fenced(lease, "SET #u = :until, #r = #r + :one, #rec = :rec",
                         {":rec": {"S": json.dumps(value, sort_keys=True)}},
                         extra_names={"#rec": attr})

    # --------------------------------------------------------------- plumbing
    def _fenced(self, lease: Lease, update: str, values: dict, ttl: bool = False,
                renew: bool = True, extra_names: Mapping[str, str] | None = None) -> None:
        if lease.released:
            raise LeaseLost(f"the lease of {lease.service} was released by this run already")
        now = self.store_clock.now()
        names = {"#o": "owner", "#f": "fence", "#r": "rev", **(extra_names or {})}
        if "#u" in update:
            names["#u"] = "until"
        if ttl:
            names["#t"] = TTL_ATTRIBUTE
        vals = {":me": {"S": lease.owner}, ":fence": _n(lease.fence), ":one": _n(1), **values}
        if renew:
            vals[":until"] = _n(now + self.lease_seconds)
        try:
            self._call("update_item", TableName=self.table, Key=_key(lease.service),
                       UpdateExpression=update,
                       ConditionExpression="#o = :me AND #f = :fence",
                       ExpressionAttributeNames=names, ExpressionAttributeValues=vals,
                       conditional=True)
        except _ConditionFailed:
            fresh = self.read(lease.service)
            now_holder = (_holder(fresh).to_dict() if fresh and "owner" in fresh
                          else "nobody (the item was released or deleted)")
            raise LeaseLost(f"lease of {lease.service} lost: this run held fence {lease.fence}, "
                            f"the item now names {now_holder}; nothing more is written to the "
                            "service by this run") from None
        if renew:
            lease.until = now + self.lease_seconds
        lease.renewed_at = self.clock()

    def _lease_from(self, service: str, item: Mapping[str, Any]) -> Lease:
        holder = _holder(item)
        state = SurgeState.from_item(item["surge"]) if "surge" in item else None
        return Lease(service=service, owner=holder.owner, fence=holder.fence,
                     since=holder.since, until=holder.until, inherited=state,
                     renewed_at=self.clock())

    def _call(self, operation: str, conditional: bool = False, **params: Any) -> dict:
        try:
            resp = self.api.call(operation, **params)
        except Exception as err:  # botocore's ClientError, classified below
            code = _code(err)
            if code is None:
                raise
            if conditional and code == "ConditionalCheckFailedException":
                raise _ConditionFailed() from err
            if code == "ResourceNotFoundException":
                raise LeaseTableMissing(
                    f"lease table {self.table} does not exist: create it (the rebalancer role "
                    "does, and the rebalance module does when its credentials may "
                    "dynamodb:CreateTable), or name an existing one with lease_table") from err
            if code in ("AccessDeniedException", "UnrecognizedClientException",
                        "AccessDenied"):
                raise LeaseUnavailable(
                    f"no lease can be had: the caller may not dynamodb:{_api_name(operation)} "
                    f"on lease table {self.table} ({err})") from err
            raise
        self.store_clock.observe(resp)
        return resp


def record_of(item: Mapping[str, Any], name: str) -> Any:
    """The per-service record ``name`` in an item ``LeaseStore.read`` returned; None (also
    for a value that is not JSON: a record is advice, never a reason to fail)."""
    raw = item.get(RECORD_PREFIX + _record_name(name), {}).get("S")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class _ConditionFailed(Exception):
    """A conditional write's condition did not hold (internal)."""


def _code(err: BaseException | None) -> str | None:
    if err is None or ClientError is None or not isinstance(err, ClientError):
        return None
    return err.response.get("Error", {}).get("Code", "")


def _api_name(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def _record_name(name: str) -> str:
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"record name must be letters, digits and _, got {name!r}")
    return name


def _key(service: str) -> dict:
    return {KEY: {"S": service}}


def _n(value: float) -> dict:
    return {"N": str(int(value)) if float(value).is_integer() else f"{value:.3f}"}


def _holder(item: Mapping[str, Any]) -> Holder:
    return Holder(owner=item.get("owner", {}).get("S", ""),
                  fence=int(float(item.get("fence", {}).get("N", "0"))),
                  since=float(item.get("since", {}).get("N", "0")),
                  until=float(item.get("until", {}).get("N", "0")))


__all__ = ["DEFAULT_LEASE_SECONDS", "DEFAULT_TABLE", "Holder", "Lease", "LeaseStore",
           "StoreClock", "SurgeState", "record_of", "validate_lease_seconds"]
