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

from ansible_collections.taskspread.ecs.plugins.module_utils.distribution_view import (
    ViewError, table_lines,
)


def distribution_table(info, title=""):
    try:
        return table_lines(info, title)
    except ViewError as err:
        raise AnsibleFilterError(f"distribution_table: {err}") from None


class FilterModule:
    def filters(self):
        return {"distribution_table": distribution_table}
