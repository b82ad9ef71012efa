"""Service Auto Scaling: Application Auto Scaling's ECS scalable targets drive our ECS.

moto's Application Auto Scaling stores scalable targets and scheduled actions but checks ECS
services against moto's own ECS (which the sandbox replaces) and never runs an action. These
patches make the ``ecs`` namespace talk to ``sandbox.ecs``:

* **RegisterScalableTarget** of ``service/<cluster>/<service>`` / ``ecs:service:DesiredCount``
  needs an ACTIVE service of our control plane; otherwise ``ValidationException: ECS service
  doesn't exist: <resource id>`` (the message AWS returns, [O: spinnaker/spinnaker#4371]). A new
  target needs MinCapacity and MaxCapacity, and MinCapacity <= MaxCapacity [D: API
  RegisterScalableTarget; message text [I]].
* **PutScheduledAction** needs a registered target (``ObjectNotFoundException: No scalable target
  registered for service namespace: ...``, the message of PutScalingPolicy
  [O: ansible/ansible#35632]) and at least one of MinCapacity/MaxCapacity
  (``At least one of minimum capacity and maximum capacity should be provided``
  [O: aws-cloudformation/community-registry-extensions#255]). ``at(yyyy-mm-ddThh:mm:ss)``,
  ``rate(N minute|minutes|hour|hours|day|days)`` and six-field ``cron(...)`` schedules run on the
  sandbox clock, in the action's Timezone (default UTC), between StartTime and EndTime.
* **At the scheduled time** [D: AAS user guide, "How scheduled scaling works"]: the action sets
  the target's MinCapacity/MaxCapacity to the values it names; if the service's desiredCount is
  below the new minimum it is raised to it, if above the new maximum it is lowered to it, through
  the control plane's UpdateService (so ECS places or stops tasks as for any UpdateService).
  A new minimum above the (new or kept) maximum: the maximum wins and the target's minimum is
  set to it [I: AWS only says to give both bounds so this cannot happen]. A target with
  ``ScheduledScalingSuspended`` skips the action. The first run of a ``rate()`` schedule is one
  period after PutScheduledAction (or after StartTime); an ``at()`` already past never runs [I].
* **DescribeScalingActivities** (moto has none) lists what the actions did, newest first:
  ``Description "Setting desired count to N."``, ``Cause "scheduled action name X was
  triggered"``, ``StatusCode Successful``, ``StatusMessage "Successfully set desired count to N.
  Change successfully fulfilled by ecs."`` [D: AWS CLI example of describe-scaling-activities].

* **DescribeScalableTargets** reports ``RoleARN`` (the namespace's service-linked role, which
  AWS uses whatever the request names) and every ``SuspendedState`` flag (false unless
  suspended); moto echoes the request, None when absent.

Scaling policies (target tracking, step) are stored by moto but never act here.
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.applicationautoscaling.models import (ApplicationAutoscalingBackend,
                                                FakeScalableTarget, FakeScheduledAction)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError

from ..ecs.api import dispatch
from .host import Host, active

ECS_DIMENSION = "ecs:service:DesiredCount"
_ORIGINAL_REGISTER = ApplicationAutoscalingBackend.register_scalable_target
_ORIGINAL_PUT_ACTION = ApplicationAutoscalingBackend.put_scheduled_action
_ORIGINAL_SERVICE_CHECK = ApplicationAutoscalingBackend._ecs_service_exists_for_target
_TOKENS = itertools.count(1)
# A cron expression with no match within this many days never fires.
CRON_HORIZON_DAYS = 366 * 5


class ObjectNotFound(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


def _sandbox() -> Host | None:
    return active()


# ------------------------------------------------------------------------ ECS targets
def _service_of(sandbox, resource_id: str):
    """The ACTIVE service of our control plane a resource id names, or None."""
    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service":
        return None
    service = sandbox.ecs.services.get((parts[1], parts[2]))
    return service if service is not None and service.status == "ACTIVE" else None


def _ecs_service_exists(self: ApplicationAutoscalingBackend, r_id: str) -> bool:
    """Validate against the sandbox's ECS control plane, not moto's ECS."""
    sandbox = _sandbox()
    if sandbox is None:
        return _ORIGINAL_SERVICE_CHECK(self, r_id)
    with sandbox.runtime.lock:
        if _service_of(sandbox, r_id) is None:
            raise AWSValidationException(f"ECS service doesn't exist: {r_id}")
    return True


def _register_scalable_target(self: ApplicationAutoscalingBackend, namespace: str, r_id: str,
                              dimension: str, min_capacity: int | None,
                              max_capacity: int | None, role_arn: str,
                              suspended_state: Any) -> FakeScalableTarget:
    existing = self.targets.get(dimension, {}).get(r_id)
    if existing is None and (min_capacity is None or max_capacity is None):
        raise AWSValidationException("MinCapacity and MaxCapacity are required to register a "
                                     "new scalable target")
    low = min_capacity if min_capacity is not None else getattr(existing, "min_capacity", None)
    high = max_capacity if max_capacity is not None else getattr(existing, "max_capacity", None)
    if low is not None and high is not None and low > high:
        raise AWSValidationException("Minimum capacity cannot be greater than maximum capacity")
    previous = dict(existing.suspended_state or {}) if existing is not None else {}
    target = _ORIGINAL_REGISTER(self, namespace, r_id, dimension, min_capacity, max_capacity,
                                role_arn, suspended_state)
    target.role_arn = _role_arn(self, namespace, role_arn or getattr(existing, "role_arn", None))
    target.suspended_state = {**_NOT_SUSPENDED, **previous, **(suspended_state or {})}
    return target


# The service-linked role Application Auto Scaling uses (and creates) for a namespace that has
# one: the RoleARN it reports whatever the request said [D: API RegisterScalableTarget
# "RoleARN"; AAS user guide "Service-linked roles for Application Auto Scaling"].
_SERVICE_LINKED_ROLES = {
    "ecs": ("ecs", "ECSService"),
    "dynamodb": ("dynamodb", "DynamoDBTable"),
    "rds": ("rds", "RDSCluster"),
    "lambda": ("lambda", "LambdaConcurrency"),
    "ec2": ("ec2", "EC2SpotFleetRequest"),
    "sagemaker": ("sagemaker", "SageMakerEndpoint"),
    "custom-resource": ("custom-resource", "CustomResource"),
}
# Every flag is reported, false unless suspended [D: API ScalableTarget "SuspendedState"];
# a re-registration changes only the flags it names [I].
_NOT_SUSPENDED = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                  "ScheduledScalingSuspended": False}


def _role_arn(backend: ApplicationAutoscalingBackend, namespace: str,
              requested: str | None) -> str | None:
    linked = _SERVICE_LINKED_ROLES.get(namespace)
    if linked is None:
        return requested
    prefix, suffix = linked
    return (f"arn:aws:iam::{backend.account_id}:role/aws-service-role/"
            f"{prefix}.application-autoscaling.amazonaws.com/"
            f"AWSServiceRoleForApplicationAutoScaling_{suffix}")


# ------------------------------------------------------------------------- schedules
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i for i, name in enumerate(
    "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAYS = {name: i for i, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}


def _invalid_schedule(schedule: str) -> AWSValidationException:
    return AWSValidationException(f"Invalid schedule expression: {schedule}")  # text [I]


def _zone(name: str | None) -> datetime.tzinfo:
    try:
        return ZoneInfo(name) if name else datetime.timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        raise AWSValidationException(f"Invalid time zone: {name}") from None  # text [I]


def _cron_field(text: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
    """The values one cron field allows (None for ``*``/``?``)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        else:
            first, _, last = body.partition("-")
            start = names.get(first.upper(), None) or int(first)
            end = (names.get(last.upper(), None) or int(last)) if last else (
                high if step_text else start)
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(part)
        values.update(range(start, end + 1, step))
    return values


@dataclass
class Cron:
    """AAS cron: minutes hours day-of-month month day-of-week year (day-of-week 1 = SUN)."""

    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> "Cron":
        fields = body.split()
        if len(fields) != 6:
            raise ValueError(body)
        return cls(_cron_field(fields[0], 0, 59, {}), _cron_field(fields[1], 0, 23, {}),
                   _cron_field(fields[2], 1, 31, {}), _cron_field(fields[3], 1, 12, _MONTHS),
                   _cron_field(fields[4], 1, 7, _DAYS), _cron_field(fields[5], 1970, 2199, {}))

    def _day_matches(self, day: datetime.date) -> bool:
        weekday = (day.isoweekday() % 7) + 1        # Sunday -> 1 ... Saturday -> 7
        return all(allowed is None or value in allowed for allowed, value in (
            (self.years, day.year), (self.months, day.month), (self.days, day.day),
            (self.weekdays, weekday)))

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The first matching minute strictly after ``moment`` (aware, in its own zone)."""
        start = moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        day = start.date()
        for _ in range(CRON_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours) if self.hours is not None else range(24):
                    for minute in (sorted(self.minutes) if self.minutes is not None
                                   else range(60)):
                        when = datetime.datetime(day.year, day.month, day.day, hour, minute,
                                                 tzinfo=moment.tzinfo)
                        if when >= start:
                            return when
            day += datetime.timedelta(days=1)
        return None


def _epoch_of(value: Any) -> float | None:
    """StartTime/EndTime as the JSON protocol sends them (epoch seconds) or ISO text."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def next_run(schedule: str, timezone: str | None, after: float,
             start_time: float | None = None) -> float | None:
    """The first time (epoch seconds) ``schedule`` runs strictly after ``after``; None: never.

    Raises ValueError for an expression AWS would not accept.
    """
    zone = _zone(timezone)
    if match := _AT.match(schedule):
        when = datetime.datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).timestamp()
        return when if when > after else None
    if match := _RATE.match(schedule):
        period = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
        if period <= 0:
            raise ValueError(schedule)
        origin = start_time if start_time is not None else after
        steps = max(0, int((after - origin) // period)) + 1
        return origin + steps * period
    if match := _CRON.match(schedule):
        cron = Cron.parse(match.group(1))
        local = datetime.datetime.fromtimestamp(after, zone)
        found = cron.next_after(local)
        return found.timestamp() if found else None
    raise ValueError(schedule)


# ---------------------------------------------------------------- scheduled actions
def _key(action: FakeScheduledAction) -> tuple[str, str, str, str]:
    return (action.service_namespace, action.scheduled_action_name, action.resource_id,
            action.scalable_dimension)


def _find_action(backend: ApplicationAutoscalingBackend, key: tuple) -> FakeScheduledAction | None:
    return next((a for a in backend.scheduled_actions if _key(a) == key), None)


def _capacity(value: Any) -> int | None:
    return None if value is None else int(value)


def _put_scheduled_action(self: ApplicationAutoscalingBackend, service_namespace: str,
                          schedule: str, timezone: str, scheduled_action_name: str,
                          resource_id: str, scalable_dimension: str, start_time: Any,
                          end_time: Any, scalable_target_action: Any) -> None:
    """moto's PutScheduledAction, validated as AWS does, then armed on the sandbox clock."""
    if resource_id not in self.targets.get(scalable_dimension, {}):
        raise ObjectNotFound(
            f"No scalable target registered for service namespace: {service_namespace}, "
            f"resource ID: {resource_id}, scalable dimension: {scalable_dimension}")
    bounds = scalable_target_action or {}
    if bounds.get("MinCapacity") is None and bounds.get("MaxCapacity") is None:
        raise AWSValidationException("At least one of minimum capacity and maximum capacity "
                                     "should be provided")
    sandbox = _sandbox()
    now = sandbox.runtime.now() if sandbox else datetime.datetime.now().timestamp()
    try:
        next_run(schedule or "", timezone, now, _epoch_of(start_time))
    except ValueError:
        raise _invalid_schedule(schedule) from None
    _ORIGINAL_PUT_ACTION(self, service_namespace, schedule, timezone, scheduled_action_name,
                         resource_id, scalable_dimension, start_time, end_time,
                         scalable_target_action)
    action = _find_action(self, (service_namespace, scheduled_action_name, resource_id,
                                 scalable_dimension))
    action.sandbox_token = next(_TOKENS)
    if sandbox is not None:
        _arm(sandbox, self, action, now)


def _arm(sandbox, backend: ApplicationAutoscalingBackend, action: FakeScheduledAction,
         after: float) -> None:
    """Schedule the action's next run after ``after`` (nothing if it never runs again)."""
    start, end = _epoch_of(action.start_time), _epoch_of(action.end_time)
    when = next_run(action.schedule, action.timezone, max(after, (start or after) - 1e-9),
                    start)
    if when is None or (end is not None and when > end):
        return
    key, token = _key(action), action.sandbox_token
    sandbox.runtime.call_at(when, lambda: _fire(sandbox, backend, key, token))


def _fire(sandbox, backend: ApplicationAutoscalingBackend, key: tuple, token: int) -> None:
    """A timer: run the action if it is still the one that was armed, then re-arm it."""
    action = _find_action(backend, key)
    if action is None or getattr(action, "sandbox_token", None) != token:
        return                                           # deleted or replaced since
    target = backend.targets.get(action.scalable_dimension, {}).get(action.resource_id)
    if target is not None and not _suspended(target, "ScheduledScalingSuspended"):
        run_action(sandbox, backend, target, action)
    _arm(sandbox, backend, action, sandbox.runtime.now())


def _suspended(target: FakeScalableTarget, flag: str) -> bool:
    state = target.suspended_state or {}
    return bool(state.get(flag)) if isinstance(state, dict) else False


def run_action(sandbox, backend: ApplicationAutoscalingBackend, target: FakeScalableTarget,
               action: FakeScheduledAction) -> int | None:
    """Apply the action's bounds to the target and the service; the new desiredCount or None."""
    bounds = action.scalable_target_action or {}
    new_max = _capacity(bounds.get("MaxCapacity"))
    new_min = _capacity(bounds.get("MinCapacity"))
    high = new_max if new_max is not None else target.max_capacity
    low = new_min if new_min is not None else target.min_capacity
    low = min(low, high)                                     # the maximum wins [I]
    target.min_capacity, target.max_capacity = low, high
    if action.service_namespace != "ecs" or action.scalable_dimension != ECS_DIMENSION:
        return None
    service = _service_of(sandbox, action.resource_id)
    if service is None:
        return None
    current = service.desired_count
    desired = min(max(current, low), high)
    if desired == current:
        return None
    set_desired_count(sandbox, service, desired)
    record_activity(sandbox, backend, action.service_namespace, action.resource_id,
                    action.scalable_dimension, desired,
                    f"scheduled action name {action.scheduled_action_name} was triggered")
    return desired


def set_desired_count(sandbox, service, desired: int) -> None:
    """Change desiredCount through the control plane's UpdateService, as AAS calls ECS."""
    dispatch(sandbox.ecs, "UpdateService", {"cluster": service.cluster_name,
                                            "service": service.name, "desiredCount": desired})


# ---------------------------------------------------------------------- activities
def _activities(backend: ApplicationAutoscalingBackend) -> list[dict]:
    if not hasattr(backend, "sandbox_activities"):
        backend.sandbox_activities = []
    return backend.sandbox_activities


def record_activity(sandbox, backend: ApplicationAutoscalingBackend, namespace: str,
                    resource_id: str, dimension: str, desired: int, cause: str) -> dict:
    now = sandbox.runtime.now()
    activity = {
        # deterministic, and no draw from the seeded source placement and scale-in use
        "ActivityId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{resource_id}/"
                                                         f"{len(_activities(backend))}")),
        "ServiceNamespace": namespace, "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "Description": f"Setting desired count to {desired}.",
        "Cause": cause, "StartTime": now, "EndTime": now, "StatusCode": "Successful",
        "StatusMessage": f"Successfully set desired count to {desired}. "
                         "Change successfully fulfilled by ecs.",
    }
    _activities(backend).append(activity)
    return activity


def describe_scaling_activities(backend: ApplicationAutoscalingBackend, namespace: str,
                                resource_id: str | None, dimension: str | None) -> list[dict]:
    """Newest first, filtered like the API."""
    found = [a for a in _activities(backend) if a["ServiceNamespace"] == namespace
             and (not resource_id or a["ResourceId"] == resource_id)
             and (not dimension or a["ScalableDimension"] == dimension)]
    return sorted(reversed(found), key=lambda a: a["StartTime"], reverse=True)


def _response_describe_scaling_activities(self: ApplicationAutoScalingResponse) -> str:
    params = json.loads(self.body or "{}")
    if not params.get("ServiceNamespace"):
        raise AWSValidationException("1 validation error detected: Value null at "
                                     "'serviceNamespace' failed to satisfy constraint: Member "
                                     "must not be null")
    found = describe_scaling_activities(self.applicationautoscaling_backend,
                                        params["ServiceNamespace"], params.get("ResourceId"),
                                        params.get("ScalableDimension"))
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 50)
    page = found[start:start + size]
    out: dict[str, Any] = {"ScalingActivities": page}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return json.dumps(out)


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (ApplicationAutoscalingBackend, "_ecs_service_exists_for_target", _ecs_service_exists),
        (ApplicationAutoscalingBackend, "register_scalable_target", _register_scalable_target),
        (ApplicationAutoscalingBackend, "put_scheduled_action", _put_scheduled_action),
        (ApplicationAutoScalingResponse, "describe_scaling_activities",
         _response_describe_scaling_activities),
    ]


def on_install(sandbox) -> None:
    """Nothing to prepare: actions are armed on the active sandbox's clock when put."""


def on_uninstall(sandbox) -> None:
    """Nothing to release: the timers die with the sandbox's runtime."""

