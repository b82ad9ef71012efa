"""Every error the engine raises on purpose, under one base class ``EngineError``.

Imports nothing: the bottom of the engine. Callers catch ``EngineError`` (or one subclass);
boto3/botocore errors are not wrapped and propagate as they are.
"""

from __future__ import annotations


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


class LockLost(EngineError):
    """Another run holds the service's surge lock (seen before our write, or it wrote after
    us); this run leaves the service alone."""


__all__ = ["ClusterNotFound", "EngineError", "ExpressionError", "LockLost", "ProtectionFailed",
           "SettleTimeout", "UnknownServices", "UnsupportedExpression"]
