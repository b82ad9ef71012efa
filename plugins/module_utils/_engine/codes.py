"""The engine's machine-readable codes: why a service is in its status (``Reason``), the
status itself (``Status``) and why the evictor refused a service (``Refused``).

Imports nothing from the engine. The values are part of the output (module results, the
Lambda's JSON log lines): they never change. Each code is a ``str``, so it compares equal to
its value and ``json.dumps`` writes the value; the ``to_dict`` methods still emit ``str(code)``
(a plain ``str``), because Ansible checks the types of a module's result.
"""

from __future__ import annotations

from enum import Enum


class Code(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` are its value (``enum.StrEnum`` is
    Python 3.11+; this base also imports where ansible-test checks older Pythons)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)


class Reason(Code):
    """Why a service is not BALANCED (``Explanation.code``): a skip, or what its moves leave."""

    OPTED_OUT = "opted_out"
    DAEMON = "daemon"
    DEPLOYMENT_CONTROLLER = "deployment_controller"
    UNSUPPORTED_STRATEGY = "unsupported_strategy"
    TOO_FEW_TASKS = "desired_below_two"
    DEPLOYMENT_IN_PROGRESS = "deployment_in_progress"
    HOOK_AWAITING_ACTION = "lifecycle_hook_awaiting_action"   # a PAUSE hook holds a deployment
    SERVICE_DEPLOYMENT_ACTIVE = "service_deployment_active"   # PENDING .. ROLLBACK_*, bake too
    SEVERAL_REVISIONS = "several_service_revisions"           # currentServiceRevisions != 1
    NOT_STEADY = "not_steady"
    UNSUPPORTED_CONSTRAINT = "unsupported_constraint"
    SINGLE_DOMAIN = "single_domain"
    NOT_EC2 = "not_ec2_capacity"                        # FARGATE, FARGATE_SPOT, EXTERNAL
    MANAGED_INSTANCES = "managed_instances"             # ECS places and consolidates itself
    ECS_AZ_REBALANCING = "ecs_az_rebalancing_in_progress"
    TASKS_BEING_REPLACED = "tasks_being_replaced"       # on DRAINING/gone instances, unplaced
    AT_CAPACITY = "at_capacity"
    MOVES_PLANNED = "moves_planned"


class Status(Code):
    """``ServicePlan.status`` values."""

    BALANCED = "balanced"          # every level's skew <= max_skew
    REBALANCE = "rebalance"        # moves planned
    AT_CAPACITY = "at_capacity"    # out of balance, but capacity allows no better layout
    SKIPPED = "skipped"            # see ServicePlan.skip


class Refused(Code):
    """Why the evictor refused a service this step (``Refusal.code``)."""

    SURGE_IN_PROGRESS = "surge_in_progress"
    NO_PROGRESS = "no_progress"
    NO_DISRUPTION_BUDGET = "no_disruption_budget"
    PROTECTED = "protected"
    DEFERRED = "deferred"
    AZ_BUDGET = "az_budget"
    DEADLINE = "deadline"
    SURGE_WOULD_NOT_HELP = "surge_would_not_help"
    LEASE_HELD = "lease_held"                # another run holds the service's lease
    TARGETS_UNHEALTHY = "targets_unhealthy"  # auto: no surge while a target is unhealthy
    REDEPLOY_NATIVE_STRATEGY = "redeploy_native_strategy"  # redeploy of a BLUE_GREEN/LINEAR/CANARY


__all__ = ["Code", "Reason", "Refused", "Status"]
