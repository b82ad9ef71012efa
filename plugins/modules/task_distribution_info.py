#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: task_distribution_info
short_description: Show where each ECS service's tasks run and how skewed they are
version_added: 0.1.0
description:
  - Reads an ECS cluster (container instances, services, their running tasks and task
    definitions) and reports, per service, the task count on every eligible container
    instance and Availability Zone, the skew at each placement level, and whether the service
    is balanced.
  - A container instance is eligible for a service when it is C(ACTIVE), its agent is
    connected, it satisfies the service's placement constraints and it has room for one more
    task (or already holds one).
  - Balanced means every level's skew (largest count minus smallest over eligible domains) is
    at most O(max_skew).
  - Each service also shows its lease (the per-service lock of the C(taskspread.ecs.rebalance)
    module and the rebalancer function, in the DynamoDB table O(lease_table)), that is who
    holds it, since and until when, and whether a surge state waits in it to be healed; and
    the no-progress breaker's record kept in it (the last completed step, since when, when it
    re-arms, and whether it holds the service now).
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  lease_table:
    description:
      - DynamoDB table of the per-service leases to read. When it cannot be read (missing, or
        no C(dynamodb:GetItem)), every C(lease) is null and a warning says why.
    type: str
    default: taskspread-ecs-leases
  no_progress_minutes:
    description:
      - The C(no_progress_minutes) of M(taskspread.ecs.rebalance) and the rebalancer, to say when
        each service's no-progress breaker re-arms and whether it holds the service now
        (1 to 1440).
    type: int
    default: 60
extends_documentation_fragment:
  - taskspread.ecs.cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Show the task spread of every service in the cluster
  taskspread.ecs.task_distribution_info:
    cluster: demo
  register: spread

- name: Fail when the sample app is out of balance
  ansible.builtin.assert:
    that: spread.services['sample-app'].balanced
"""

RETURN = r"""
cluster:
  description: The cluster's name.
  returned: always
  type: str
  sample: demo
balanced:
  description: Whether every reported service is balanced or skipped for a reason.
  returned: always
  type: bool
imbalanced_services:
  description: Names of the services that are out of balance.
  returned: always
  type: list
  elements: str
instance_summary:
  description:
    - The cluster's container instances by status (C(by_status)), how many (C(total)), and the
      ones that accept tasks (ACTIVE, agent connected) per AZ (C(accepting_by_az)).
  returned: always
  type: dict
  sample: {"total": 3, "by_status": {"ACTIVE": 2, "DRAINING": 1}, "accepting_by_az": {"us-east-1a": 1, "us-east-1b": 1}}
instances:
  description: The cluster's container instances; only with O(detail).
  returned: when O(detail) is not false
  type: list
  elements: dict
  contains:
    arn:
      description: Container instance ARN.
      type: str
    ec2_instance_id:
      description: EC2 instance id.
      type: str
    az:
      description: Availability Zone.
      type: str
    status:
      description: Container instance status (ACTIVE, DRAINING, ...).
      type: str
    agent_connected:
      description: Whether the ECS agent is connected.
      type: bool
services:
  description: Per service name, its distribution.
  returned: always
  type: dict
  contains:
    service:
      description: The service name.
      type: str
    status:
      description: The planner's status (balanced, rebalance, deferred, at_capacity, skipped).
      type: str
    reason:
      description: Why a service that is not balanced is not (code and message), or null.
      type: dict
    levels:
      description: Placement levels, outermost first (C(ecs.availability-zone), C(instanceId)).
      type: list
      elements: str
    azs:
      description:
        - Task count per Availability Zone as ECS's spread counts them (tasks on every ACTIVE
          instance).
      type: dict
    skew:
      description: Skew per level.
      type: dict
    balanced:
      description: Whether every level's skew is at most max_skew (levels in C(delegated) aside).
      type: bool
    moves_needed:
      description: The fewest task moves that bring every level within max_skew.
      type: int
    max_skew:
      description: The max_skew used.
      type: int
    az_rebalancing:
      description: The service's availabilityZoneRebalancing (ENABLED or DISABLED).
      type: str
    delegated:
      description: Levels left to ECS (the AZ level when its AZ rebalancing is ENABLED).
      type: list
      elements: str
    capacity_providers:
      description: The providers of the effective capacity provider strategy (balanced inside each).
      type: list
      elements: str
    waiting:
      description: Tasks on DRAINING or deregistered instances that ECS is replacing.
      type: int
    skip:
      description: Why the rebalancer leaves this service alone, or null.
      type: dict
    instances:
      description:
        - Task count per eligible container instance ARN; only with O(detail).
        - Occupied instances and the empty ones that can change the targets (see C(complete)).
      type: dict
      returned: when the service is in O(detail)
    targets:
      description: The target task count per listed instance ARN; only with O(detail).
      type: dict
      returned: when the service is in O(detail)
    ineligible:
      description: Task count per instance that holds tasks but is not a candidate; only with O(detail).
      type: dict
      returned: when the service is in O(detail)
    complete:
      description: Whether every eligible instance is listed in C(instances); only with O(detail).
      type: bool
      returned: when the service is in O(detail)
leases:
  description:
    - Per service, its lease now. C(holder) is null when no run holds it, else the holder's
      C(owner) (run id), C(fence) (fencing number), C(since) and C(until) (epoch seconds on
      DynamoDB's clock). C(surge_pending) says whether a surge state waits in the lease to be
      healed. Null per service when the table cannot be read.
    - C(no_progress) is null when no step on the service completed (in the table's
      retention), else the no-progress breaker's record of the last one, C(run), C(mode),
      C(moves), C(need) (moves the service needed when it started), C(at) and C(since) (when
      it ended), C(rearms_at), C(cause_unchanged) (the service's pool, desired count, task
      definition and health percents are still those the step saw) and C(holding) (the
      breaker refuses the service now).
  returned: always
  type: dict
  sample:
    sample-app:
      holder: {"owner": "3f2a9c1b0e7d", "fence": 4, "since": 1764660000, "until": 1764660060}
      surge_pending: true
      no_progress: {"run": "3f2a9c1b0e7d", "mode": "redeploy", "moves": 2, "need": 2,
                    "cause": "9b1c0d2e3f405162", "at": 1764660000, "since": "2025-12-02T07:20:00Z",
                    "rearms_at": "2025-12-02T08:20:00Z", "cause_unchanged": true, "holding": true}
api_calls:
  description: ECS API calls made to read the cluster.
  returned: always
  type: int
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.taskspread.ecs.plugins.module_utils.options import (
    check_options, cluster_argument_spec, parse_detail,
)
from ansible_collections.taskspread.ecs.plugins.module_utils.engine import (
    EngineError, client_config, distribution_report, lease_holders, take_snapshot,
)


def main():
    argument_spec = cluster_argument_spec()
    argument_spec.update(lease_table=dict(type="str", default="taskspread-ecs-leases"),
                         no_progress_minutes=dict(type="int", default=60))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    check_options(module, ("max_skew", "no_progress_minutes"))
    detail = parse_detail(module)
    ecs = module.client("ecs", config=client_config())
    try:
        snapshot = take_snapshot(ecs, params["cluster"], params["services"])
    except EngineError as err:
        module.fail_json(msg=str(err))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to read ECS cluster {params['cluster']}")
    report = distribution_report(snapshot, params["max_skew"], params["services"], detail)
    ddb = module.client("dynamodb", config=client_config())
    try:
        leases, warning = lease_holders(
            ddb, params["lease_table"], snapshot, params["services"], params["max_skew"],
            params["no_progress_minutes"],
            {name: d.get("moves_needed") for name, d in report["services"].items()})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to read lease table {params['lease_table']}")
    if warning:
        module.warn(warning)
    module.exit_json(changed=False, leases=leases, **report)


if __name__ == "__main__":
    main()
