"""EventBridge envelopes for ECS (docs/ecs-facts.md §6), field for field.

Envelope: version "0", id (UUID from the sandbox rng), detail-type, source "aws.ecs",
account, time (ISO, second precision, sandbox clock), region, resources, detail. Task and
container-instance details carry the resource ``version``; timestamps inside details are
ISO strings with milliseconds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..models import ContainerInstance, Deployment, Service, Task

class Source(Protocol):
    """What an envelope needs from the store (``store.EcsState``, which imports this module:
    a Protocol rather than an import keeps the two without a circle)."""

    @property
    def account(self) -> str: ...

    @property
    def region(self) -> str: ...

    def now(self) -> float: ...

    def new_uuid(self) -> str: ...


TASK = "ECS Task State Change"
CONTAINER_INSTANCE = "ECS Container Instance State Change"
SERVICE_ACTION = "ECS Service Action"
DEPLOYMENT = "ECS Deployment State Change"
HOOK = "ECS Hook State Change"


def iso_seconds(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(t: float) -> str:
    dt = datetime.fromtimestamp(t, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def envelope(plane: Source, detail_type: str, resources: list[str],
             detail: dict) -> dict:
    return {
        "version": "0",
        "id": plane.new_uuid(),
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": plane.account,
        "time": iso_seconds(plane.now()),
        "region": plane.region,
        "resources": list(resources),
        "detail": detail,
    }


def task_state_change(plane: Source, task: "Task") -> dict:
    detail = task.to_api(ts=iso_millis)
    detail["updatedAt"] = iso_millis(task.updated_at)
    return envelope(plane, TASK, [task.arn], detail)


def container_instance_state_change(plane: Source,
                                    ci: "ContainerInstance") -> dict:
    detail = ci.to_api(ts=iso_millis)
    detail.pop("registeredAt", None)
    detail["clusterArn"] = ci.cluster_arn
    detail["updatedAt"] = iso_millis(ci.updated_at)
    return envelope(plane, CONTAINER_INSTANCE, [ci.arn], detail)


def service_action(plane: Source, service: "Service", event_name: str,
                   event_type: str = "INFO", **extra) -> dict:
    detail = {"eventType": event_type, "eventName": event_name,
              "clusterArn": service.cluster_arn}
    detail.update(extra)
    detail["createdAt"] = iso_millis(plane.now())
    return envelope(plane, SERVICE_ACTION, [service.arn], detail)


def deployment_state_change(plane: Source, service: "Service",
                            deployment: "Deployment", event_name: str, reason: str,
                            event_type: str = "INFO") -> dict:
    detail = {"eventType": event_type, "eventName": event_name,
              "deploymentId": deployment.id, "updatedAt": iso_seconds(plane.now()),
              "reason": reason}
    return envelope(plane, DEPLOYMENT, [service.arn], detail)


def hook_state_change(plane: Source, service: "Service", deployment_arn: str, hook: dict,
                      event_name: str = "HOOK_AWAITING_ACTION") -> dict:
    """A PAUSE hook waiting for ContinueServiceDeployment (docs/ecs-facts.md §1.11, §6.6: AWS
    documents the detail-type and the event name; the other detail fields are the sandbox's
    [I], in the shape of the Deployment State Change detail plus the hook's own fields)."""
    detail = {"eventType": "INFO", "eventName": event_name,
              "clusterArn": service.cluster_arn, "serviceArn": service.arn,
              "serviceDeploymentArn": deployment_arn, "hookId": hook["hookId"],
              "targetType": hook["targetType"], "lifecycleStage": hook["stage"],
              "status": hook["status"], "expiresAt": iso_millis(hook["expiresAt"]),
              "timeoutAction": hook["timeoutAction"],
              "updatedAt": iso_millis(plane.now())}
    return envelope(plane, HOOK, [service.arn], detail)
