"""taskspread rebalancing engine: snapshot -> plan (pure) -> evictor -> executor.

Standard library + boto3/botocore only, relative imports only: the same package is imported by
the Ansible modules (``ansible_collections.taskspread.ecs.plugins.module_utils._engine``) and
shipped inside the Lambda zip under another name.

Layers, bottom to top (a module imports only the ones below it; ``tests/sandbox/
test_engine_layers.py`` keeps it so):

1. ``errors``, ``codes``, ``model``, ``filling``, ``deadline``, ``aws_client``, ``lock``,
   ``health`` (health as ECS counts it), ``bounds`` (the range of every numeric option),
   ``eni_limits`` (awsvpc task limits per instance type, with and without ENI trunking),
   ``gc_pause`` (the cyclic garbage collector paused over a decision's bulk phases):
   import nothing from the engine;
2. ``placement_expr`` (memberOf expressions), ``plan_types`` (what the planner returns),
   ``lease`` (the per-service lease in DynamoDB);
3. ``candidates`` (levels, constraints, capacity ledger, candidate instances), ``fenced``
   (ECS writes behind the lease's fence check);
4. ``targets`` (targets per level), ``breaker`` (the no-progress breaker: a step's cause and
   record, pure);
5. ``planner`` (the plan), ``snapshot`` (the one read path);
6. ``surge`` (the surge search), ``surging`` (the surge's phases under the lease), ``report``
   (per-service distributions);
7. ``evictor`` (what may move now), then ``executor`` (the API calls), then ``runner``
   (the loop the modules and the Lambda share).
"""

from .aws_client import client_config
from .codes import Reason, Refused, Status
from .errors import (
    ClusterNotFound, EngineError, ExpressionError, UnknownServices, UnsupportedExpression,
)
from .model import (
    AZ_ATTRIBUTE, ClusterSnapshot, Instance, PlacementConstraint, PlacementStrategy, Service,
    Task, TaskResources,
)
from .candidates import INSTANCE_LEVEL
from .placement_expr import compile_expression
from .plan_types import Distribution, Explanation, Move, Plan, PlanOptions, ServicePlan
from .planner import OPT_OUT_TAG, distribution, plan
from .snapshot import take_snapshot, task_resources

__all__ = [
    "AZ_ATTRIBUTE", "ClusterNotFound", "ClusterSnapshot", "Distribution", "EngineError",
    "Explanation", "ExpressionError", "INSTANCE_LEVEL", "Instance", "Move", "OPT_OUT_TAG",
    "PlacementConstraint", "PlacementStrategy", "Plan", "PlanOptions", "Reason", "Refused",
    "Service", "ServicePlan", "Status", "Task", "TaskResources", "UnknownServices",
    "UnsupportedExpression", "client_config", "compile_expression", "distribution", "plan",
    "take_snapshot", "task_resources",
]
