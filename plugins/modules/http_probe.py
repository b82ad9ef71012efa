#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: http_probe
short_description: Keep a steady stream of HTTP requests on a URL and report availability
version_added: 0.1.0
description:
  - Sends one GET every O(interval) seconds until O(stop_file) exists or O(max_duration)
    passes, then reports requests sent and failed and the longest gap between two successful
    answers (how long the site looked down).
  - "Meant to run in the background (C(async) with C(poll: 0)) while a playbook changes the
    cluster (the C(taskspread.ecs.validate) playbook probes the load balancer through scale-in,
    scale-out and rebalancing), then collected with C(ansible.builtin.async_status)."
  - It only reads; it never changes anything.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  url:
    description: The URL to request.
    type: str
    required: true
  host_header:
    description: A C(Host) header to send (to reach a virtual host through another address).
    type: str
  interval:
    description: Seconds between requests.
    type: float
    default: 0.1
  timeout:
    description: Seconds before one request counts as failed.
    type: float
    default: 2.0
  expect_status:
    description: The HTTP status of a successful answer.
    type: int
    default: 200
  stop_file:
    description: The probe stops as soon as this file exists.
    type: path
  max_duration:
    description: The probe stops after this many seconds at the latest.
    type: float
    default: 3600
"""

EXAMPLES = r"""
- name: Probe the application in the background
  taskspread.ecs.http_probe:
    url: "{{ alb_url }}"
    stop_file: /tmp/taskspread-probe.stop
    max_duration: 1800
  async: 1900
  poll: 0
  register: probe_job

# ... change the cluster ...

- name: Stop the probe
  ansible.builtin.file:
    path: /tmp/taskspread-probe.stop
    state: touch
    mode: "0644"

- name: Collect what the probe saw
  ansible.builtin.async_status:
    jid: "{{ probe_job.ansible_job_id }}"
  register: probe
  until: probe.finished
  retries: 30
  delay: 2
"""

RETURN = r"""
sent:
  description: Requests sent.
  returned: always
  type: int
  sample: 1200
failed:
  description: Requests that failed (connection error, timeout or another status).
  returned: always
  type: int
  sample: 0
success_percent:
  description: Share of successful requests, in percent.
  returned: always
  type: float
  sample: 100.0
longest_gap_seconds:
  description: Longest time between two successful answers.
  returned: always
  type: float
  sample: 0.12
duration_seconds:
  description: How long the probe ran.
  returned: always
  type: float
  sample: 120.4
errors:
  description: The first few errors seen.
  returned: always
  type: list
  elements: str
  sample: ["HTTP 503"]
distinct_bodies:
  description: Distinct response bodies seen (tasks that answered, when pages differ per task).
  returned: always
  type: int
  sample: 2
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.taskspread.ecs.plugins.module_utils.probe import Probe


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            host_header=dict(type="str"),
            interval=dict(type="float", default=0.1),
            timeout=dict(type="float", default=2.0),
            expect_status=dict(type="int", default=200),
            stop_file=dict(type="path"),
            max_duration=dict(type="float", default=3600.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["url"].startswith(("http://", "https://")):
        module.fail_json(msg=f"url must start with http:// or https://, got {params['url']}")
    try:
        probe = Probe(params["url"], interval=params["interval"], timeout=params["timeout"],
                      host_header=params["host_header"], expect_status=params["expect_status"])
    except ValueError as err:
        module.fail_json(msg=str(err))
    deadline = time.monotonic() + params["max_duration"]
    stop_file = params["stop_file"]

    def until():
        return time.monotonic() >= deadline or bool(stop_file and os.path.exists(stop_file))

    module.exit_json(changed=False, **probe.run(until).to_dict())


if __name__ == "__main__":
    main()
