"""What the planner returns: ``PlanOptions`` in; ``Plan`` of ``ServicePlan`` (with its
``Distribution``, ``Move``s and ``Explanation``) out. Immutable data, no logic.

Imports only ``codes`` from the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .codes import Reason, Status


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """``services``: names to plan (None = all); ``max_skew``: the tolerance, >= 1. The plan
    proposes every move; the evictor alone spends the disruption budget."""

    services: tuple[str, ...] | None = None
    max_skew: int = 1

    def __post_init__(self) -> None:
        if self.max_skew < 1:
            raise ValueError("max_skew must be >= 1")


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a service is in its status: a ``Reason`` code and a sentence with the figures.
    A skipped service's explanation is its skip; a service out of balance gets one too."""

    code: Reason
    message: str

    def to_dict(self) -> dict:
        return {"code": str(self.code), "message": self.message}


@dataclass(slots=True, unsafe_hash=True)
class Move:
    """Stop ``task_arn`` on ``source_instance``; its replacement is predicted to land on
    ``destination_instance`` (ECS decides; the prediction is what spread placement gives).

    A value, but not a frozen dataclass, for the reason ``model.Task`` gives: a plan lists
    one per move (75,000 at the largest benchmarked size). Never assign to a field."""

    service: str
    task_arn: str
    source_instance: str
    source_az: str
    destination_instance: str
    destination_az: str

    def to_dict(self) -> dict:
        return {"service": self.service, "task_arn": self.task_arn,
                "source_instance": self.source_instance, "source_az": self.source_az,
                "destination_instance": self.destination_instance,
                "destination_az": self.destination_az}


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where one service's tasks are, and what balanced would be.

    ``instances``: task count per eligible instance ARN, empty eligible ones included.
    ``azs``: task count per AZ of the eligible instances. ``targets``: balanced count per
    eligible instance. ``ineligible``: task count per instance that holds tasks but is not
    eligible. ``skew``: per level name. ``moves_needed``: the lower bound of moves to balance.
    ``complete``: False when (inside a plan, for speed) only the empty eligible instances that
    can matter were listed; ``distribution()`` always lists them all.
    ``azs`` also counts the tasks on ACTIVE instances that are not candidates (ECS's spread
    counts them, see the planner's docstring); ``waiting``: tasks on DRAINING or deregistered
    instances, or not placed yet, that ECS is replacing. ``az_rebalancing``: the service's
    availabilityZoneRebalancing; ``delegated``: levels left to ECS (the AZ level when that is
    ENABLED), reported in ``skew`` but not part of ``balanced``. ``capacity_providers``: the
    pools of the effective capacity provider strategy (balanced inside each).
    """

    service: str
    levels: tuple[str, ...]
    instances: Mapping[str, int]
    azs: Mapping[str, int]
    targets: Mapping[str, int]
    ineligible: Mapping[str, int]
    skew: Mapping[str, int]
    balanced: bool
    moves_needed: int
    max_skew: int = 1
    skip: Explanation | None = None
    complete: bool = True
    waiting: int = 0
    az_rebalancing: str = "DISABLED"
    delegated: tuple[str, ...] = ()
    capacity_providers: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"service": self.service, "levels": list(self.levels),
                "instances": dict(self.instances), "azs": dict(self.azs),
                "targets": dict(self.targets), "ineligible": dict(self.ineligible),
                "eligible_instances": list(self.instances), "skew": dict(self.skew),
                "balanced": self.balanced, "moves_needed": self.moves_needed,
                "max_skew": self.max_skew, "complete": self.complete, "waiting": self.waiting,
                "az_rebalancing": self.az_rebalancing, "delegated": list(self.delegated),
                "capacity_providers": list(self.capacity_providers),
                "skip": self.skip.to_dict() if self.skip else None}


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One service's status. ``reason`` says why a service that is not BALANCED is not (its
    skip, at capacity with the numbers, the moves planned and what they leave); None exactly
    when ``status`` is BALANCED."""

    service: str
    status: Status
    moves: tuple[Move, ...] = ()
    moves_needed: int = 0
    skip: Explanation | None = None
    distribution: Distribution | None = None
    reason: Explanation | None = None

    def __post_init__(self) -> None:
        if self.reason is None and self.skip is not None:
            object.__setattr__(self, "reason", self.skip)

    @property
    def balanced(self) -> bool:
        return self.status == Status.BALANCED

    def to_dict(self) -> dict:
        return {"service": self.service, "status": str(self.status), "balanced": self.balanced,
                "moves": [m.to_dict() for m in self.moves], "moves_needed": self.moves_needed,
                "reason": self.reason.to_dict() if self.reason else None,
                "skip": self.skip.to_dict() if self.skip else None,
                "distribution": self.distribution.to_dict() if self.distribution else None}


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole plan. ``moves``: every service's moves, in execution order."""

    cluster: str
    services: tuple[ServicePlan, ...]
    max_skew: int
    moves: tuple[Move, ...] = ()
    moves_needed: int = 0

    @property
    def message(self) -> str:
        return f"{len(self.moves)} move(s) planned for cluster {self.cluster}"

    def service(self, name: str) -> ServicePlan:
        return next(sp for sp in self.services if sp.service == name)

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "max_skew": self.max_skew,
                "moves": [m.to_dict() for m in self.moves], "moves_needed": self.moves_needed,
                "message": self.message, "services": [sp.to_dict() for sp in self.services]}


__all__ = ["Distribution", "Explanation", "Move", "Plan", "PlanOptions", "ServicePlan"]
