"""The function's configuration, read once from its environment into a typed object."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

try:  # inside the Lambda zip the engine ships as a top-level package
    from taskspread_engine import bounds
    from taskspread_engine.aws_client import DEFAULT_READ_RATE, check_read_rate
except ImportError:  # in the collection's checkout (unit tests)
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine import bounds
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
        DEFAULT_READ_RATE, check_read_rate,
    )

STRATEGIES = ("auto", "stop", "surge", "redeploy")
DEFAULT_NAMESPACE = "TaskSpread/ECS"
# CloudWatch namespaces: 1-255 of these characters, and "AWS/" is reserved for AWS services.
_NAMESPACE = re.compile(r"[0-9A-Za-z.\-_/#: ]{1,255}")


class ConfigError(ValueError):
    """The function's environment is wrong; the message names the variable."""


@dataclass(frozen=True)
class Config:
    cluster: str
    strategy: str = "auto"
    max_skew: int = 1
    max_moves: int | None = None
    max_moves_per_az: int | None = None
    dry_run: bool = False
    region: str | None = None
    # CloudWatch Embedded Metric Format lines (metrics.py); None: no metrics.
    metrics_namespace: str | None = DEFAULT_NAMESPACE
    metrics_per_service: bool = False
    lease_table: str = "taskspread-ecs-leases"
    api_read_rate: float = DEFAULT_READ_RATE
    no_progress_minutes: int = 60       # the engine's breaker.DEFAULT_MINUTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        cluster = env.get("TASKSPREAD_CLUSTER", "").strip()
        if not cluster:
            raise ConfigError("TASKSPREAD_CLUSTER is not set")
        strategy = env.get("TASKSPREAD_STRATEGY", "auto").strip() or "auto"
        if strategy not in STRATEGIES:
            raise ConfigError(f"TASKSPREAD_STRATEGY must be one of {', '.join(STRATEGIES)}, "
                              f"got {strategy!r}")
        return cls(cluster=cluster, strategy=strategy,
                   max_skew=_bounded_int(env, "TASKSPREAD_MAX_SKEW", "max_skew", 1),
                   max_moves=_bounded_int(env, "TASKSPREAD_MAX_MOVES", "max_moves", None),
                   max_moves_per_az=_bounded_int(env, "TASKSPREAD_MAX_MOVES_PER_AZ",
                                                 "max_moves_per_az", None),
                   dry_run=_bool(env, "TASKSPREAD_DRY_RUN"),
                   region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
                   api_read_rate=_rate(env, "TASKSPREAD_API_READ_RATE", DEFAULT_READ_RATE),
                   metrics_namespace=(_namespace(env) if _bool(env, "TASKSPREAD_METRICS", True)
                                      else None),
                   metrics_per_service=_bool(env, "TASKSPREAD_METRICS_PER_SERVICE"),
                   lease_table=env.get("TASKSPREAD_LEASE_TABLE", "").strip()
                   or "taskspread-ecs-leases",
                   no_progress_minutes=_bounded_int(env, "TASKSPREAD_NO_PROGRESS_MINUTES",
                                                    "no_progress_minutes", 60))


def _namespace(env: Mapping[str, str]) -> str:
    name = "TASKSPREAD_METRICS_NAMESPACE"
    value = env.get(name, "").strip() or DEFAULT_NAMESPACE
    if not _NAMESPACE.fullmatch(value) or value.startswith("AWS/"):
        raise ConfigError(f"{name} must be 1-255 letters, digits or . - _ / # : and space, "
                          f"not starting with AWS/, got {value!r}")
    return value


def _bounded_int(env: Mapping[str, str], name: str, option: str,
                 default: int | None) -> int | None:
    """A whole number in the range of the engine's ``option`` (``bounds.BOUNDS``)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if len(raw) > 20:       # int() of thousands of digits is slow, and far out of range
        raise ConfigError(f"{name} must be {bounds.describe(option)}, got a {len(raw)}-digit "
                          "value")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    try:
        return bounds.check(option, value, label=name)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    """Requests per second, within the engine's bounds (``check_read_rate``)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return check_read_rate(float(raw))
    except ValueError as err:
        raise ConfigError(f"{name}: {err}" if "api_read_rate" in str(err) else
                          f"{name} must be a number of requests per second, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
