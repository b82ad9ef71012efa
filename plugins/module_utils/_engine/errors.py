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


class SurgeAbandoned(EngineError):
    """A surge could not finish (deadline, ECS refused); it was undone as far as was safe."""


__all__ = ["ClusterNotFound", "EngineError", "ExpressionError", "LeaseError", "LeaseHeld",
           "LeaseLost", "LeaseTableMissing", "LeaseUnavailable", "ProtectionFailed",
           "SettleTimeout", "SurgeAbandoned", "UnknownServices", "UnsupportedExpression"]
