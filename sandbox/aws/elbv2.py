"""ELBv2 target groups for ECS tasks: targets keyed by (instance id, port), or by (private IP,
container port) for awsvpc tasks in ``ip`` target groups (sandbox/ecs/network.py).

moto keys a target group's targets by Id alone, reports every target ``healthy`` and forgets a
deregistered target at once (docs/ecs-facts.md Appendix A). These patches give ``FakeTargetGroup``
the behaviour of docs/ecs-facts.md §7:

* a target is the pair (Id, Port); Port defaults to the group's port;
* a new target is ``initial`` (``Elb.RegistrationInProgress``) for one
  ``HealthCheckIntervalSeconds``, then ``healthy``;
* DeregisterTargets moves it to ``draining`` (``Target.DeregistrationInProgress``) for the
  group's ``deregistration_delay.timeout_seconds`` (default 300), then it is gone
  (``unused``/``Target.NotRegistered`` when asked for explicitly);
* a target whose EC2 instance is stopped is ``unused``/``Target.InvalidState``;
* a terminated instance's targets are deregistered: they leave the group's list at once and,
  asked for by Id, report ``draining`` for the deregistration delay, then ``unused``
  (moto's own aws_verified test_register_targets, checked against AWS);
* every target of a group that no load balancer uses (no listener or rule forwards to it) is
  ``unused``/``Target.NotInUse`` (API TargetHealth: "The target group is not used by any load
  balancer");
* forward actions given by TargetGroupArn are described with their ForwardConfig as well;
* a group with health checks disabled reports ``unavailable``/``Target.HealthCheckDisabled``;
* ``set_unhealthy`` (test hook) fails a target's checks: ``unhealthy`` after
  ``UnhealthyThresholdCount x interval`` (or at once), until ``set_healthy``.

Timers run on the sandbox's emulated clock. The state lives on the moto objects, so a moto
reset forgets it together with the target groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from moto.elbv2.exceptions import InvalidTargetError, TargetGroupNotFoundError, TargetNotRunning
from moto.elbv2.models import (ELBv2Backend, FakeAction, FakeHealthStatus, FakeTargetGroup,
                               elbv2_backends)

from .host import active

_ORIGINAL_ACTION_INIT = FakeAction.__init__
DEFAULT_DEREGISTRATION_DELAY = 300.0
_DOWN_STATES = ("stopping", "stopped", "shutting-down", "terminated")

_DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.HealthCheckDisabled": "Health checks are disabled for the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load "
                       "balancer",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [502]",
}


@dataclass
class TargetRecord:
    """One (Id, Port) target and its health as the sandbox models it."""

    id: str
    port: int
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    generation: int = 0
    failing: bool = False
    drain_ends: float | None = None
    terminated: bool = False    # deregistered because its instance terminated: not listed

    def key(self) -> tuple[str, int]:
        return (self.id, self.port)

    def set(self, state: str, reason: str | None) -> None:
        self.state, self.reason = state, reason


# ------------------------------------------------------------------ helpers on a group
def _records(group: FakeTargetGroup) -> dict[tuple[str, int], TargetRecord]:
    records = group.__dict__.get("_sandbox_targets")
    if records is None:
        records = group.__dict__["_sandbox_targets"] = {}
    return records


def _port_of(group: FakeTargetGroup, target: dict[str, Any]) -> int:
    port = target.get("Port")
    if port is None:
        port = group.port
    return int(port) if port is not None else 0


def _interval(group: FakeTargetGroup) -> float:
    return float(group.health_check_interval_seconds or 30)


def deregistration_delay(group: FakeTargetGroup) -> float:
    value = group.attributes.get("deregistration_delay.timeout_seconds",
                                 DEFAULT_DEREGISTRATION_DELAY)
    return float(value)


def _runtime():
    sandbox = active()
    return sandbox.runtime if sandbox else None


def _later(delay: float, callback) -> None:
    runtime = _runtime()
    if runtime is None:  # no sandbox: behave like moto (no timers), nothing is pending
        callback()
    else:
        runtime.call_later(delay, callback)


def _now() -> float:
    runtime = _runtime()
    return runtime.now() if runtime else 0.0


def _when_generation(group: FakeTargetGroup, record: TargetRecord,
                     action: Callable[[], None]) -> Callable[[], None]:
    """Run ``action`` later only if the record was not re-registered/deregistered meanwhile."""
    generation = record.generation

    def fire() -> None:
        if _records(group).get(record.key()) is record and record.generation == generation:
            action()
    return fire


# --------------------------------------------------------------------- patched methods
def _register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    for target in targets:
        instance = self.ec2_backend.get_instance_by_id(target["Id"])
        if instance is not None and instance.state != "running":
            raise TargetNotRunning(instance_id=target["Id"])
    for target in targets:
        _register_one(self, target["Id"], _port_of(self, target))


def _register_one(group: FakeTargetGroup, target_id: str, port: int) -> None:
    records = _records(group)
    record = records.get((target_id, port))
    if record is not None and record.state != "draining":
        return  # already registered: AWS leaves it as it is
    record = TargetRecord(target_id, port,
                          generation=(record.generation + 1) if record else 0)
    records[record.key()] = record
    group.targets[record.key()] = {"Id": target_id, "Port": port}
    group.deregistered_targets.pop(record.key(), None)
    _later(_interval(group), _when_generation(group, record, lambda: _pass_check(record)))


def _pass_check(record: TargetRecord) -> None:
    if record.state == "initial" and not record.failing:
        record.set("healthy", None)


def _matching_keys(group: FakeTargetGroup, target: dict[str, Any]) -> list[tuple[str, int]]:
    """Keys a DeregisterTargets entry names: exact (Id, Port), or every port of Id if the
    entry has no Port and the group's port does not match (bridge tasks use other ports)."""
    records = _records(group)
    key = (target["Id"], _port_of(group, target))
    if key in records and records[key].state != "draining":
        return [key]
    if target.get("Port") is None:
        return [k for k, r in records.items() if k[0] == target["Id"] and r.state != "draining"]
    return []


def _deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    keys = [_matching_keys(self, target) for target in targets]
    if not all(keys):
        raise InvalidTargetError()
    for group_keys in keys:
        for key in group_keys:
            _start_draining(self, _records(self)[key])


def _start_draining(group: FakeTargetGroup, record: TargetRecord) -> float:
    delay = deregistration_delay(group)
    record.generation += 1
    record.set("draining", "Target.DeregistrationInProgress")
    record.drain_ends = _now() + delay
    group.targets.pop(record.key(), None)
    _later(delay, _when_generation(group, record, lambda: _forget(group, record)))
    return delay


def _forget(group: FakeTargetGroup, record: TargetRecord) -> None:
    _records(group).pop(record.key(), None)
    group.deregistered_targets[record.key()] = {"Id": record.id, "Port": record.port}


def _deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
    """moto calls this on TerminateInstances: the instance's targets start draining and drop
    out of the group's list (DescribeTargetHealth by Id still shows them draining)."""
    for record in list(_records(self).values()):
        if record.id in instance_ids and record.state != "draining":
            _start_draining(self, record)
            record.terminated = True


def _forwards_to(action: Any) -> list[str]:
    data = getattr(action, "data", None) or {}
    if action.type != "forward":
        return []
    if "TargetGroupArn" in data:
        return [data["TargetGroupArn"]]
    return [tg.get("TargetGroupArn") for tg in (data.get("ForwardConfig") or {}).get(
        "TargetGroups", [])]


def _in_use(group: FakeTargetGroup) -> bool:
    """Whether a listener or listener rule forwards to the group now (moto's
    ``load_balancer_arns`` only grows: a deleted listener stays in it)."""
    backend = elbv2_backends[group.account_id][group.region_name]
    for balancer in backend.load_balancers.values():
        for listener in balancer.listeners.values():
            actions = list(listener.default_actions)
            for rule in listener.rules.values():
                actions.extend(getattr(rule, "actions", []) or [])
            if any(group.arn in _forwards_to(action) for action in actions):
                return True
    return False


def _status(group: FakeTargetGroup, target_id: str, port: int, state: str,
            reason: str | None, description: str | None = None) -> FakeHealthStatus:
    if reason and description is None:
        description = _DESCRIPTIONS.get(reason)
        if reason == "Target.InvalidState":
            description = "Target is in the stopped state"
    return FakeHealthStatus(target_id, port, group.health_check_port, state, reason,
                            description)


def _instance_down(group: FakeTargetGroup, target_id: str) -> bool:
    if not target_id.startswith("i-"):
        return False
    instance = group.ec2_backend.get_instance_by_id(target_id)
    return instance is not None and instance.state in _DOWN_STATES


def _health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any = None
                ) -> FakeHealthStatus:
    target_id, port = target["Id"], _port_of(self, target)
    record = _records(self).get((target_id, port))
    if record is None:
        state = "unused" if target_id.startswith("i-") else "unavailable"
        return _status(self, target_id, port, state, "Target.NotRegistered")
    if record.state == "draining":
        return _status(self, target_id, port, "draining", record.reason)
    if not _in_use(self):
        return _status(self, target_id, port, "unused", "Target.NotInUse")
    if _instance_down(self, target_id):
        return _status(self, target_id, port, "unused", "Target.InvalidState")
    if not self.health_check_enabled:
        return _status(self, target_id, port, "unavailable", "Target.HealthCheckDisabled")
    return _status(self, target_id, port, record.state, record.reason)


def _describe_target_health(self: ELBv2Backend, target_group_arn: str,
                            targets: list[dict[str, Any]]) -> list[FakeHealthStatus]:
    group = self.target_groups.get(target_group_arn)
    if group is None:
        raise TargetGroupNotFoundError()
    if not targets:
        targets = [{"Id": r.id, "Port": r.port} for r in _records(group).values()
                   if not r.terminated]
    return [group.health_for(target, self.ec2_backend) for target in targets]


def _action_init(self: FakeAction, data: dict[str, Any]) -> None:
    """A forward action given by TargetGroupArn is described with its ForwardConfig too (one
    target group, weight 1, stickiness off), as AWS returns it (API Action: "If you specify
    both ForwardConfig and TargetGroupArn, you can specify only one target group")."""
    if (data.get("Type") == "forward" and data.get("TargetGroupArn")
            and "ForwardConfig" not in data):
        data = {**data, "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": data["TargetGroupArn"], "Weight": 1}]}}
    _ORIGINAL_ACTION_INIT(self, data)


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (FakeAction, "__init__", _action_init),
        (FakeTargetGroup, "register", _register),
        (FakeTargetGroup, "deregister", _deregister),
        (FakeTargetGroup, "deregister_terminated_instances", _deregister_terminated_instances),
        (FakeTargetGroup, "health_for", _health_for),
        (ELBv2Backend, "describe_target_health", _describe_target_health),
    ]


def on_install(sandbox) -> None:
    """Nothing to prepare: state lives on moto's target groups."""


def on_uninstall(sandbox) -> None:
    """Nothing to release."""


# ---------------------------------------------------------------- public interface
def _group(sandbox, target_group_arn: str) -> FakeTargetGroup:
    parts = target_group_arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 5 else (
        sandbox.config.region, sandbox.config.account_id)
    group = elbv2_backends[account][region].target_groups.get(target_group_arn)
    if group is None:
        raise TargetGroupNotFoundError()
    return group


def target_type(sandbox, target_group_arn: str) -> str | None:
    """The group's TargetType (instance | ip | lambda | alb), None if there is no such group
    (ECS itself does not check that a group exists; the registration then fails)."""
    try:
        return _group(sandbox, target_group_arn).target_type
    except TargetGroupNotFoundError:
        return None


def register_target(sandbox, target_group_arn: str, instance_id: str, port: int) -> None:
    """Register (instance_id, port); health starts `initial`, `healthy` after one interval."""
    _group(sandbox, target_group_arn).register([{"Id": instance_id, "Port": int(port)}])


def deregister_target(sandbox, target_group_arn: str, instance_id: str, port: int) -> float:
    """Start draining (instance_id, port); returns the deregistration delay in seconds.

    A target already draining returns what is left of its delay; one not registered returns
    0.0 (nothing to wait for)."""
    group = _group(sandbox, target_group_arn)
    record = _records(group).get((instance_id, int(port)))
    if record is None:
        return 0.0
    if record.state == "draining":
        return max(0.0, (record.drain_ends or 0.0) - sandbox.runtime.now())
    return _start_draining(group, record)


def targets(sandbox, target_group_arn: str) -> list[tuple[str, int, str]]:
    """Every registered (id, port, state) of a group, states as DescribeTargetHealth reports."""
    group = _group(sandbox, target_group_arn)
    return [(target_id, port, group.health_for({"Id": target_id, "Port": port}).status)
            for (target_id, port) in list(_records(group))]


def target_health(sandbox, target_group_arn: str, instance_id: str, port: int) -> str:
    """initial | healthy | unhealthy | draining | unused | unavailable"""
    group = _group(sandbox, target_group_arn)
    return group.health_for({"Id": instance_id, "Port": int(port)}).status


def set_unhealthy(sandbox, target_group_arn: str, instance_id: str, port: int,
                  immediately: bool = False,
                  reason: str = "Target.ResponseCodeMismatch") -> None:
    """Test hook: the target's health checks start failing. It turns ``unhealthy`` after
    ``UnhealthyThresholdCount x HealthCheckIntervalSeconds`` (or at once) and stays so until
    ``set_healthy``."""
    group = _group(sandbox, target_group_arn)
    record = _records(group).get((instance_id, int(port)))
    if record is None or record.state == "draining":
        raise InvalidTargetError()
    record.failing = True
    record.generation += 1
    if immediately:
        record.set("unhealthy", reason)
        return
    delay = int(group.unhealthy_threshold_count or 2) * _interval(group)
    _later(delay, _when_generation(group, record, lambda: record.set("unhealthy", reason)))


def set_healthy(sandbox, target_group_arn: str, instance_id: str, port: int) -> None:
    """Test hook: health checks pass again; ``healthy`` after
    ``HealthyThresholdCount x HealthCheckIntervalSeconds``."""
    group = _group(sandbox, target_group_arn)
    record = _records(group).get((instance_id, int(port)))
    if record is None or record.state == "draining":
        raise InvalidTargetError()
    record.failing = False
    record.generation += 1
    delay = int(group.healthy_threshold_count or 5) * _interval(group)
    _later(delay, _when_generation(
        group, record, lambda: record.set("healthy", None)))
