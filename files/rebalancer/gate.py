"""Decide from the event alone whether a rebalancing step is worth an API call.

ECS sends a Container Instance State Change for every task start and stop (remaining resources
change), several times an hour per instance for agent reconnects, and a Service Action for every
steady state. Only a few of them can open or close a placement gap:

* an ACTIVE, connected instance with no tasks (new capacity) -> act;
* an instance going DRAINING or INACTIVE (capacity leaves; rebalance what remains) -> act;
* SERVICE_STEADY_STATE of a service of this cluster (a deployment or a previous move finished);
* the optional schedule (``aws.events`` / ``Scheduled Event``).

Everything else returns at once with the reason, and no AWS call is made. An ``ECS Hook State
Change`` (a PAUSE lifecycle hook awaiting action) is one of them: the engine leaves a service
alone while its deployment is paused, and the deployment's end brings the steady state that
triggers the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INSTANCE_CHANGE = "ECS Container Instance State Change"
SERVICE_ACTION = "ECS Service Action"
SCHEDULED = "Scheduled Event"
HOOK_CHANGE = "ECS Hook State Change"


@dataclass(frozen=True)
class Verdict:
    """Whether an event is worth a rebalancing run (``act``), the kind of trigger, and why.
    (Not the evictor's ``Decision``, which is what one step of a run may move.)"""

    act: bool
    trigger: str
    reason: str
    service: str | None = None


def decide(event: Any, cluster: str) -> Verdict:
    if not isinstance(event, dict):
        return Verdict(False, "unknown", "the event is not a JSON object")
    kind = event.get("detail-type")
    detail = event.get("detail")
    if kind == SCHEDULED and event.get("source") == "aws.events":
        return Verdict(True, "schedule", "scheduled run")
    if event.get("source") != "aws.ecs" or not isinstance(detail, dict):
        return Verdict(False, str(kind or "unknown"), "not an ECS event this function handles")
    if kind == HOOK_CHANGE:
        return Verdict(False, "hook_state", f"lifecycle hook {detail.get('eventName')}: the "
                       "service waits for its deployment; its steady state is the trigger")
    if kind not in (INSTANCE_CHANGE, SERVICE_ACTION):
        return Verdict(False, str(kind), "event type is not a rebalancing trigger")
    if not _in_cluster(detail.get("clusterArn"), cluster):
        return Verdict(False, str(kind), f"event is for another cluster, not {cluster}")
    if kind == INSTANCE_CHANGE:
        return _instance_change(detail)
    return _service_action(event, detail)


def _in_cluster(cluster_arn: Any, cluster: str) -> bool:
    if not isinstance(cluster_arn, str):
        return False
    return cluster_arn == cluster or cluster_arn.endswith(f":cluster/{cluster}")


def _instance_change(detail: dict) -> Verdict:
    status = detail.get("status")
    instance = detail.get("ec2InstanceId", "?")
    if status in ("DRAINING", "INACTIVE"):
        return Verdict(True, "instance_state", f"instance {instance} is {status}")
    if status != "ACTIVE" or detail.get("agentConnected") is not True:
        return Verdict(False, "instance_state",
                       f"instance {instance} is {status}, agent connected: "
                       f"{detail.get('agentConnected')}")
    running = detail.get("runningTasksCount")
    pending = detail.get("pendingTasksCount")
    if running is None and pending is None:
        return Verdict(True, "instance_state", f"instance {instance} is ACTIVE (task count unknown)")
    if (running or 0) + (pending or 0) == 0:
        return Verdict(True, "instance_state", f"instance {instance} is ACTIVE and empty")
    return Verdict(False, "instance_state",
                   f"instance {instance} already runs {(running or 0) + (pending or 0)} tasks")


def _service_action(event: dict, detail: dict) -> Verdict:
    if detail.get("eventName") != "SERVICE_STEADY_STATE":
        return Verdict(False, "service_action", f"{detail.get('eventName')} is not a trigger")
    resources = event.get("resources") or []
    service = resources[0].rsplit("/", 1)[-1] if resources and isinstance(resources[0], str) else None
    return Verdict(True, "service_steady_state", f"service {service} reached a steady state",
                   service=service)
