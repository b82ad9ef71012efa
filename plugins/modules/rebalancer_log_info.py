#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rebalancer_log_info
short_description: Read what the taskspread rebalancer Lambda did, from its JSON log lines
version_added: 0.1.0
description:
  - Reads the rebalancer function's CloudWatch Logs group (FilterLogEvents, paginated) and
    parses every JSON line the handler wrote (C(event) is C(triggered), C(skew_before),
    C(moves), C(dry_run_plan), C(no_rebalancing_needed), C(engine_error), C(config_error)).
  - Lets a playbook (for example C(taskspread.ecs.validate)) assert that the rebalancer was
    invoked and what it decided.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  log_group_name:
    description: The function's log group, C(/aws/lambda/<function name>).
    type: str
    required: true
  start_time:
    description: Only lines logged at or after this time, in milliseconds since the epoch.
    type: int
    default: 0
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: What did the rebalancer do in the last ten minutes?
  taskspread.ecs.rebalancer_log_info:
    log_group_name: /aws/lambda/taskspread-demo-rebalancer
    start_time: "{{ (now(utc=true).timestamp() - 600) * 1000 | int }}"
  register: rebalancer_log
"""

RETURN = r"""
invocations:
  description: Invocations seen (Lambda START lines).
  returned: always
  type: int
  sample: 3
entries:
  description: The handler's JSON lines, oldest first, each with its C(timestamp) (ms).
  returned: always
  type: list
  elements: dict
  sample: [{"event": "no_rebalancing_needed", "reason": "nothing to move", "timestamp": 1764340000000}]
last_timestamp:
  description:
    - Timestamp (ms) of the newest log event read, 0 when none. A playbook that wants "what
      happened from now on" passes this plus one as the next O(start_time); it is on the log
      service's clock, which is not the controller's (nor, in the sandbox, the wall clock).
  returned: always
  type: int
counts:
  description: Number of entries per C(event) kind.
  returned: always
  type: dict
  sample: {"triggered": 3, "moves": 1, "no_rebalancing_needed": 2}
moved:
  description: Tasks moved in all C(moves) entries.
  returned: always
  type: int
  sample: 1
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def parse(events):
    """(invocations, entries) from raw FilterLogEvents events."""
    invocations, entries = 0, []
    for event in sorted(events, key=lambda e: (e.get("timestamp", 0), e.get("eventId", ""))):
        message = event.get("message", "").strip()
        if message.startswith("START RequestId:"):
            invocations += 1
            continue
        try:
            line = json.loads(message)
        except ValueError:
            continue
        if isinstance(line, dict) and "event" in line:
            line["timestamp"] = event.get("timestamp")
            entries.append(line)
    return invocations, entries


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            log_group_name=dict(type="str", required=True),
            start_time=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    client = module.client("logs")
    events = []
    try:
        paginator = client.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=module.params["log_group_name"],
                                       startTime=module.params["start_time"]):
            events.extend(page.get("events", []))
    except client.exceptions.ResourceNotFoundException:
        module.fail_json(msg=f"log group {module.params['log_group_name']} not found; "
                             "is the rebalancer deployed?")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg="Failed to read the rebalancer's log")
    invocations, entries = parse(events)
    counts = {}
    for entry in entries:
        counts[entry["event"]] = counts.get(entry["event"], 0) + 1
    moved = sum(int(e.get("count", 0)) for e in entries if e["event"] == "moves")
    last = max((int(e.get("timestamp", 0)) for e in events), default=0)
    module.exit_json(changed=False, invocations=invocations, entries=entries, counts=counts,
                     moved=moved, last_timestamp=last)


if __name__ == "__main__":
    main()
