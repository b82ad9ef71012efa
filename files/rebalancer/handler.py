"""Lambda entry point (``rebalancer.handler.handler``): a thin gate, then one engine step.

Every line it logs is one JSON object (``event`` says what it is), so CloudWatch Logs Insights
and ``FilterLogEvents`` can find "what triggered it, the skew before, the moves made or why
nothing was done". After each step it also prints the run's CloudWatch Embedded Metric Format
documents (``metrics.py``), which CloudWatch Logs turns into metrics.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

from . import metrics
from .batch import decide_batch, is_sqs_batch
from .config import Config, ConfigError
from .gate import decide

try:  # inside the Lambda zip the engine ships as a top-level package
    import taskspread_engine as engine
except ImportError:  # in the collection's checkout (unit tests)
    from ansible_collections.taskspread.ecs.plugins.module_utils import _engine as engine
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine import runner as _runner
else:
    from taskspread_engine import runner as _runner

_CONFIG: Config | None = None
SAFETY_MARGIN_SECONDS = 15


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, sort_keys=True, default=str), file=sys.stdout,
          flush=True)


def emit_metrics(cfg: Config, summary: dict | None) -> None:
    """One EMF document per line (no ``event`` member: the documents are exactly metrics')."""
    if cfg.metrics_namespace is None:
        return
    for document in metrics.documents(summary, cluster=cfg.cluster,
                                      namespace=cfg.metrics_namespace,
                                      timestamp_ms=int(time.time() * 1000),
                                      dry_run=cfg.dry_run,
                                      per_service=cfg.metrics_per_service):
        print(json.dumps(document, sort_keys=True), file=sys.stdout, flush=True)


def config() -> Config:
    """The environment is read once per container, not once per event."""
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = Config.from_env()
    return _CONFIG


def clients(cfg: Config):
    """ECS; ELBv2, so load-balanced tasks count as healthy only once their targets are;
    Application Auto Scaling, so a surge never restores below the service's MinCapacity;
    DynamoDB, the lease table (the role created it: the function may only read and write
    items, never create it)."""
    import boto3

    return (boto3.client("ecs", region_name=cfg.region, config=engine.client_config()),
            boto3.client("elbv2", region_name=cfg.region, config=engine.client_config()),
            boto3.client("application-autoscaling", region_name=cfg.region,
                         config=engine.client_config()),
            boto3.client("dynamodb", region_name=cfg.region, config=engine.client_config()))


def timers():
    """The engine's sleep and clock (its read pacing and waits); tests drive a manual clock."""
    return time.sleep, time.time


class BatchFailed(RuntimeError):
    """Raised for an SQS batch that could not be decided, so Lambda returns every message to
    the queue: it is received again after the visibility timeout and, after maxReceiveCount
    receives, moved to the dead-letter queue, where someone sees it."""


def handler(event: Any, context: Any = None) -> dict:
    sqs = is_sqs_batch(event)
    try:
        cfg = config()
    except ConfigError as err:
        log("config_error", error=str(err))
        if sqs:
            raise BatchFailed(f"configuration error: {err}") from None
        return {"status": "error", "reason": str(err)}
    if sqs:
        return handle_batch(cfg, event, context)
    verdict = decide(event, cfg.cluster)
    log("triggered", trigger=verdict.trigger, act=verdict.act, reason=verdict.reason,
        cluster=cfg.cluster, dry_run=cfg.dry_run)
    if not verdict.act:
        return {"status": "ignored", "reason": verdict.reason}
    services = [verdict.service] if verdict.service else None
    return step(cfg, remaining_seconds(context), services=services, reason=verdict.reason)


def handle_batch(cfg: Config, event: dict, context: Any) -> dict:
    """One decision for the whole batch, whatever number of events it holds.

    Partial batch responses (ReportBatchItemFailures) are not used: the batch's events do not
    succeed or fail one by one, they share one engine run. A failed run raises, so the whole
    batch comes back and its retry is again one decision (the engine is level-triggered: a
    retry re-reads the cluster and is safe after any partial step). Re-delivering the events
    the gate ignored costs nothing: the gate answers them without an AWS call.
    """
    batch = decide_batch(event, cfg.cluster)
    log("triggered", trigger="sqs_batch", act=batch.act, reason=batch.reason,
        cluster=cfg.cluster, dry_run=cfg.dry_run, batch_events=batch.events,
        acted=[g.to_log() for g in batch.acted], ignored=len(batch.ignored),
        scope="cluster" if batch.whole_cluster else "services",
        services=batch.services)
    if not batch.act:
        return {"status": "ignored", "reason": batch.reason, "batch_events": batch.events}
    # The decision is about the union of the services the batch names, unless an instance
    # event or the schedule in it concerns the whole cluster.
    services = None if batch.whole_cluster else batch.services
    result = step(cfg, remaining_seconds(context), services=services,
                  reason=batch.scope_reason())
    if result["status"] == "error":
        raise BatchFailed(f"the batch's decision failed: {result['reason']}")
    return dict(result, batch_events=batch.events, acted=len(batch.acted))


def remaining_seconds(context: Any) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return 300.0
    return max(1.0, getter() / 1000.0 - SAFETY_MARGIN_SECONDS)


def step(cfg: Config, budget_seconds: float, services: list[str] | None = None,
         reason: str = "") -> dict:
    """One engine step. ``services``: decide about these services alone (a steady state names
    its service: only their tasks are read, every other service's tasks count only as the
    capacity they use); None: the whole cluster (a new or leaving instance, the schedule).
    ``reason`` says why that scope, in the result and the log."""
    request = _runner.RebalanceRequest(
        cluster=cfg.cluster, services=tuple(services) if services else None,
        strategy=cfg.strategy, max_skew=cfg.max_skew,
        max_moves=cfg.max_moves, max_moves_per_az=cfg.max_moves_per_az, wait=False,
        check_mode=cfg.dry_run, wait_timeout=budget_seconds,
        poll_interval=min(5.0, budget_seconds), detail=False, lease_table=cfg.lease_table,
        lease_table_create=False, api_read_rate=cfg.api_read_rate, scope_reason=reason,
        no_progress_minutes=cfg.no_progress_minutes)
    try:
        ecs, elb, aas, ddb = clients(cfg)
        sleep, clock = timers()
        try:
            result = _runner.rebalance(ecs, request, sleep=sleep, clock=clock, elb_client=elb,
                                       aas_client=aas, ddb_client=ddb)
        except engine.UnknownServices as err:
            # A steady state of a service deleted since: nothing to decide about it; decide
            # about the ones that remain (a failed batch would only come back and dead-letter).
            left = tuple(n for n in request.services or () if n not in err.names)
            log("services_gone", services=list(err.names))
            if not left:
                return {"status": "ignored", "reason": str(err)}
            result = _runner.rebalance(ecs, replace(request, services=left), sleep=sleep,
                                       clock=clock, elb_client=elb, aas_client=aas,
                                       ddb_client=ddb)
    except engine.EngineError as err:
        log("engine_error", error=str(err))
        emit_metrics(cfg, None)
        return {"status": "error", "reason": str(err)}
    summary = result.to_dict()
    log("scope", **summary["scope"])
    emit_metrics(cfg, summary)
    log("skew_before", services={n: d["skew"] for n, d in summary["before"].items()})
    # The log keeps every move (one step's, bounded by the budget): the validate playbook
    # checks each move's AZs from it. The returned summary counts them only.
    granted = result.decision.moves if (cfg.dry_run and result.decision) else result.moves
    moves = [m.to_dict() for m in granted]
    if summary["error"]:
        log("step_error", error=summary["error"], moves_made=len(moves))
    held = {s["service"]: s["lease"] for s in summary["skipped"] if s.get("lease")}
    if held:
        log("lease_held", leases=held)
    log("reads", **summary["reads"])
    if moves:
        log("dry_run_plan" if cfg.dry_run else "moves", count=len(moves), moves=moves,
            leases={a["service"]: a.get("lease") for a in summary["actions"]})
    else:
        log("no_rebalancing_needed", reason=result.message(),
            skipped=[f"{s['service']}: {s['message']}" for s in summary["skipped"]])
    return {"status": "planned" if cfg.dry_run else ("moved" if moves else "balanced"),
            "moves": len(moves), "api_calls": summary["api_calls"],
            "api_retries": summary["api_retries"], "scope": summary["scope"],
            "reads": summary["reads"], "message": result.message()}
