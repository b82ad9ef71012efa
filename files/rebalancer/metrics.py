"""CloudWatch metrics of one rebalancer run, as Embedded Metric Format (EMF) documents. Pure.

``documents(summary, ...)`` takes a run's result (``RebalanceResult.to_dict()``; None when the
run failed before it had one) and returns the EMF documents the handler prints, one JSON line
each. CloudWatch Logs turns every such line of the function's log into metric data points: the
function needs no ``cloudwatch:PutMetricData`` permission and makes no extra API call.

What is measured (README "Metrics" has the table):

* always, one document per run with dimension ``Cluster``: ``ServicesOutOfBalance``,
  ``MaxAzSkew``, ``MaxInstanceSkew``, ``TasksMoved``, ``MovesPlanned``, ``Refusals``,
  ``ApiCalls``, ``ApiRetries`` (throttles and transient errors botocore absorbed), ``RunErrors``;
* always, one document per refusal code seen in the run with dimensions ``Cluster, Reason``:
  ``Refusals`` (the codes are a fixed set, so the cardinality is bounded);
* only with ``per_service`` (one metric per service: CloudWatch bills per metric), one document
  per measured service with dimensions ``Cluster, Service``: ``AzSkew``, ``InstanceSkew``,
  ``OutOfBalance``, ``TasksMoved``.

The skews are the distribution this run read, before its own moves (the Lambda makes one step
and does not wait for it to settle; the next run measures the result). A service whose tasks
were not measured (no task counted on an EC2 instance: FARGATE, EXTERNAL, or no task at all)
is left out.

Why no library: aws-embedded-metrics (PyPI) would have to ship inside the function's zip,
which holds only this package and the engine (the role packages no third-party code); its
logger detects the environment, adds default dimensions (LogGroup, ServiceName, ServiceType)
unless told not to and flushes through asyncio, where this needs a pure "result in, documents
out" function the unit tests can pin exactly. EMF itself is a small JSON format documented by
AWS ("Specification: Embedded metric format").
"""

from __future__ import annotations

from collections import Counter
from typing import Any

try:  # inside the Lambda zip the engine ships as a top-level package
    from taskspread_engine import AZ_ATTRIBUTE, INSTANCE_LEVEL, Reason
except ImportError:  # in the collection's checkout (unit tests)
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
        AZ_ATTRIBUTE, INSTANCE_LEVEL, Reason)

COUNT = "Count"
CLUSTER_METRICS = ("ServicesOutOfBalance", "MaxAzSkew", "MaxInstanceSkew", "TasksMoved",
                   "MovesPlanned", "Refusals", "ApiCalls", "ApiRetries", "RunErrors")
SERVICE_METRICS = ("AzSkew", "InstanceSkew", "OutOfBalance", "TasksMoved")
AZ_LEVEL = f"attribute:{AZ_ATTRIBUTE}"

# How a service is configured, not something the rebalancer refused: never counted as a
# refusal (an opted-out service would otherwise raise the refusals alarm on every run).
CONFIGURATION_SKIPS = frozenset((
    Reason.OPTED_OUT, Reason.DAEMON, Reason.DEPLOYMENT_CONTROLLER, Reason.UNSUPPORTED_STRATEGY,
    Reason.TOO_FEW_TASKS, Reason.UNSUPPORTED_CONSTRAINT, Reason.SINGLE_DOMAIN, Reason.NOT_EC2,
))


def _document(namespace: str, timestamp_ms: int, dimensions: dict[str, str],
              metrics: dict[str, int]) -> dict[str, Any]:
    """One EMF document: one directive, one dimension set (the members of ``dimensions``)."""
    return {"_aws": {"Timestamp": int(timestamp_ms),
                     "CloudWatchMetrics": [{
                         "Namespace": namespace,
                         "Dimensions": [list(dimensions)],
                         "Metrics": [{"Name": name, "Unit": COUNT} for name in metrics]}]},
            **dimensions, **metrics}


def _measured(entry: dict) -> bool:
    """Tasks counted on EC2 instances (not FARGATE/EXTERNAL, not a service with none)."""
    return any((entry.get("azs") or {}).values())


def _skew(entry: dict, level: str) -> int:
    return int((entry.get("skew") or {}).get(level, 0))


def _out_of_balance(entry: dict) -> bool:
    """The engine's own verdict (levels ECS owns are not held against it)."""
    return _measured(entry) and not entry.get("balanced", False)


def refusal_codes(summary: dict) -> Counter:
    """Services per code the run left out of balance for a reason other than configuration."""
    return Counter(s["code"] for s in summary.get("skipped") or []
                   if s.get("code") and s["code"] not in CONFIGURATION_SKIPS)


def documents(summary: dict | None, *, cluster: str, namespace: str, timestamp_ms: int,
              dry_run: bool = False, per_service: bool = False) -> list[dict[str, Any]]:
    """The EMF documents of one run. ``summary``: ``RebalanceResult.to_dict()``, or None when
    the run ended in an error before reading the cluster (only ``RunErrors`` = 1 then)."""
    if summary is None:
        return [_document(namespace, timestamp_ms, {"Cluster": cluster},
                          {"RunErrors": 1})]
    services: dict[str, dict] = summary.get("before") or {}
    measured = {name: e for name, e in services.items() if _measured(e)}
    if dry_run:
        moved: Counter = Counter()
    elif "move_summary" in summary:       # the default result: moves counted per service
        moved = Counter({e["service"]: int(e["moves"]) for e in summary["move_summary"]})
    else:                                 # a result that lists every move
        moved = Counter(m["service"] for m in summary.get("moves") or [])
    refusals = refusal_codes(summary)
    out = [_document(namespace, timestamp_ms, {"Cluster": cluster}, {
        "ServicesOutOfBalance": sum(1 for e in measured.values() if _out_of_balance(e)),
        "MaxAzSkew": max((_skew(e, AZ_LEVEL) for e in measured.values()), default=0),
        "MaxInstanceSkew": max((_skew(e, INSTANCE_LEVEL) for e in measured.values()),
                               default=0),
        "TasksMoved": sum(moved.values()),
        "MovesPlanned": int((summary.get("plan") or {}).get("moves_planned", 0)),
        "Refusals": sum(refusals.values()),
        "ApiCalls": int(summary.get("api_calls", 0)),
        "ApiRetries": int(summary.get("api_retries", 0)),
        "RunErrors": 1 if summary.get("error") else 0,
    })]
    out.extend(_document(namespace, timestamp_ms, {"Cluster": cluster, "Reason": code},
                         {"Refusals": count})
               for code, count in sorted(refusals.items()))
    if per_service:
        out.extend(_document(namespace, timestamp_ms, {"Cluster": cluster, "Service": name}, {
            "AzSkew": _skew(entry, AZ_LEVEL),
            "InstanceSkew": _skew(entry, INSTANCE_LEVEL),
            "OutOfBalance": 1 if _out_of_balance(entry) else 0,
            "TasksMoved": moved.get(name, 0),
        }) for name, entry in sorted(measured.items()))
    return out
