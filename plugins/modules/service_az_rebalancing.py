#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_az_rebalancing
short_description: Turn Amazon ECS's own Availability Zone rebalancing on or off for a service
version_added: 0.1.0
description:
  - Sets a service's C(availabilityZoneRebalancing) with UpdateService, only when it differs.
    Changing it does not start a deployment.
  - Since 2025-09-05 ECS enables AZ rebalancing by default for new eligible services (REPLICA,
    AZ spread first or no strategy, maximumPercent above 100, no AZ constraint, no Classic
    Load Balancer). It then starts tasks in the short AZs and stops tasks in the over ones by
    itself. C(taskspread.ecs.rebalance) leaves the AZ level of such services to ECS and balances
    only instances inside each AZ.
  - C(community.aws.ecs_service) cannot set this field; the C(taskspread.ecs.sample_app) role
    uses this module.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  cluster:
    description: Name or ARN of the ECS cluster.
    type: str
    required: true
  service:
    description: Name or ARN of the service.
    type: str
    required: true
  state:
    description: C(enabled) lets ECS rebalance the service's AZs; C(disabled) stops it.
    type: str
    required: true
    choices: [enabled, disabled]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Reproduce the pre-2025 world of the reference walkthrough (ECS never moves tasks)
  taskspread.ecs.service_az_rebalancing:
    cluster: taskspread-demo
    service: sample-app
    state: disabled
"""

RETURN = r"""
availability_zone_rebalancing:
  description: The setting after the module ran (C(ENABLED) or C(DISABLED)).
  returned: always
  type: str
  sample: DISABLED
service_arn:
  description: ARN of the service.
  returned: always
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def describe(client, cluster, service):
    services = client.describe_services(cluster=cluster, services=[service])["services"]
    found = [s for s in services if s.get("status") != "INACTIVE"]
    return found[0] if found else None


def ensure_setting(module, client, cluster, service, wanted):
    """(changed, setting before, service document after)."""
    current = describe(client, cluster, service)
    if current is None:
        module.fail_json(msg=f"ECS service {service!r} not found in cluster {cluster!r}")
    before = current.get("availabilityZoneRebalancing", "DISABLED")
    if before == wanted:
        return False, before, current
    if module.check_mode:
        return True, before, {**current, "availabilityZoneRebalancing": wanted}
    resp = client.update_service(cluster=cluster, service=service,
                                 availabilityZoneRebalancing=wanted)
    return True, before, resp["service"]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            service=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=["enabled", "disabled"]),
        ),
        supports_check_mode=True,
    )
    cluster, service = module.params["cluster"], module.params["service"]
    wanted = module.params["state"].upper()
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        changed, before, doc = ensure_setting(module, client, cluster, service, wanted)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to set AZ rebalancing of service {service}")
    after = doc.get("availabilityZoneRebalancing", "DISABLED")
    result = {"changed": changed, "availability_zone_rebalancing": after,
              "service_arn": doc.get("serviceArn", "")}
    if module._diff:
        result["diff"] = {"before": {"availability_zone_rebalancing": before},
                          "after": {"availability_zone_rebalancing": after}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
