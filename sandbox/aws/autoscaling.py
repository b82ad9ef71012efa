"""Auto Scaling groups that balance Availability Zones (docs/ecs-facts.md §8).

moto launches every instance into the first subnet of VPCZoneIdentifier and scales in by
terminating the first unprotected instances in list order. These patches give
``FakeAutoScalingGroup`` the documented behaviour:

* **launch**: each new instance goes to the AZ with the fewest instances of the group (ties:
  the AZ listed first), into that AZ's subnet from VPCZoneIdentifier (several subnets in one
  AZ: a seeded random pick with ``sandbox.runtime.rng``);
* **scale-in** (SetDesiredCapacity, UpdateAutoScalingGroup, and anything else that lowers
  desired): instances are chosen one at a time by the group's termination policies. AZ balance
  comes first: the AZ with the most instances that holds an unprotected one. ``Default`` then
  prefers instances of the oldest launch configuration/template (launch-configuration
  instances first, then those not on the group's current template, then lower versions), and
  finally a seeded random choice. ``OldestInstance``, ``NewestInstance``,
  ``OldestLaunchTemplate`` and ``OldestLaunchConfiguration`` are honoured when listed;
  ``ClosestToNextInstanceHour`` and ``AllocationStrategy`` do not discriminate here.
  Instances ProtectedFromScaleIn are never chosen;
* instances leaving the group (scale-in, Detach, TerminateInstanceInAutoScalingGroup) are
  deregistered from the group's target groups, so they drain like on AWS;
* ``DisableMetricsCollection`` is implemented (amazon.aws.autoscaling_group calls it);
* **shapes**: DescribeAutoScalingInstances reports health ``HEALTHY``/``UNHEALTHY``;
  DescribeAutoScalingGroups lists ``TrafficSources``; lifecycle hooks carry RoleARN and
  NotificationTargetARN only when PutLifecycleHook names them (moto invents both);
* **termination lifecycle hooks** (docs/ecs-facts.md §8): a group with an
  ``autoscaling:EC2_INSTANCE_TERMINATING`` hook does not terminate the instances a scale-in
  chose: they wait in ``Terminating:Wait`` (no longer counted in the group's capacity,
  deregistered from its target groups) until CompleteLifecycleAction, or until the hook's
  heartbeat timeout (extended by heartbeats up to ``lifecycle_hook_global_timeout_seconds``),
  and then terminate whatever the result (both CONTINUE and ABANDON terminate on scale-in).
  ``complete_lifecycle_action`` and ``record_heartbeat`` are what ECS's managed draining
  (sandbox/ecs/capacity.py) calls; CompleteLifecycleAction is also served on the API.
  Only scale-in through the desired capacity is held; TerminateInstanceInAutoScalingGroup and
  DetachInstances still act at once;
* **scaling activities** (DescribeScalingActivities; moto returns none): every launch
  (``Launching a new EC2 instance: i-...``) and termination (``Terminating EC2 instance: i-...``)
  of the group is recorded, newest first, with a Cause in AWS's wording ("At <time> a user request
  explicitly set group desired capacity changing the desired capacity from 2 to 1.  At <time> an
  instance was taken out of service in response to a difference between desired and actual
  capacity, shrinking the capacity from 2 to 1.  At <time> instance i-... was selected for
  termination."), StatusCode Successful (MidLifecycleAction while a termination hook holds the
  instance), Progress 100 and StartTime/EndTime on the sandbox clock [D: AWS CLI example of
  describe-scaling-activities; Cause wording [O]]. UpdateAutoScalingGroup changes of desired
  capacity are worded like SetDesiredCapacity [I].
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Callable

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (ASG_NAME_TAG, AutoScalingBackend, FakeAutoScalingGroup,
                                     InstanceState, LifecycleHook)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
from moto.ec2.models.instances import MetadataOptions

from .host import active

_ORIGINAL_SET_DESIRED = FakeAutoScalingGroup.set_desired_capacity
_ORIGINAL_DETACH = AutoScalingBackend.detach_instances
_ORIGINAL_TERMINATE = AutoScalingBackend.terminate_instance
_ORIGINAL_HOOK_INIT = LifecycleHook.__init__
_ORIGINAL_PUT_HOOK = AutoScalingResponse.put_lifecycle_hook
_FALLBACK_RNG = random.Random(0)


def _rng() -> random.Random:
    sandbox = active()
    return sandbox.runtime.rng if sandbox else _FALLBACK_RNG


# ---------------------------------------------------------------------------- launch
def _zone_subnets(group: FakeAutoScalingGroup) -> dict[str, list[str | None]]:
    """AZ -> its subnets from VPCZoneIdentifier, AZs in the order the group lists them."""
    if not group.vpc_zone_identifier:
        return {zone: [None] for zone in dict.fromkeys(group.availability_zones)}
    subnet_ids = [s.strip() for s in group.vpc_zone_identifier.split(",") if s.strip()]
    zones: dict[str, list[str | None]] = {}
    for subnet_id in subnet_ids:
        subnet = group.ec2_backend.get_subnet(subnet_id)
        zones.setdefault(subnet.availability_zone, []).append(subnet_id)
    return zones


def _next_placement(group: FakeAutoScalingGroup) -> tuple[str, str | None]:
    zones = _zone_subnets(group)
    counts = Counter(state.instance.placement.zone for state in group.instance_states)
    zone = min(zones, key=lambda z: counts[z])  # min keeps the first of equal counts
    subnets = zones[zone]
    return zone, (subnets[0] if len(subnets) == 1 else _rng().choice(subnets))


def _launch_template_ref(group: FakeAutoScalingGroup) -> dict[str, str] | None:
    template = group.ec2_launch_template
    if not template:
        return None
    version = str(getattr(group, "launch_template_version", None) or "$Default")
    if template.id:
        return {"LaunchTemplateId": template.id, "Version": version}
    return {"LaunchTemplateName": template.name, "Version": version}


def _launch_origin(group: FakeAutoScalingGroup) -> tuple[str, str, int]:
    """What an instance launched now comes from: (kind, name, version)."""
    template = group.ec2_launch_template
    if template is None:
        config = group.launch_config     # moto keeps the object, not its name
        return ("config", config.name if config else "", 0)
    try:
        version = template.get_version(
            getattr(group, "launch_template_version", None) or "$Default").number
    except (InvalidLaunchTemplateVersionNotFound, ValueError):
        version = template.default_version_number
    return ("template", template.id, int(version))


def _template_metadata_options(group: FakeAutoScalingGroup) -> dict | None:
    """The launch template version's MetadataOptions (IMDSv2, hop limit), as EC2 applies them."""
    ref = _launch_template_ref(group)
    if ref is None:
        return None
    try:
        data = group.ec2_backend._get_template_from_args(ref).data
    except (InvalidLaunchTemplateVersionNotFound, ValueError, KeyError, IndexError):
        return None
    return data.get("MetadataOptions") or None


def _replace_instances(self: FakeAutoScalingGroup, count_needed: int,
                       propagated_tags: dict[str, str]) -> None:
    """Launch ``count_needed`` instances one by one, each into the emptiest AZ."""
    propagated_tags[ASG_NAME_TAG] = self.name
    propagated_tags.update(self.instance_tags)
    associate_public_ip = (self.launch_config.associate_public_ip_address
                           if self.launch_config else None)
    for _ in range(count_needed):
        zone, subnet_id = _next_placement(self)
        reservation = self.ec2_backend.run_instances(
            self.image_id, 1, self.user_data, self.security_groups,
            instance_type=self.instance_type, tags={"instance": dict(propagated_tags)},
            placement=zone, launch_config=self.launch_config,
            launch_template=_launch_template_ref(self), is_instance_type_default=False,
            associate_public_ip=associate_public_ip, subnet_id=subnet_id)
        options = _template_metadata_options(self)
        for instance in reservation.instances:
            instance.autoscaling_group = self
            instance.sandbox_launched_at = _now()   # emulated launch time (warm-up periods)
            instance.sandbox_launch_origin = _launch_origin(self)
            if options:   # moto's RunInstances ignores the template's MetadataOptions
                instance.metadata_options = MetadataOptions(options)
            self.instance_states.append(InstanceState(
                instance, protected_from_scale_in=self.new_instances_protected_from_scale_in))


# ---------------------------------------------------------------------------- scale-in
def _launch_rank(group: FakeAutoScalingGroup, state: InstanceState) -> tuple[int, int, int]:
    """Lower = older launch configuration/template (terminated first)."""
    origin = getattr(state.instance, "sandbox_launch_origin", None)
    current = _launch_origin(group)
    if origin is None:
        return (1, 1, current[2])
    kind_rank = 0 if origin[0] == "config" else 1
    is_current = 1 if origin[:2] == current[:2] else 0
    return (kind_rank, is_current, origin[2])


def _keep_min(pool: list[InstanceState], key: Callable[[InstanceState], Any]
              ) -> list[InstanceState]:
    best = min(key(s) for s in pool)
    return [s for s in pool if key(s) == best]


def _policy_filters(group: FakeAutoScalingGroup
                    ) -> list[Callable[[list[InstanceState]], list[InstanceState]]]:
    by_launch = lambda pool: _keep_min(pool, lambda s: _launch_rank(group, s))  # noqa: E731
    table = {
        "OldestLaunchConfiguration": by_launch,
        "OldestLaunchTemplate": by_launch,
        "OldestInstance": lambda pool: _keep_min(pool, lambda s: s.instance.launch_time),
        "NewestInstance": lambda pool: _keep_min(
            pool, lambda s: -s.instance.launch_time.timestamp()),
        "Default": by_launch,
    }
    policies = list(group.termination_policies or ["Default"])
    return [table[name] for name in policies if name in table]


def _pick_victim(group: FakeAutoScalingGroup, candidates: list[InstanceState],
                 zone_counts: Counter, position: dict[int, int]) -> InstanceState:
    top = max(zone_counts[s.instance.placement.zone] for s in candidates)
    pool = [s for s in candidates if zone_counts[s.instance.placement.zone] == top]
    for keep in _policy_filters(group):
        if len(pool) == 1:
            break
        pool = keep(pool)
    if len(pool) == 1:
        return pool[0]
    return _rng().choice(sorted(pool, key=lambda s: position[id(s)]))


def termination_order(group: FakeAutoScalingGroup) -> list[InstanceState]:
    """Every instance of the group, the ones scale-in would terminate first at the front:
    unprotected InService instances in policy order, then everything else in list order."""
    states = list(group.instance_states)
    position = {id(s): i for i, s in enumerate(states)}
    in_service = [s for s in states if s.lifecycle_state == "InService"]
    candidates = [s for s in in_service if not s.protected_from_scale_in]
    zone_counts = Counter(s.instance.placement.zone for s in in_service)
    order: list[InstanceState] = []
    while candidates:
        victim = _pick_victim(group, candidates, zone_counts, position)
        order.append(victim)
        candidates.remove(victim)
        zone_counts[victim.instance.placement.zone] -= 1
    chosen = {id(s) for s in order}
    return order + [s for s in states if id(s) not in chosen]


def _set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    """moto's own logic (mixed instances included) with the victims put first, then the
    group's launch order restored and the removed instances deregistered from target groups.
    With a termination hook the victims are held in Terminating:Wait instead."""
    before = list(self.instance_states)
    held = _hold_victims(self, new_capacity)
    self.instance_states = [s for s in termination_order(self)
                            if not s.lifecycle_state.startswith("Terminating")]
    _ORIGINAL_SET_DESIRED(self, new_capacity)
    remaining = {id(s) for s in self.instance_states}
    remaining |= {id(s) for s in before if s.lifecycle_state.startswith("Terminating")}
    known = {id(s) for s in before}
    self.instance_states = ([s for s in before if id(s) in remaining]
                            + [s for s in self.instance_states if id(s) not in known])
    removed = [s.instance.id for s in before if id(s) not in remaining]
    _deregister_from_target_groups(self, removed + held)


# ------------------------------------------------------------ termination lifecycle hooks
def _now() -> float:
    sandbox = active()
    return sandbox.now() if sandbox else 0.0


def _terminating_hook(group: FakeAutoScalingGroup):
    hooks = group.autoscaling_backend.describe_lifecycle_hooks(group.name)
    return next((h for h in hooks
                 if h.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING"), None)


def _hold_victims(group: FakeAutoScalingGroup, new_capacity: int | None) -> list[str]:
    """Put the instances this scale-in removes into Terminating:Wait; their ids."""
    if new_capacity is None or group.mixed_instances_policy:
        return []
    hook = _terminating_hook(group)
    excess = len(group.active_instances()) - new_capacity
    if hook is None or excess <= 0:
        return []
    victims = [s for s in termination_order(group)
               if s.lifecycle_state == "InService" and not s.protected_from_scale_in][:excess]
    now = _now()
    for state in victims:
        state.lifecycle_state = "Terminating:Wait"
        state.sandbox_hook = hook.name
        state.sandbox_wait_started = now
        state.sandbox_heartbeat_timeout = float(hook.heartbeat_timeout)
        _extend(group, state, now + state.sandbox_heartbeat_timeout)
    return [s.instance.id for s in victims]


def _extend(group: FakeAutoScalingGroup, state: InstanceState, deadline: float) -> None:
    sandbox = active()
    limit = state.sandbox_wait_started + (
        sandbox.config.lifecycle_hook_global_timeout_seconds if sandbox else 172800.0)
    state.sandbox_wait_deadline = min(deadline, limit)
    if sandbox is not None:
        sandbox.runtime.call_at(state.sandbox_wait_deadline,
                                lambda: _expire(group, state))


def _expire(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    """The heartbeat timeout passed: the default result applies (the instance terminates)."""
    if state in group.instance_states and state.lifecycle_state == "Terminating:Wait" \
            and _now() >= state.sandbox_wait_deadline:
        complete_lifecycle_action(group, state.instance.id, "CONTINUE")


def record_heartbeat(group: FakeAutoScalingGroup, instance_id: str) -> None:
    """RecordLifecycleActionHeartbeat: the wait restarts its heartbeat timeout (within the
    global timeout). Only renews when half the timeout is used, so passes stay cheap."""
    state = _waiting(group, instance_id)
    if state is None:
        return
    now = _now()
    if state.sandbox_wait_deadline - now <= state.sandbox_heartbeat_timeout / 2:
        _extend(group, state, now + state.sandbox_heartbeat_timeout)


def complete_lifecycle_action(group: FakeAutoScalingGroup, instance_id: str,
                              result: str) -> bool:
    """End the wait: on scale-in both results terminate the instance. False if the instance
    is not waiting."""
    state = _waiting(group, instance_id)
    if state is None:
        return False
    group.instance_states = [s for s in group.instance_states if s is not state]
    group.autoscaling_backend.ec2_backend.terminate_instances([instance_id])
    _finish_activity(group, instance_id)
    return True


def _waiting(group: FakeAutoScalingGroup, instance_id: str) -> InstanceState | None:
    return next((s for s in group.instance_states if s.instance.id == instance_id
                 and s.lifecycle_state == "Terminating:Wait"), None)


def _response_complete_lifecycle_action(self: AutoScalingResponse) -> EmptyResult:
    group = self.autoscaling_backend.autoscaling_groups.get(
        self._get_param("AutoScalingGroupName"))
    instance_id = self._get_param("InstanceId")
    if group is None or not complete_lifecycle_action(
            group, instance_id, self._get_param("LifecycleActionResult")):
        raise ValidationError(f"No active Lifecycle Action found with instance ID "
                              f"{instance_id}")
    return EmptyResult()


def _deregister_from_target_groups(group: FakeAutoScalingGroup, instance_ids: list[str]) -> None:
    if not instance_ids or not group.target_group_arns:
        return
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn in group.target_group_arns:
        target_group = elbv2.target_groups.get(arn)
        if target_group is None:
            continue
        registered = {key[0] for key in target_group.targets}
        targets = [{"Id": iid} for iid in instance_ids if iid in registered]
        if targets:
            target_group.deregister(targets)


def _detach_instances(self: AutoScalingBackend, group_name: str, instance_ids: list[str],
                      should_decrement: bool) -> list:
    activities = _ORIGINAL_DETACH(self, group_name, instance_ids, should_decrement)
    _deregister_from_target_groups(self.autoscaling_groups[group_name], instance_ids)
    return activities


# ---------------------------------------------------------------- scaling activities
def _stamp() -> str:
    from moto.core.utils import utcnow   # the sandbox clock while installed (aws/clock.py)

    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def _activity_id(group: FakeAutoScalingGroup) -> str:
    """Deterministic and drawn from no shared random source (so recording activities never
    shifts the seeded choices of placement and scale-in)."""
    import uuid

    count = len(getattr(group, "sandbox_activities", []))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{group.arn}/activity/{count}"))


def record_activity(group: FakeAutoScalingGroup, description: str, cause: str,
                    status: str = "Successful") -> dict:
    """Append one activity to the group's history (DescribeScalingActivities reads it)."""
    from moto.core.utils import utcnow

    now = utcnow()
    activity = {"ActivityId": _activity_id(group), "AutoScalingGroupName": group.name,
                "AutoScalingGroupARN": group.arn, "Description": description, "Cause": cause,
                "StartTime": now, "EndTime": now if status == "Successful" else None,
                "StatusCode": status, "Progress": 100 if status == "Successful" else 50,
                "Details": "{}"}
    if not hasattr(group, "sandbox_activities"):
        group.sandbox_activities = []
    group.sandbox_activities.append(activity)
    return activity


def _finish_activity(group: FakeAutoScalingGroup, instance_id: str) -> None:
    """A held termination ended: its activity becomes Successful now."""
    from moto.core.utils import utcnow

    for activity in getattr(group, "sandbox_activities", []):
        if activity["StatusCode"] == "MidLifecycleAction" \
                and activity["Description"].endswith(instance_id):
            activity.update(StatusCode="Successful", EndTime=utcnow(), Progress=100)


def _request_cause(group: FakeAutoScalingGroup, new_capacity: int | None) -> str | None:
    """What asked for this capacity change, in AWS's words (None: desired did not change)."""
    old = getattr(group, "desired_capacity", None) or 0
    new = group.min_size if new_capacity is None else new_capacity
    if not getattr(group, "sandbox_created", False):
        return (f"At {_stamp()} a user request created an AutoScalingGroup changing the desired "
                f"capacity from 0 to {new}.")
    if new != old:
        return (f"At {_stamp()} a user request explicitly set group desired capacity changing "
                f"the desired capacity from {old} to {new}.")
    return None


def _replace_instances_recorded(self: FakeAutoScalingGroup, count_needed: int,
                                propagated_tags: dict[str, str]) -> None:
    """Launch as ``_replace_instances`` does and record one activity per new instance."""
    before = {s.instance.id for s in self.instance_states}
    capacity = len(self.active_instances())
    _replace_instances(self, count_needed, propagated_tags)
    prefix = getattr(self, "sandbox_cause", None) or (
        f"At {_stamp()} an instance was taken out of service in response to an EC2 health "
        "check indicating it has been terminated or stopped.")
    cause = (f"{prefix}  At {_stamp()} an instance was started in response to a difference "
             f"between desired and actual capacity, increasing the capacity from {capacity} "
             f"to {len(self.active_instances())}.")
    for state in self.instance_states:
        if state.instance.id not in before:
            record_activity(self, f"Launching a new EC2 instance: {state.instance.id}", cause)


def _set_desired_capacity_recorded(self: FakeAutoScalingGroup,
                                   new_capacity: int | None) -> None:
    """``_set_desired_capacity`` with its launches and terminations recorded as activities."""
    states = {s.instance.id: s.lifecycle_state for s in self.instance_states}
    capacity = len(self.active_instances())
    self.sandbox_cause = _request_cause(self, new_capacity)
    try:
        _set_desired_capacity(self, new_capacity)
    finally:
        cause, self.sandbox_cause, self.sandbox_created = self.sandbox_cause, None, True
    now_states = {s.instance.id: s.lifecycle_state for s in self.instance_states}
    gone = [iid for iid in states if iid not in now_states and states[iid] == "InService"]
    held = [iid for iid, state in now_states.items()
            if state == "Terminating:Wait" and states.get(iid) == "InService"]
    if not gone and not held:
        return
    shrink = (f"At {_stamp()} an instance was taken out of service in response to a difference "
              f"between desired and actual capacity, shrinking the capacity from {capacity} "
              f"to {len(self.active_instances())}.")
    for iid in gone + held:
        text = "  ".join(p for p in (cause, shrink, f"At {_stamp()} instance {iid} was "
                                                    "selected for termination.") if p)
        record_activity(self, f"Terminating EC2 instance: {iid}", text,
                        "Successful" if iid in gone else "MidLifecycleAction")


def _terminate_instance_recorded(self: AutoScalingBackend, instance_id: str,
                                 should_decrement: bool):
    """TerminateInstanceInAutoScalingGroup, recorded in the group's history as completed."""
    activity = _ORIGINAL_TERMINATE(self, instance_id, should_decrement)
    record_activity(activity.auto_scaling_group, activity.description, activity.cause)
    return activity


def _response_describe_scaling_activities(self: AutoScalingResponse) -> ActionResult:
    """The recorded activities, newest first (AutoScalingGroupName, ActivityIds, MaxRecords,
    NextToken as the API defines them)."""
    name = self._get_param("AutoScalingGroupName")
    wanted = set(self._get_param("ActivityIds") or [])
    groups = [g for g in self.autoscaling_backend.autoscaling_groups.values()
              if not name or g.name == name]
    found = [a for g in groups for a in getattr(g, "sandbox_activities", [])
             if not wanted or a["ActivityId"] in wanted]
    found.reverse()                  # equal StartTimes (a manual clock): the later first
    found.sort(key=lambda a: a["StartTime"], reverse=True)
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxRecords") or 100)
    result: dict[str, Any] = {"Activities": [{k: v for k, v in a.items() if v is not None}
                                             for a in found[start:start + size]]}
    if start + size < len(found):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


# --------------------------------------------------------------- metrics collection
def _backend_disable_metrics(self: AutoScalingBackend, group_name: str,
                             metrics: list[str] | None) -> None:
    group = self.describe_auto_scaling_groups([group_name])[0]
    group.metrics = [m for m in group.metrics if metrics and m not in metrics]


def _response_disable_metrics(self: AutoScalingResponse) -> EmptyResult:
    group_name = self._get_param("AutoScalingGroupName")
    metrics = self._get_param("Metrics")
    self.autoscaling_backend.disable_metrics_collection(group_name, metrics)
    return EmptyResult()


# ------------------------------------------------------------------- response shapes
class _InstanceDetails:
    """An instance as DescribeAutoScalingInstances reports it: HealthStatus ``HEALTHY`` /
    ``UNHEALTHY`` (AWS CLI example of describe-auto-scaling-instances; amazon.aws's
    ``instances_healthy`` waiter matches exactly that, and times out on ``Healthy``).
    DescribeAutoScalingGroups and SetInstanceHealth keep ``Healthy``/``Unhealthy``."""

    def __init__(self, state: InstanceState) -> None:
        self._state = state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)

    @property
    def health_status(self) -> str:
        return str(self._state.health_status).upper()


def _response_describe_instances(self: AutoScalingResponse) -> ActionResult:
    states = self.autoscaling_backend.describe_auto_scaling_instances(
        instance_ids=self._get_param("InstanceIds", []))
    return ActionResult({"AutoScalingInstances": [_InstanceDetails(s) for s in states]})


def _traffic_sources(self: FakeAutoScalingGroup) -> list[dict[str, str]]:
    """TrafficSources of DescribeAutoScalingGroups: the attached target groups (``elbv2``)
    and Classic Load Balancers (``elb``), as AWS lists them beside TargetGroupARNs and
    LoadBalancerNames (API AutoScalingGroup, TrafficSourceIdentifier)."""
    return ([{"Identifier": arn, "Type": "elbv2"} for arn in self.target_group_arns or []]
            + [{"Identifier": name, "Type": "elb"} for name in self.load_balancer_names or []])


def _hook_init(self: LifecycleHook, *args: Any, **kwargs: Any) -> None:
    """moto gives every hook a placeholder RoleARN and NotificationTargetARN (one in account
    1234567890); a hook has them only when PutLifecycleHook names them, and ECS's managed
    draining hook has neither."""
    _ORIGINAL_HOOK_INIT(self, *args, **kwargs)
    self.role_arn = None
    self.notification_target_arn = None


def _response_put_lifecycle_hook(self: AutoScalingResponse) -> Any:
    result = _ORIGINAL_PUT_HOOK(self)
    key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
    hook = self.autoscaling_backend.lifecycle_hooks.get(key)
    if hook is not None:
        hook.role_arn = self._get_param("RoleARN")
        hook.notification_target_arn = self._get_param("NotificationTargetARN")
    return result


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (AutoScalingResponse, "describe_auto_scaling_instances", _response_describe_instances),
        (FakeAutoScalingGroup, "traffic_sources", property(_traffic_sources)),
        (LifecycleHook, "__init__", _hook_init),
        (AutoScalingResponse, "put_lifecycle_hook", _response_put_lifecycle_hook),
        (FakeAutoScalingGroup, "replace_autoscaling_group_instances",
         _replace_instances_recorded),
        (FakeAutoScalingGroup, "set_desired_capacity", _set_desired_capacity_recorded),
        (AutoScalingBackend, "terminate_instance", _terminate_instance_recorded),
        (AutoScalingResponse, "describe_scaling_activities",
         _response_describe_scaling_activities),
        (AutoScalingBackend, "detach_instances", _detach_instances),
        (AutoScalingBackend, "disable_metrics_collection", _backend_disable_metrics),
        (AutoScalingResponse, "disable_metrics_collection", _response_disable_metrics),
        (AutoScalingResponse, "complete_lifecycle_action", _response_complete_lifecycle_action),
    ]


def on_install(sandbox) -> None:
    """Nothing to prepare."""


def on_uninstall(sandbox) -> None:
    """Nothing to release."""
