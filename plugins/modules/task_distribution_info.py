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
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  cluster:
    description: Name or ARN of the ECS cluster.
    type: str
    required: true
  services:
    description:
      - Names of the services to report. All services of the cluster when omitted.
      - Naming a service that does not exist is an error.
    type: list
    elements: str
  max_skew:
    description: Largest skew at any level that still counts as balanced.
    type: int
    default: 1
extends_documentation_fragment:
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
instances:
  description: The cluster's container instances.
  returned: always
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
    levels:
      description: Placement levels, outermost first (C(ecs.availability-zone), C(instanceId)).
      type: list
      elements: str
    instances:
      description: Task count per eligible container instance ARN (empty ones included).
      type: dict
    azs:
      description: Task count per Availability Zone of the eligible instances.
      type: dict
    targets:
      description: The balanced task count per eligible container instance ARN.
      type: dict
    ineligible:
      description: Task count per instance that holds tasks but is not eligible.
      type: dict
    skew:
      description: Skew per level.
      type: dict
    balanced:
      description: Whether every level's skew is at most max_skew.
      type: bool
    moves_needed:
      description: The fewest task moves that reach the balanced targets.
      type: int
    skip:
      description: Why the rebalancer leaves this service alone, or null.
      type: dict
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

from ansible_collections.taskspread.ecs.plugins.module_utils.engine import (
    EngineError, client_config, distribution_report, take_snapshot,
)


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        max_skew=dict(type="int", default=1),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["max_skew"] < 1:
        module.fail_json(msg=f"max_skew must be at least 1, got {params['max_skew']}")
    ecs = module.client("ecs", config=client_config())
    try:
        snapshot = take_snapshot(ecs, params["cluster"], params["services"])
    except EngineError as err:
        module.fail_json(msg=str(err))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to read ECS cluster {params['cluster']}")
    module.exit_json(changed=False, **distribution_report(snapshot, params["max_skew"],
                                                          params["services"]))


if __name__ == "__main__":
    main()
