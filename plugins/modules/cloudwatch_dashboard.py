#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
short_description: Create, update or delete an Amazon CloudWatch dashboard
version_added: 0.2.0
description:
  - Puts a CloudWatch dashboard (PutDashboard) only when its body differs from the one stored
    (compared as JSON, so key order and whitespace do not count), or deletes it
    (DeleteDashboards).
  - Supports check mode and diff mode (the body before and after, as indented JSON).
  - Neither C(amazon.aws) nor C(community.aws) has a dashboard module; the
    C(taskspread.ecs.rebalancer) role uses this one for the rebalancer's dashboard.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  name:
    description: Name of the dashboard (up to 255 letters, digits, C(-) and C(_)).
    type: str
    required: true
  body:
    description:
      - The dashboard body, a JSON object with C(widgets) (see "Dashboard Body Structure and
        Syntax" in the CloudWatch API reference), as a dictionary or a JSON string.
      - Required with O(state=present).
    type: json
  state:
    description: C(present) creates or updates the dashboard, C(absent) deletes it.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A dashboard with one graph
  taskspread.ecs.cloudwatch_dashboard:
    name: demo-rebalancer
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: Services out of balance
            region: us-east-1
            stat: Maximum
            period: 300
            metrics:
              - [TaskSpread/ECS, ServicesOutOfBalance, Cluster, demo]

- name: Remove it
  taskspread.ecs.cloudwatch_dashboard:
    name: demo-rebalancer
    state: absent
"""

RETURN = r"""
dashboard_name:
  description: Name of the dashboard.
  returned: always
  type: str
  sample: demo-rebalancer
dashboard_arn:
  description: ARN of the dashboard (empty when it does not exist).
  returned: always
  type: str
  sample: arn:aws:cloudwatch::123456789012:dashboard/demo-rebalancer
body:
  description: The dashboard body after the module ran (empty when it does not exist).
  returned: always
  type: dict
  sample: {"widgets": []}
validation_messages:
  description: CloudWatch's validation messages of the body that was put (also given as warnings).
  returned: always
  type: list
  elements: dict
  sample: []
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

NOT_FOUND = ("ResourceNotFound", "ResourceNotFoundException")
NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _errors():
    return (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


def read(module, client, name):
    """(arn, body dict) of the stored dashboard, or ("", None) when there is none."""
    try:
        found = client.get_dashboard(DashboardName=name)
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in NOT_FOUND:
            return "", None
        module.fail_json_aws(err, msg=f"Failed to read dashboard {name}")
    except botocore.exceptions.BotoCoreError as err:
        module.fail_json_aws(err, msg=f"Failed to read dashboard {name}")
    try:
        return found.get("DashboardArn", ""), json.loads(found.get("DashboardBody") or "{}")
    except ValueError:
        return found.get("DashboardArn", ""), {"_unparsable": found.get("DashboardBody")}


def wanted_body(module):
    raw = module.params["body"]
    try:
        body = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as err:
        module.fail_json(msg=f"body is not valid JSON: {err}")
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        module.fail_json(msg="body must be a JSON object with a list of widgets")
    return body


def pretty(body):
    return "" if body is None else json.dumps(body, indent=2, sort_keys=True) + "\n"


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            body=dict(type="json"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[["state", "present", ["body"]]],
        supports_check_mode=True,
    )
    name = module.params["name"]
    if not NAME.fullmatch(name):
        module.fail_json(msg=f"name must be 1-255 letters, digits, - or _, got {name!r}")
    present = module.params["state"] == "present"
    body = wanted_body(module) if present else None
    client = module.client("cloudwatch")
    arn, current = read(module, client, name)
    result = dict(dashboard_name=name, dashboard_arn=arn, body=current or {},
                  validation_messages=[])
    if current == body:
        module.exit_json(changed=False, **result)
    result.update(changed=True, body=body or {},
                  diff=dict(before=pretty(current), after=pretty(body),
                            before_header=name, after_header=name))
    if module.check_mode:
        module.exit_json(**result)
    try:
        if present:
            answer = client.put_dashboard(DashboardName=name,
                                          DashboardBody=json.dumps(body, sort_keys=True))
            result["validation_messages"] = answer.get("DashboardValidationMessages") or []
            for message in result["validation_messages"]:
                module.warn(f"dashboard {name}: {message.get('DataPath', '')} "
                            f"{message.get('Message', '')}".strip())
        else:
            client.delete_dashboards(DashboardNames=[name])
    except _errors() as err:
        module.fail_json_aws(err, msg=f"Failed to {'put' if present else 'delete'} "
                                      f"dashboard {name}")
    if present:
        result["dashboard_arn"] = read(module, client, name)[0]
    else:
        result["dashboard_arn"] = ""
    module.exit_json(**result)


if __name__ == "__main__":
    main()
