"""The surge tag of earlier versions and its delta rules. Pure.

Since the lease (``lease.py``) a surge's lock and state live in a DynamoDB item, never in the
service's tags (ECS tags have no conditional write). What follows describes the tag earlier
versions wrote: a run still heals one it finds (by ``restore_count``, once its deadline has
passed) and removes it, and ``restore_count``'s delta rules are the ones the lease's surge state
uses too (``lease.SurgeState.restore_count``).

A surge raises a service's desiredCount for a while. Whatever else happens (a Lambda killed at
its timeout, two runs at once, an autoscaler or a person changing desiredCount meanwhile), the
service must end at what *others* set, and nothing this run added may outlive it. So the surge
is a lock written on the service BEFORE desiredCount changes:

``taskspread:surge = "v2 owner=<run> phase=<raising|lowering> delta=<k> before=<n> set=<n>
start=<epoch> deadline=<epoch>"``

* ``owner``: the run that holds it; another run never overwrites it and skips the service
  ("surge in progress") until ``deadline``.
* ``delta``: how much this run added. The restore takes the delta off the desiredCount read
  just before lowering, and only when that count is still the one this run wrote: a count
  someone else wrote meanwhile (desiredCount is absolute: a person's UpdateService, Service
  Auto Scaling) stands as they set it. Never an absolute value read earlier.
* ``phase``: ``claimed`` (delta 0) takes the lock; ``raising`` is written before desiredCount goes up (``before`` = the count read
  just before, ``set`` = before + delta), ``lowering`` before it comes down (``before`` = the
  count read just before lowering, ``set`` = that minus delta). A run killed between the tag
  and the UpdateService leaves a phase whose ``before``/``set`` tell a later run whether the
  update happened (see ``restore_count``).
* ``deadline``: the run's own deadline for the surge. The protection the surge adds expires by
  then (its expiry is computed from it), so a killed run leaves nothing that outlives the lock;
  a later run heals a lock only once its deadline has passed.

ECS tag values allow letters, digits, spaces and ``+ - = . _ : / @``; this format uses only
those. Tags are the one durable store a run has on ECS: no table, no extra permissions.

Earlier versions also kept the no-progress breaker's record as a task tag
(``taskspread:last-step``); it lives in the lease item now (``breaker.py``) and such a tag is
ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

SURGE_TAG = "taskspread:surge"
CLAIMED = "claimed"     # written first, delta 0: nothing to undo yet
RAISING = "raising"
LOWERING = "lowering"


@dataclass(frozen=True, slots=True)
class SurgeLock:
    owner: str
    phase: str
    delta: int
    before: int
    set: int
    start: float
    deadline: float

    def to_tag(self) -> str:
        return (f"v2 owner={self.owner} phase={self.phase} delta={self.delta} "
                f"before={self.before} set={self.set} start={self.start:.0f} "
                f"deadline={self.deadline:.0f}")

    @classmethod
    def from_tag(cls, value: str) -> "SurgeLock":
        """Parse a lock; a legacy ``"<desired>@<epoch>"`` tag (0.1 pre-releases) or an
        unreadable one becomes a lock without owner whose deadline has long passed, which a
        run heals without changing desiredCount (its delta is unknown, so 0)."""
        fields = _fields(value)
        try:
            return cls(owner=fields["owner"], phase=fields["phase"], delta=int(fields["delta"]),
                       before=int(fields["before"]), set=int(fields["set"]),
                       start=float(fields["start"]), deadline=float(fields["deadline"]))
        except (KeyError, ValueError):
            return cls(owner="", phase="unknown", delta=0, before=-1, set=-1, start=0.0,
                       deadline=0.0)

    def held_by_other(self, run_id: str, now: float) -> bool:
        return self.owner != run_id and now < self.deadline


def restore_count(lock: SurgeLock, current: int) -> int | None:
    """The desiredCount that undoes an abandoned surge, given the current one; None when
    nothing is to be changed (only the tag is removed).

    Only our own write is ever undone. ``raising``: the count is still ``before`` (the raise
    never happened): nothing to undo; it is ``set`` (ours, untouched): the delta comes off.
    ``lowering``: it is ``set`` (the lowering happened): nothing; it is ``before`` (the raised
    count read just before lowering): the delta comes off. Any other count was written by
    someone else after us (a person's UpdateService, Service Auto Scaling): desiredCount is an
    absolute value, so theirs stands and only the tag goes. (Someone writing exactly the value
    we wrote cannot be told apart from us; see the README.)
    """
    if lock.delta <= 0:
        return None
    if lock.phase == RAISING:
        return max(0, current - lock.delta) if current == lock.set else None
    if lock.phase == LOWERING:
        return max(0, current - lock.delta) if current == lock.before else None
    return None


def _fields(value: str) -> dict[str, str]:
    """``"v<n> key=value key=value ..."`` -> {key: value}."""
    return dict(part.split("=", 1) for part in value.split()[1:] if "=" in part)
