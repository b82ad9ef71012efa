"""Every error the engine raises on purpose, under one base class ``EngineError``.

Imports nothing: the bottom of the engine. Callers catch ``EngineError`` (or one subclass);
boto3/botocore errors are not wrapped and propagate as they are.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class ClusterNotFound(EngineError):
    """The cluster does not exist (or is INACTIVE)."""

    def __init__(self, cluster: str):
        super().__init__(f"ECS cluster {cluster!r} not found")
        self.cluster = cluster


class UnknownServices(EngineError):
    """Service names the caller asked for that do not exist (or are INACTIVE) in the cluster."""

    def __init__(self, cluster: str, names: tuple[str, ...]):
        listed = ", ".join(sorted(names))
        super().__init__(f"unknown service(s) in cluster {cluster!r}: {listed}")
        self.cluster = cluster
        self.names = tuple(sorted(names))


class ExpressionError(EngineError):
    """The expression is not valid cluster query language."""


class UnsupportedExpression(ExpressionError):
    """Valid, but uses something this evaluator cannot judge (e.g. ``task:group``)."""


class ProtectionFailed(EngineError):
    """UpdateTaskProtection reported failures for some tasks."""


class SettleTimeout(EngineError):
    """A service did not settle before the run's deadline."""


class LeaseError(EngineError):
    """Base of the lease's errors."""


class LeaseHeld(LeaseError):
    """Another run holds the service's lease; this run leaves the service alone."""

    def __init__(self, service: str, holder: Any = None, message: str = ""):
        """``holder``: the lease's holder (``lease.Holder``), when known."""
        self.service, self.holder = service, holder
        who = (f"run {holder.owner} (fence {holder.fence}) until {holder.until:.0f}"
               if holder is not None else "another run")
        super().__init__(message or f"the lease of {service} is held by {who}; "
                                    "service left alone")


class LeaseLost(LeaseError):
    """This run's lease was taken over or deleted: its fence check failed; it stops writing."""


class LeaseUnavailable(LeaseError):
    """No lease can be had: the table is missing, or a permission on it is."""


class LeaseTableMissing(LeaseUnavailable):
    """The lease table does not exist (``ensure_table`` may create it)."""


class ReadTooSlow(EngineError):
    """The run's read of the cluster, paced at ``api_read_rate``, would outlast its deadline:
    refused before reading the tasks, so a run that cannot finish its read never starts it
    (a Lambda killed by its timeout mid-read would spend the account's read bucket for no
    decision, on every trigger)."""

    def __init__(self, tasks: int, calls: int, seconds: float, left: float, rate: float):
        self.tasks, self.calls, self.seconds, self.left = tasks, calls, seconds, left
        super().__init__(
            f"reading {tasks} task(s) takes {calls} more ECS read(s), about {seconds:.0f} s at "
            f"api_read_rate {rate:g}/s, and the run has {left:.0f} s left; nothing was "
            "changed. Give the run more time (wait_timeout; the rebalancer role's "
            "rebalancer_timeout, at most 900 s) or a higher api_read_rate (at most 20), or "
            "name the services to decide about")


class SurgeAbandoned(EngineError):
    """A surge could not finish (deadline, ECS refused); it was undone as far as was safe.
    ``failures``: ECS's per-task failures when a call reported them (``arn``, ``reason``)."""

    def __init__(self, message: str, failures: tuple[dict, ...] = ()):
        super().__init__(message)
        self.failures = tuple(failures)


class TasksVanished(SurgeAbandoned):
    """Tasks the step counted on are gone (stopped by someone else, or by ECS): ECS answered
    ``TASK_NOT_VALID`` or ``MISSING`` for them, or StopTask found them already stopped. What
    the step had done was undone as for any abandoned step; the runner re-reads the service
    and plans it again (a bounded number of times per run)."""

    GONE_REASONS = ("TASK_NOT_VALID", "MISSING")

    @classmethod
    def applies(cls, failures: tuple[dict, ...] | list[dict]) -> bool:
        """Whether every failure says the task is gone (not, e.g., an access problem)."""
        return bool(failures) and all(f.get("reason") in cls.GONE_REASONS for f in failures)


__all__ = ["ClusterNotFound", "EngineError", "ExpressionError", "LeaseError", "LeaseHeld",
           "LeaseLost", "LeaseTableMissing", "LeaseUnavailable", "ProtectionFailed",
           "ReadTooSlow", "SettleTimeout", "SurgeAbandoned", "TasksVanished", "UnknownServices",
           "UnsupportedExpression"]
