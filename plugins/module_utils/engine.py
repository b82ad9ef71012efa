# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's public face for the modules: snapshot -> planner -> executor.

The implementation lives in the private package ``_engine`` (standard library + boto3 only, so
the rebalancer Lambda ships the very same code). Modules import from here only.
"""

from __future__ import annotations

from ._engine import breaker
from ._engine.aws_client import CountingClient, client_config
from ._engine.candidates import CandidateIndex
from ._engine.errors import ClusterNotFound, EngineError, LeaseUnavailable, UnknownServices
from ._engine.lease import LeaseStore, record_of
from ._engine.model import ClusterSnapshot
from ._engine.report import report
from ._engine.runner import RebalanceRequest, RebalanceResult, rebalance
from ._engine.snapshot import take_snapshot

__all__ = [
    "ClusterNotFound", "ClusterSnapshot", "EngineError", "RebalanceRequest", "RebalanceResult",
    "UnknownServices", "client_config", "distribution_report", "lease_holders", "rebalance",
    "take_snapshot",
]


def distribution_report(snapshot: ClusterSnapshot, max_skew: int = 1,
                        services: list[str] | None = None,
                        detail: bool | list[str] = False) -> dict:
    """What ``task_distribution_info`` returns: per-service spread and balance, a summary of
    the container instances; with ``detail``, per-instance counts and targets for those
    services (True: all) and the list of instances."""
    per_service = report(snapshot, max_skew, tuple(services) if services else None,
                         detail=detail)
    imbalanced = sorted(n for n, d in per_service.items()
                        if not d["balanced"] and d["skip"] is None)
    out = {
        "cluster": snapshot.cluster_name,
        "instance_summary": instance_summary(snapshot),
        "services": per_service,
        "balanced": not imbalanced,
        "imbalanced_services": imbalanced,
        "api_calls": snapshot.api_calls,
    }
    if detail:
        out["instances"] = [inst.to_dict() for inst in snapshot.instances]
    return out


def instance_summary(snapshot: ClusterSnapshot) -> dict:
    """Container instances by status, and the ACTIVE ones with a connected agent by AZ."""
    by_status: dict[str, int] = {}
    by_az: dict[str, int] = {}
    for inst in snapshot.instances:
        by_status[inst.status] = by_status.get(inst.status, 0) + 1
        if inst.accepts_tasks:
            by_az[inst.az] = by_az.get(inst.az, 0) + 1
    return {"total": len(snapshot.instances), "by_status": dict(sorted(by_status.items())),
            "accepting_by_az": dict(sorted(by_az.items()))}


def lease_holders(ddb_client, table: str, snapshot: ClusterSnapshot,
                  services: list[str] | None = None, max_skew: int = 1,
                  no_progress_minutes: float = breaker.DEFAULT_MINUTES,
                  moves_needed: dict | None = None) -> tuple[dict, str]:
    """Per service, who holds its lease now (owner, fence, since, until; None when free),
    whether a surge state waits in it (``surge_pending``) and the no-progress breaker's record
    (``no_progress``: ``breaker.view``; ``moves_needed``: per service, from the report); and a
    warning ('' when none) when the table cannot be read (missing, no permission): then every
    lease is None. Read-only: one GetItem per service."""
    store = LeaseStore(CountingClient(ddb_client), table, run_id="task_distribution_info")
    names = list(snapshot.service_names(services)) if services else sorted(snapshot.services)
    out: dict = {}
    pools: dict = {}
    index = CandidateIndex(snapshot)
    try:
        for name in names:
            svc = snapshot.services.get(name)
            if svc is None:
                continue
            item = store.read(svc.arn) or {}
            holder = store.live_holder(item)
            record = breaker.Record.from_value(record_of(item, breaker.RECORD))
            cause = breaker.cause_of(snapshot, name, max_skew, index, pools)
            out[name] = {"holder": holder.to_dict() if holder else None,
                         "surge_pending": "surge" in item,
                         "no_progress": breaker.view(record, cause,
                                                     (moves_needed or {}).get(name),
                                                     store.now(), no_progress_minutes)}
    except LeaseUnavailable as err:
        return {n: None for n in names}, str(err)
    return out, ""
