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

Status (ServiceDeployment ``status``): IN_PROGRESS while its rollout is (for a native
strategy: until its CLEAN_UP ends, bake time included); SUCCESSFUL once it completed; STOPPED
when a newer deployment replaced it before it completed, or when a rolling rollout failed;
ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS / ROLLBACK_SUCCESSFUL for a native deployment rolled
back (a PAUSE hook's ROLLBACK, its timeout, or StopServiceDeployment) (docs/ecs-facts.md
§1.11) [I: the sandbox has no PENDING phase]. Only the ECS deployment controller exists here,
as for ListServiceDeployments on AWS.

The native strategies' fixed facts live here too: the lifecycle stages in order, the stages a
hook may name, the production traffic steps of LINEAR and CANARY, and the summary
DescribeServices gives as ``currentServiceRevisions``.
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

# ------------------------------------------------ native strategies (docs/ecs-facts.md §1.11)
NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
STRATEGIES = ("ROLLING",) + NATIVE
STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
          "BAKE_TIME", "CLEAN_UP")
HOOK_STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
               "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT",
               "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
NOT_FOR_PAUSE = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")   # AWS_LAMBDA hooks only
PAUSE_TIMEOUT_MINUTES = (1, 20160, 1440)    # min, max, default
BAKE_MAX_MINUTES = 1440
ACTIVE_STATUSES = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED",
                   "ROLLBACK_IN_PROGRESS")


def production_steps(strategy: str, config: dict) -> tuple[list[float], float]:
    """The production traffic weights (percent on the new revision) one after the other, and
    the bake between two steps in seconds: BLUE_GREEN shifts all at once; CANARY shifts
    ``canaryPercent`` (default 5), bakes ``canaryBakeTimeInMinutes`` (default 10), then the
    rest; LINEAR shifts ``stepPercent`` (default 10) at a time with ``stepBakeTimeInMinutes``
    (default 6) between steps."""
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        pct = float(canary.get("canaryPercent", 5.0))
        bake = int(canary.get("canaryBakeTimeInMinutes", 10))
        return ([pct, 100.0] if pct < 100 else [100.0]), bake * 60.0
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        pct = float(linear.get("stepPercent", 10.0))
        bake = int(linear.get("stepBakeTimeInMinutes", 6))
        weights, at = [], 0.0
        while at < 100.0:
            at = min(100.0, round(at + pct, 6))
            weights.append(at)
        return weights, bake * 60.0
    return [100.0], 0.0


def current_revisions(svc: "Service", counts: dict) -> list[dict]:
    """``currentServiceRevisions``: the primary revision and every older one that still has
    tasks (its ``desired_count`` is its live tasks), with their counts."""
    out = []
    for n, dep in enumerate(svc.deployments):
        mine = counts.get(dep.id, {})
        if n == 0 or dep.desired_count or mine.get("running") or mine.get("pending"):
            out.append({"arn": revision_arn(svc, dep), "requestedTaskCount": dep.desired_count,
                        "runningTaskCount": mine.get("running", 0),
                        "pendingTaskCount": mine.get("pending", 0)})
    return out


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
    if dep.sd_status:
        return dep.sd_status, dep.sd_reason, dep.finished_at
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
    if dep.lifecycle_stage:
        out["lifecycleStage"] = dep.lifecycle_stage
        out["targetServiceRevision"]["requestedProductionTrafficWeight"] = dep.production_weight
        out["targetServiceRevision"]["requestedTestTrafficWeight"] = dep.test_weight
        for source in out["sourceServiceRevisions"]:
            source["requestedProductionTrafficWeight"] = 100.0 - dep.production_weight
            source["requestedTestTrafficWeight"] = 100.0 - dep.test_weight
    if dep.hooks:
        out["lifecycleHookDetails"] = [hook_detail(h, ts) for h in dep.hooks]
    if dep.rollback:
        out["rollback"] = {"reason": dep.rollback["reason"],
                           "startedAt": ts(dep.rollback["startedAt"]),
                           "serviceRevisionArn": dep.rollback["to"]}
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


def hook_detail(hook: dict, ts: Ts) -> dict:
    """One ``lifecycleHookDetails`` entry (DeploymentLifecycleHookDetail; PAUSE hooks have no
    targetArn)."""
    return {"hookId": hook["hookId"], "targetType": hook["targetType"], "status": hook["status"],
            "expiresAt": ts(hook["expiresAt"]), "timeoutAction": hook["timeoutAction"]}
