"""taskspread rebalancing engine: snapshot -> plan (pure) -> executor.

Standard library + boto3/botocore only, relative imports only: the same package is imported by
the Ansible modules (``ansible_collections.taskspread.ecs.plugins.module_utils._engine``) and
shipped inside the Lambda zip under another name.
"""

from .model import (
    AZ_ATTRIBUTE, ClusterNotFound, ClusterSnapshot, EngineError, Instance, PlacementConstraint,
    PlacementStrategy, Service, Task, TaskResources, UnknownServices,
)
from .placement_expr import ExpressionError, UnsupportedExpression, compile_expression
from .planner import (
    INSTANCE_LEVEL, OPT_OUT_TAG, Distribution, Move, Plan, PlanOptions, Reason, ServicePlan,
    Skip, Status, default_max_moves, distribution, plan,
)
from .snapshot import client_config, take_snapshot, task_resources

__all__ = [
    "AZ_ATTRIBUTE", "ClusterNotFound", "ClusterSnapshot", "Distribution", "EngineError",
    "ExpressionError", "INSTANCE_LEVEL", "Instance", "Move", "OPT_OUT_TAG", "PlacementConstraint",
    "PlacementStrategy", "Plan", "PlanOptions", "Reason", "Service", "ServicePlan", "Skip",
    "Status", "Task", "TaskResources", "UnknownServices", "UnsupportedExpression",
    "client_config", "compile_expression", "default_max_moves", "distribution", "plan",
    "take_snapshot", "task_resources",
]
