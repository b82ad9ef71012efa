"""The controllers' own records the store keeps: plain dataclasses, no behaviour.

Layer: state (``sandbox/ecs/state``). Imports only the models' value types; the controllers
that fill these records (agent, capacity, azrebalance) import them from here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ..placement import Constraints


# ------------------------------------------------------------------------ agent
@dataclass
class AgentState:
    # EC2 instance id -> its parsed ecs.config (None: not an ECS instance) once seen running
    known: dict[str, Optional[dict]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)      # registration timer scheduled
    reconnecting: set[str] = field(default_factory=set)  # reconnect timer scheduled


# ------------------------------------------------------- capacity providers
@dataclass
class CapacityProvider:
    name: str
    arn: str
    asg_name: str
    asg_arn: str
    managed_scaling: dict
    managed_termination_protection: str = "DISABLED"
    managed_draining: str = "ENABLED"
    status: str = "ACTIVE"
    update_status: Optional[str] = None
    update_status_reason: Optional[str] = None
    tags: list[dict] = field(default_factory=list)
    # managed scaling state: since when the reservation has been above / below the target
    above_since: Optional[float] = None
    below_since: Optional[float] = None
    reservation: float = 100.0

    @property
    def scaling(self) -> bool:
        return self.managed_scaling.get("status") == "ENABLED"

    def to_api(self, include: set[str] = frozenset()) -> dict:
        out = {"capacityProviderArn": self.arn, "name": self.name, "status": self.status,
               "type": "EC2_AUTOSCALING",   # API CapacityProvider.type; the only one emulated
               "autoScalingGroupProvider": {
                   "autoScalingGroupArn": self.asg_arn,
                   "managedScaling": dict(self.managed_scaling),
                   "managedTerminationProtection": self.managed_termination_protection,
                   "managedDraining": self.managed_draining}}
        if self.update_status:
            out["updateStatus"] = self.update_status
        if self.update_status_reason:
            out["updateStatusReason"] = self.update_status_reason
        if "TAGS" in include:
            out["tags"] = copy.deepcopy(self.tags)
        return out


@dataclass
class PlacementRequest:
    """What a PROVISIONING task needs to be placed later."""
    constraints: "Constraints"
    strategies: list[dict]


@dataclass
class CapacityState:
    providers: dict[str, CapacityProvider] = field(default_factory=dict)
    requests: dict[str, PlacementRequest] = field(default_factory=dict)  # task arn ->


# ------------------------------------------------------ ECS's AZ rebalancing
@dataclass
class Operation:
    """One rebalancing operation of a service: from STARTED to COMPLETED or STOPPED."""
    deployment_id: str
    desired_count: int
    started: list[str] = field(default_factory=list)  # task arns of the current batch
    blocked: bool = False                              # protection event already sent
