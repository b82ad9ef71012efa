#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_concurrency
short_description: Set or remove an AWS Lambda function's reserved concurrency
version_added: 0.1.0
description:
  - Sets C(ReservedConcurrentExecutions) of a function (PutFunctionConcurrency), or removes the
    reservation (DeleteFunctionConcurrency), only when it differs from what is set.
  - C(amazon.aws.lambda) does not manage reserved concurrency; the C(taskspread.ecs.rebalancer)
    role uses this module to keep at most one rebalancer running per cluster.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  name:
    description: Name or ARN of the function.
    type: str
    required: true
  reserved_concurrent_executions:
    description:
      - Executions reserved for the function. C(0) stops every invocation (throttled).
      - Omit, or set O(state=absent), to remove the reservation.
    type: int
  state:
    description: C(present) sets the reservation, C(absent) removes it.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: One rebalancer at a time
  taskspread.ecs.lambda_concurrency:
    name: taskspread-demo-rebalancer
    reserved_concurrent_executions: 1
"""

RETURN = r"""
reserved_concurrent_executions:
  description: The reservation after the module ran (null when none).
  returned: always
  type: int
  sample: 1
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            reserved_concurrent_executions=dict(type="int"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[["state", "present", ["reserved_concurrent_executions"]]],
        supports_check_mode=True,
    )
    name = module.params["name"]
    wanted = module.params["reserved_concurrent_executions"]
    if module.params["state"] == "absent":
        wanted = None
    elif wanted < 0:
        module.fail_json(msg=f"reserved_concurrent_executions must be 0 or more, got {wanted}")
    client = module.client("lambda")
    try:
        current = client.get_function_concurrency(FunctionName=name).get(
            "ReservedConcurrentExecutions")
        current = None if current is None else int(current)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to read the concurrency of function {name}")
    if current == wanted:
        module.exit_json(changed=False, reserved_concurrent_executions=current)
    if not module.check_mode:
        try:
            if wanted is None:
                client.delete_function_concurrency(FunctionName=name)
            else:
                client.put_function_concurrency(FunctionName=name,
                                                ReservedConcurrentExecutions=wanted)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            module.fail_json_aws(err, msg=f"Failed to set the concurrency of function {name}")
    module.exit_json(changed=True, reserved_concurrent_executions=wanted)


if __name__ == "__main__":
    main()
