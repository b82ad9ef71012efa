# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: distribution_table
short_description: Render task_distribution_info output as a readable table
version_added: 0.1.0
description:
  - Turns the result of M(taskspread.ecs.task_distribution_info) into lines of text, one per
    container instance and service (AZ, EC2 instance id, task count and a bar), then each
    service's skew and balance.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  _input:
    description: The registered result of C(taskspread.ecs.task_distribution_info).
    type: dict
    required: true
  title:
    description: First line of the table.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Show the spread
  ansible.builtin.debug:
    msg: "{{ spread | taskspread.ecs.distribution_table('after scale-out') }}"
"""

RETURN = r"""
_value:
  description: The table, one string per line.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def distribution_table(info, title=""):
    if not isinstance(info, dict) or "services" not in info:
        raise AnsibleFilterError("distribution_table expects the result of task_distribution_info")
    instances = sorted(info.get("instances") or [], key=lambda i: (i.get("az", ""), i.get("arn", "")))
    lines = [title] if title else []
    for name, service in sorted(info["services"].items()):
        counts = service.get("instances") or {}
        lines.append(f"service {name}:")
        for instance in instances:
            count = counts.get(instance["arn"], 0)
            label = instance.get("ec2_instance_id") or instance["arn"].rsplit("/", 1)[-1]
            lines.append(f"  {instance.get('az', '?'):<12} {label:<21} {count:>3}  {'#' * count}"
                         f"{'' if instance.get('status') == 'ACTIVE' else '  (' + str(instance.get('status')) + ')'}")
        skew = ", ".join(f"{level}={value}" for level, value in (service.get("skew") or {}).items())
        skip = service.get("skip")
        if isinstance(skip, dict):
            skip = skip.get("message") or skip.get("code")
        state = "balanced" if service.get("balanced") else (
            f"skipped: {skip}" if skip else "OUT OF BALANCE")
        lines.append(f"  skew {skew or 'n/a'}; {state}")
    return lines


class FilterModule:
    def filters(self):
        return {"distribution_table": distribution_table}
