"""What our ECS control plane needs from the AWS around it, as ports it owns.

ECS talks to Elastic Load Balancing (targets), EC2 (instances, subnets, addresses), Auto Scaling
(capacity providers' groups) and EventBridge (state change events). The control plane does not
import the code that emulates those services: it names what it needs here, as Protocols, and is
handed implementations at construction (``EcsControlPlane(config, runtime, ports)``). The
sandbox's implementations over moto live in ``sandbox/aws/ports.py``; ``Ports()`` with no
arguments is a world without any of them (no instances, no groups, events dropped), which is
enough for code that only needs the API's bookkeeping.

EC2 instances and Auto Scaling groups cross the port as *views*: objects with moto's attribute
names (listed on ``InstanceView`` and ``GroupView``), read only. Every change the control plane
makes to another service goes through a port method, so the adapter owns how it is done.

Layer: data, the bottom of ``sandbox/ecs``; imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

# An EC2 instance as ECS's agent reads it: id, instance_type, image_id, user_data,
# availability_zone or placement.zone, subnet_id, vpc_id, private_ip, platform, architecture,
# and its Auto Scaling group (autoscaling_group.name or the aws:autoscaling:groupName tag).
InstanceView = Any
# An Auto Scaling group as capacity providers read it: name, arn, instance_type, min_size,
# max_size, desired_capacity, tags, new_instances_protected_from_scale_in and instance_states
# (each: instance.id, lifecycle_state, protected_from_scale_in, and the sandbox's sandbox_hook
# and instance.sandbox_launched_at).
GroupView = Any


class LoadBalancerPort(Protocol):
    """Elastic Load Balancing as ECS uses it: targets keyed by (id, port)."""

    def register_target(self, target_group_arn: str, target_id: str, port: int) -> None:
        """Register the target; its health starts ``initial``."""

    def deregister_target(self, target_group_arn: str, target_id: str, port: int) -> float:
        """Start draining; the seconds of deregistration delay left (0.0: nothing to wait)."""

    def target_health(self, target_group_arn: str, target_id: str, port: int) -> str:
        """initial | healthy | unhealthy | draining | unused | unavailable"""

    def target_type(self, target_group_arn: str) -> Optional[str]:
        """instance | ip | lambda | alb, or None when there is no such group."""


class Ec2Port(Protocol):
    """EC2 as ECS's agent and awsvpc networking see it."""

    def in_use(self) -> bool:
        """Whether EC2 holds anything (a sandbox that never touched EC2 checks no subnets)."""

    def instances(self) -> dict[str, InstanceView]:
        """Every instance by id, whatever its state."""

    def subnet_cidr(self, subnet_id: str) -> Optional[str]:
        """The subnet's IPv4 CIDR block, None if there is no such subnet."""

    def addresses_in(self, subnet_id: str) -> set[str]:
        """Private IPs EC2 itself holds in the subnet (instances, network interfaces)."""

    def security_group_exists(self, group_id: str) -> bool:
        """Whether EC2 has a security group with this id."""


class AutoScalingPort(Protocol):
    """Auto Scaling as capacity providers drive it (managed scaling, protection, draining)."""

    def group(self, ref: str) -> Optional[GroupView]:
        """The group by name or ARN, None if there is none."""

    def tag(self, group: GroupView, key: str, value: str) -> None:
        """Add a tag (propagated at launch) unless the group has that key already."""

    def set_desired_capacity(self, group: GroupView, desired: int) -> None:
        """SetDesiredCapacity (launches or terminates as Auto Scaling does)."""

    def set_protected(self, group: GroupView, instance_id: str, protected: bool) -> None:
        """The instance's protection from scale-in."""

    def ensure_lifecycle_hook(self, group: GroupView, name: str, transition: str,
                              heartbeat_seconds: int, default_result: str) -> None:
        """PutLifecycleHook unless the group has a hook of that name."""

    def delete_lifecycle_hook(self, group_name: str, name: str) -> None:
        """DeleteLifecycleHook; nothing happens when the group or the hook is gone."""

    def record_heartbeat(self, group: GroupView, instance_id: str) -> None:
        """RecordLifecycleActionHeartbeat for an instance waiting on a hook."""

    def complete_lifecycle_action(self, group: GroupView, instance_id: str,
                                  result: str) -> None:
        """CompleteLifecycleAction for an instance waiting on a hook."""


class EventSink(Protocol):
    """Where ECS's events go (EventBridge's default bus)."""

    def put(self, event: dict) -> None:
        """Deliver one complete event envelope."""


# ------------------------------------------------------------ a world without AWS
class NoLoadBalancers:
    """No load balancers: nothing registers, every target is ``unavailable``."""

    def register_target(self, target_group_arn: str, target_id: str, port: int) -> None:
        raise LookupError(f"no load balancing: {target_group_arn}")

    def deregister_target(self, target_group_arn: str, target_id: str, port: int) -> float:
        return 0.0

    def target_health(self, target_group_arn: str, target_id: str, port: int) -> str:
        return "unavailable"

    def target_type(self, target_group_arn: str) -> Optional[str]:
        return None


class NoEc2:
    """No EC2: no instances, no subnets."""

    def in_use(self) -> bool:
        return False

    def instances(self) -> dict[str, InstanceView]:
        return {}

    def subnet_cidr(self, subnet_id: str) -> Optional[str]:
        return None

    def addresses_in(self, subnet_id: str) -> set[str]:
        return set()

    def security_group_exists(self, group_id: str) -> bool:
        return False


class NoAutoScaling(AutoScalingPort):
    """No Auto Scaling: no groups, so nothing is ever asked of one (every other method is the
    port's own, which does nothing)."""

    def group(self, ref: str) -> Optional[GroupView]:
        return None


class DropEvents:
    """No EventBridge: events are only kept in ``EcsState.emitted``."""

    def put(self, event: dict) -> None:
        """Nothing listens."""


@dataclass
class Ports:
    """Everything the control plane reaches outside itself, handed in at construction."""

    load_balancers: LoadBalancerPort = field(default_factory=NoLoadBalancers)
    ec2: Ec2Port = field(default_factory=NoEc2)
    autoscaling: AutoScalingPort = field(default_factory=NoAutoScaling)
    events: EventSink = field(default_factory=DropEvents)
