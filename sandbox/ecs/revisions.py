"""Service deployments and service revisions, as ListServiceDeployments,
DescribeServiceDeployments and DescribeServiceRevisions show them (ECS API reference,
ServiceDeployment / ServiceDeploymentBrief / ServiceRevision; Developer Guide "View service
history using Amazon ECS service deployments").

The data model stays the deployments the scheduler already keeps: every ``Deployment`` a
service ever started is remembered in ``Service.history`` (newest first), and each one is both
a *service deployment* and the *service revision* it deploys (the task definition, launch
type or capacity provider strategy, load balancers and network configuration it was started
with). Ids are the deployment's numeric id, so
``arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>`` and
``.../service-revision/<cluster>/<service>/<id>`` name the same deployment.

Status (ServiceDeployment ``status``): IN_PROGRESS while its rollout is; SUCCESSFUL once it
completed; STOPPED when a newer deployment replaced it before it completed, or when its rollout
failed (no rollback is emulated) [I: the sandbox has no PENDING phase and no rollbacks].
Only the ECS deployment controller exists here, as for ListServiceDeployments on AWS.
Pure functions over the models (the ``data`` floor of sandbox/ecs).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .models import Deployment, Service

Ts = Callable[[float], object]
STATUSES = ("PENDING", "SUCCESSFUL", "STOPPED", "STOP_REQUESTED", "IN_PROGRESS",
            "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def short_id(dep: "Deployment") -> str:
    return dep.id.split("/", 1)[-1]


def _arn(svc: "Service", kind: str, dep: "Deployment") -> str:
    head = svc.cluster_arn.split(":cluster/", 1)[0]
    return f"{head}:{kind}/{svc.cluster_name}/{svc.name}/{short_id(dep)}"


def deployment_arn(svc: "Service", dep: "Deployment") -> str:
    return _arn(svc, "service-deployment", dep)


def revision_arn(svc: "Service", dep: "Deployment") -> str:
    return _arn(svc, "service-revision", dep)


def _successor(svc: "Service", dep: "Deployment") -> Optional["Deployment"]:
    index = next(i for i, d in enumerate(svc.history) if d is dep)
    return svc.history[index - 1] if index > 0 else None


def status(svc: "Service", dep: "Deployment") -> tuple[str, str, Optional[float]]:
    """(status, statusReason, finishedAt) of one of the service's deployments."""
    if dep.rollout_state == "COMPLETED":
        return "SUCCESSFUL", dep.rollout_state_reason, dep.updated_at
    if dep.rollout_state == "FAILED":
        return "STOPPED", dep.rollout_state_reason, dep.updated_at
    newer = _successor(svc, dep)
    if newer is not None:
        return ("STOPPED", f"Superseded by service deployment {deployment_arn(svc, newer)}.",
                newer.created_at)
    return "IN_PROGRESS", dep.rollout_state_reason, None


def brief(svc: "Service", dep: "Deployment", ts: Ts) -> dict:
    state, reason, finished = status(svc, dep)
    out = {"serviceDeploymentArn": deployment_arn(svc, dep), "serviceArn": svc.arn,
           "clusterArn": svc.cluster_arn, "createdAt": ts(dep.created_at),
           "startedAt": ts(dep.created_at), "targetServiceRevisionArn": revision_arn(svc, dep),
           "status": state, "statusReason": reason}
    if finished is not None:
        out["finishedAt"] = ts(finished)
    return out


def describe(svc: "Service", dep: "Deployment", counts: dict, ts: Ts,
             deployment_configuration: dict) -> dict:
    """ServiceDeployment: the brief plus the revisions it moves from and to, with counts."""
    state, reason, finished = status(svc, dep)
    out = brief(svc, dep, ts)
    out["updatedAt"] = ts(dep.updated_at)
    if state == "STOPPED" and finished is not None:
        out["stoppedAt"] = ts(finished)
    index = next(i for i, d in enumerate(svc.history) if d is dep)
    sources = [d for d in svc.history[index + 1:index + 2]]     # the one it replaced
    out["sourceServiceRevisions"] = [_revision_counts(svc, d, counts) for d in sources]
    out["targetServiceRevision"] = _revision_counts(svc, dep, counts)
    out["deploymentConfiguration"] = copy.deepcopy(deployment_configuration)
    breaker = deployment_configuration.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable"):
        out["deploymentCircuitBreaker"] = {
            "status": "MONITORING" if state == "IN_PROGRESS" else "MONITORING_COMPLETE",
            "failureCount": dep.failed_tasks}
    else:
        out["deploymentCircuitBreaker"] = {"status": "DISABLED"}
    return out


def _revision_counts(svc: "Service", dep: "Deployment", counts: dict) -> dict:
    mine = counts.get(dep.id, {})
    return {"arn": revision_arn(svc, dep), "requestedTaskCount": dep.desired_count,
            "runningTaskCount": mine.get("running", 0),
            "pendingTaskCount": mine.get("pending", 0)}


def revision(svc: "Service", dep: "Deployment", ts: Ts) -> dict:
    """ServiceRevision: what the deployment was started with."""
    out = {"serviceRevisionArn": revision_arn(svc, dep), "serviceArn": svc.arn,
           "clusterArn": svc.cluster_arn, "taskDefinition": dep.task_definition.arn,
           "loadBalancers": copy.deepcopy(dep.load_balancers), "serviceRegistries": [],
           "containerImages": [{"containerName": c.get("name"), "image": c.get("image")}
                               for c in dep.task_definition.body.get("containerDefinitions")
                               or []],
           "guardDutyEnabled": False, "createdAt": ts(dep.created_at)}
    if dep.capacity_provider_strategy:
        out["capacityProviderStrategy"] = copy.deepcopy(dep.capacity_provider_strategy)
    elif dep.launch_type:
        out["launchType"] = dep.launch_type
    if dep.network_configuration:
        out["networkConfiguration"] = copy.deepcopy(dep.network_configuration)
    return out
