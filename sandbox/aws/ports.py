"""The ECS control plane's ports (``sandbox/ecs/ports.py``), implemented over moto's backends.

The control plane asks for targets, instances, subnets, groups and event delivery; these
adapters answer from moto's process-global backends of the sandbox's account and region, through
the patched behaviour of this package (``elbv2`` targets keyed by (id, port) with deregistration
delay, ``autoscaling`` lifecycle hooks, ``eventbridge`` delivery). The data plane
(``sandbox/traffic``) reads load balancers through ``MotoLoadBalancers`` as well.

Backends are looked up with plain dict reads: indexing moto's ``BackendDict`` would build a
backend (seconds of work) on every reconcile pass of a sandbox that never touched that service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from moto.autoscaling.models import autoscaling_backends
from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends

from ..ecs.ports import GroupView, InstanceView, Ports
from . import autoscaling, elbv2, eventbridge

if TYPE_CHECKING:
    from ..config import SandboxConfig
    from ..runtime import Runtime

LOG = logging.getLogger("sandbox.aws")


@dataclass(frozen=True)
class Env:
    """The config and runtime the adapters stamp and time things with (a ``host.Clocked``)."""

    config: "SandboxConfig"
    runtime: "Runtime"


def _regional(backends: Any, config: "SandboxConfig") -> Any:
    """moto's backend of the sandbox's account and region, None if never built."""
    account = dict.get(backends, config.account_id)
    if account is None or config.region not in account.keys():
        return None
    return dict.__getitem__(account, config.region)


# ------------------------------------------------------------------ load balancing
class MotoLoadBalancers:
    """``LoadBalancerPort`` over ``sandbox/aws/elbv2.py``, plus what the data plane reads."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def register_target(self, target_group_arn: str, target_id: str, port: int) -> None:
        elbv2.register_target(self.env, target_group_arn, target_id, port)

    def deregister_target(self, target_group_arn: str, target_id: str, port: int) -> float:
        return elbv2.deregister_target(self.env, target_group_arn, target_id, port)

    def target_health(self, target_group_arn: str, target_id: str, port: int) -> str:
        return elbv2.target_health(self.env, target_group_arn, target_id, port)

    def target_type(self, target_group_arn: str) -> Optional[str]:
        return elbv2.target_type(self.env, target_group_arn)

    def targets(self, target_group_arn: str) -> list[tuple[str, int, str]]:
        """Every registered (id, port, state) of a group."""
        return elbv2.targets(self.env, target_group_arn)

    def _backend(self) -> Any:
        return elbv2_backends[self.env.config.account_id][self.env.config.region]

    def application_load_balancers(self) -> dict[str, tuple[str, str]]:
        """Application load balancers with an HTTP listener that forwards:
        arn -> (DNS name, the target group it forwards to)."""
        wanted = {}
        for arn, lb in self._backend().load_balancers.items():
            group = forward_group(lb)
            if getattr(lb, "type", "application") == "application" and group:
                wanted[arn] = (lb.dns_name, group)
        return wanted

    def forward_group_of(self, lb_arn: str) -> Optional[str]:
        """The target group the load balancer's HTTP listener forwards to, if any."""
        lb = self._backend().load_balancers.get(lb_arn)
        return forward_group(lb) if lb else None


def forward_group(lb: Any) -> Optional[str]:
    """The target group an HTTP listener's default action forwards to."""
    for listener in getattr(lb, "listeners", {}).values():
        if (listener.protocol or "").upper() != "HTTP":
            continue
        for action in listener.default_actions:
            data = getattr(action, "data", {}) or {}
            if data.get("Type") != "forward":
                continue
            if data.get("TargetGroupArn"):
                return data["TargetGroupArn"]
            groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
            if groups:
                return groups[0]["TargetGroupArn"]
    return None


# --------------------------------------------------------------------------- EC2
class MotoEc2:
    """``Ec2Port`` over moto's EC2 backend."""

    def __init__(self, config: "SandboxConfig") -> None:
        self.config = config

    def _backend(self) -> Any:
        try:
            return _regional(ec2_backends, self.config)
        except Exception:  # moto not initialised for this account/region
            return None

    def in_use(self) -> bool:
        return self._backend() is not None

    def instances(self) -> dict[str, InstanceView]:
        backend = self._backend()
        if backend is None:
            return {}
        try:
            return {i.id: i for r in backend.all_reservations() for i in r.instances}
        except Exception:  # a half-built moto object must not stop the agent's pass; logged
            LOG.exception("reading EC2 instances failed")
            return {}

    def subnet_cidr(self, subnet_id: str) -> Optional[str]:
        backend = self._backend()
        if backend is None:
            return None
        try:
            subnet = backend.get_subnet(subnet_id)
        except InvalidSubnetIdError:
            return None
        return getattr(subnet, "cidr_block", None) or "10.0.0.0/24"

    def security_group_exists(self, group_id: str) -> bool:
        backend = self._backend()
        return backend is not None and backend.get_security_group_from_id(group_id) is not None

    def addresses_in(self, subnet_id: str) -> set[str]:
        backend = self._backend()
        used: set[str] = set()
        if backend is None:
            return used
        for reservation in backend.all_reservations():
            for instance in reservation.instances:
                if getattr(instance, "subnet_id", None) == subnet_id:
                    used.add(str(getattr(instance, "private_ip", "") or ""))
        for eni in getattr(backend, "enis", {}).values():
            if getattr(getattr(eni, "subnet", None), "id", None) == subnet_id:
                used.add(str(getattr(eni, "private_ip_address", "") or ""))
        return used


# ------------------------------------------------------------------ Auto Scaling
class MotoAutoScaling:
    """``AutoScalingPort`` over moto's Auto Scaling backend and ``sandbox/aws/autoscaling.py``."""

    def __init__(self, config: "SandboxConfig") -> None:
        self.config = config

    def group(self, ref: str) -> Optional[GroupView]:
        backend = _regional(autoscaling_backends, self.config)
        if backend is None or not ref:
            return None
        name = ref.split("autoScalingGroupName/", 1)[-1] if ref.startswith("arn:") else ref
        return backend.autoscaling_groups.get(name)

    def tag(self, group: GroupView, key: str, value: str) -> None:
        if any(t.get("Key") == key for t in group.tags):
            return
        group.tags = list(group.tags) + [{"ResourceId": group.name,
                                          "ResourceType": "auto-scaling-group",
                                          "Key": key, "Value": value,
                                          "PropagateAtLaunch": True}]

    def set_desired_capacity(self, group: GroupView, desired: int) -> None:
        group.autoscaling_backend.set_desired_capacity(group.name, desired)

    def set_protected(self, group: GroupView, instance_id: str, protected: bool) -> None:
        for state in group.instance_states:
            if state.instance.id == instance_id:
                state.protected_from_scale_in = protected

    def ensure_lifecycle_hook(self, group: GroupView, name: str, transition: str,
                              heartbeat_seconds: int, default_result: str) -> None:
        backend = group.autoscaling_backend
        if f"{group.name}_{name}" not in backend.lifecycle_hooks:
            backend.create_lifecycle_hook(name, group.name, transition, heartbeat_seconds,
                                          default_result)

    def delete_lifecycle_hook(self, group_name: str, name: str) -> None:
        backend = _regional(autoscaling_backends, self.config)
        if backend is not None:
            backend.delete_lifecycle_hook(group_name, name)

    def record_heartbeat(self, group: GroupView, instance_id: str) -> None:
        autoscaling.record_heartbeat(group, instance_id)

    def complete_lifecycle_action(self, group: GroupView, instance_id: str,
                                  result: str) -> None:
        autoscaling.complete_lifecycle_action(group, instance_id, result)


# -------------------------------------------------------------------- EventBridge
class EventBridgeSink:
    """``EventSink``: ECS events onto the default bus, delivered to matching rules."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def put(self, event: dict) -> None:
        eventbridge.emit(self.env, event)


def ecs_ports(config: "SandboxConfig", runtime: "Runtime",
              load_balancers: Optional[MotoLoadBalancers] = None) -> Ports:
    """Every port of the ECS control plane, over moto."""
    env = Env(config, runtime)
    return Ports(load_balancers=load_balancers or MotoLoadBalancers(env), ec2=MotoEc2(config),
                 autoscaling=MotoAutoScaling(config), events=EventBridgeSink(env))
