"""The no-progress breaker: a step that did not help is not repeated while its cause stands.

Pure. The evictor asks ``verdict`` before it grants a service anything; the executor stores
the ``Record`` of every step it completes in the service's lease item (``lease.py``'s per-service
records, written with the release: no extra call), so the record survives every task of the
service and every run, and tools that manage the service's tags never see it.

What a record holds:

* ``cause``: a digest of what made the step move, as far as this service's world goes: the
  instances of its pool (the ones ECS may place its tasks on: ACTIVE, agent connected, meeting
  its memberOf constraints; by ARN and AZ), its desired count, task definition,
  minimumHealthyPercent and maximumPercent, and the run's ``max_skew``. Instances outside the
  pool, other services and their tasks are not part of it: a change there does not re-arm the
  breaker. The service's own per-instance task counts are not part of it either: they are what
  the step changes (a ``redeploy`` turns 4/0 into 0/4), so they are measured, not keyed on;
* ``need``: the moves the planner said the service needed when the step started;
* ``at``: when the step ended, on the lease store's clock; ``run``, ``mode``, ``moves``: what
  it was (shown in the refusal and by ``task_distribution_info``).

The breaker trips when the service's cause is the record's and the planner now needs at least
as many moves as the step started from: the step (stop, surge or redeploy) did not reduce the
imbalance, and nothing it depended on changed. It re-arms when the cause changes (an instance
joins, drains or leaves the pool, desiredCount or the task definition changes), when a step
makes progress (the next step writes a new record), or ``no_progress_minutes`` after the step,
whichever comes first: a cause the digest cannot see (free CPU left by another service, an
attribute a constraint does not name) gets its retry then, and a futile step is repeated at
most once per ``no_progress_minutes``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Mapping

from .candidates import CandidateIndex, Constraints, service_constraints
from .model import ClusterSnapshot

RECORD = "no_progress"          # the record's name in the lease item (``rec_no_progress``)
# An hour: events and the schedule trigger the rebalancer far more often than that, so the
# breaker is what bounds a futile step (at most 24 a day, each at most max_moves restarts),
# while a cause the digest cannot see (capacity another service frees) is retried within the
# hour instead of the next day.
DEFAULT_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Cause:
    """What a step on a service depended on: ``digest`` to compare, ``pool`` and ``desired``
    to say it in words."""

    digest: str
    pool: int
    desired: int


@dataclass(frozen=True, slots=True)
class Record:
    cause: str
    need: int
    at: float
    run: str = ""
    mode: str = ""
    moves: int = 0

    def to_value(self) -> dict:
        return {"cause": self.cause, "need": self.need, "at": round(self.at, 3),
                "run": self.run, "mode": self.mode, "moves": self.moves}

    @classmethod
    def from_value(cls, value: Any) -> "Record | None":
        """A stored record; None for a missing or unreadable one (which never trips)."""
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(cause=str(value["cause"]), need=int(value["need"]),
                       at=float(value["at"]), run=str(value.get("run", "")),
                       mode=str(value.get("mode", "")), moves=int(value.get("moves", 0)))
        except (KeyError, TypeError, ValueError):
            return None

    def rearms_at(self, minutes: float) -> float:
        return self.at + minutes * 60


def cause_of(snapshot: ClusterSnapshot, name: str, max_skew: int,
             index: CandidateIndex | None = None,
             pools: dict[tuple[str, ...], tuple[str, int]] | None = None) -> Cause:
    """The cause of a step on service ``name`` in ``snapshot`` (see the module docstring).
    ``index`` (a ``CandidateIndex`` of the snapshot) and ``pools`` (pool digests by memberOf
    expressions) may be shared between the services of one decision."""
    service = snapshot.services[name]
    index = index or CandidateIndex(snapshot)
    constraints = service_constraints(service)
    member_of = constraints.member_of if isinstance(constraints, Constraints) else ()
    pools = {} if pools is None else pools
    if member_of not in pools:
        pool = index.candidates(member_of)
        if not isinstance(pool, list):      # memberOf not understood: every accepting one
            pool = index.accepting
        pools[member_of] = (_digest(sorted(f"{i.arn} {i.az}" for i in pool)), len(pool))
    pool_digest, size = pools[member_of]
    digest = _digest([pool_digest, f"desired={service.desired}",
                      f"td={service.task_definition}", f"min={service.min_healthy_percent}",
                      f"max={service.max_percent}", f"skew={max_skew}"])
    return Cause(digest, size, service.desired)


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def holds(record: Record | None, cause: Cause, need: int | None, now: float,
          minutes: float) -> bool:
    """Whether the breaker holds the service now (``need`` None: not known, then only the
    cause and the time decide)."""
    return (record is not None and record.cause == cause.digest
            and (need is None or need >= record.need) and now < record.rearms_at(minutes))


def verdict(record: Record | None, cause: Cause, need: int, now: float,
            minutes: float) -> str:
    """Why the service is not to be acted on now ('' when it may be): the refusal's message,
    saying since when, why, and when the breaker re-arms."""
    if record is None or not holds(record, cause, need, now, minutes):
        return ""
    return (f"no progress: the {record.mode or 'last'} step of run {record.run or '?'} "
            f"({record.moves} move(s), ended {_when(record.at)}) started from {record.need} "
            f"move(s) needed and {need} are needed now, with the same {cause.pool} "
            f"instance(s) in the service's pool, desiredCount {cause.desired}, task definition "
            "and health percents; not repeated since then. It re-arms when one of those "
            f"changes, or at {_when(record.rearms_at(minutes))} "
            f"(no_progress_minutes={minutes:g})")


def view(record: Record | None, cause: Cause, need: int | None, now: float,
         minutes: float) -> dict | None:
    """The record as ``task_distribution_info`` shows it: the step, since when, when it
    re-arms, whether the cause is unchanged and whether the breaker holds the service now."""
    if record is None:
        return None
    return {**record.to_value(), "since": _when(record.at),
            "rearms_at": _when(record.rearms_at(minutes)),
            "cause_unchanged": record.cause == cause.digest,
            "holding": holds(record, cause, need, now, minutes)}


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


__all__ = ["DEFAULT_MINUTES", "RECORD", "Cause", "Record", "cause_of", "holds", "verdict",
           "view"]
