# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's public face for the modules: snapshot -> planner -> executor.

The implementation lives in the private package ``_engine`` (standard library + boto3 only, so
the rebalancer Lambda ships the very same code). Modules import from here only.
"""

from __future__ import annotations

from ._engine.model import ClusterNotFound, ClusterSnapshot, EngineError, UnknownServices
from ._engine.runner import RebalanceRequest, RebalanceResult, distributions, rebalance
from ._engine.snapshot import client_config, take_snapshot

__all__ = [
    "ClusterNotFound", "ClusterSnapshot", "EngineError", "RebalanceRequest", "RebalanceResult",
    "UnknownServices", "client_config", "distribution_report", "rebalance", "take_snapshot",
]


def distribution_report(snapshot: ClusterSnapshot, max_skew: int = 1,
                        services: list[str] | None = None,
                        detail: bool | list[str] = True) -> dict:
    """What ``task_distribution_info`` returns: instances, per-service spread, balance;
    per-instance counts and targets for the services in ``detail`` (True: all)."""
    per_service = distributions(snapshot, max_skew, tuple(services) if services else None,
                                detail=detail)
    imbalanced = sorted(n for n, d in per_service.items()
                        if not d["balanced"] and d["skip"] is None)
    return {
        "cluster": snapshot.cluster_name,
        "instances": [inst.to_dict() for inst in snapshot.instances],
        "services": per_service,
        "balanced": not imbalanced,
        "imbalanced_services": imbalanced,
        "api_calls": snapshot.api_calls,
    }
