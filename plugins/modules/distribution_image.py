#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: distribution_image
short_description: Draw a task_distribution_info result as a PNG picture of the cluster
version_added: 0.1.0
description:
  - Draws the result of M(taskspread.ecs.task_distribution_info) (called with O(taskspread.ecs.task_distribution_info#module:detail=true))
    as a PNG image. Availability Zones are columns, container instances are boxes inside them
    (dashed and grey when not C(ACTIVE) or their agent is disconnected), and every task is a
    square coloured by its service.
  - Below the columns, one line per service gives its colour, its task count, its skew at each
    placement level (AZ and instance, largest count minus smallest), and whether it is
    balanced, out of balance or skipped (with the reason). The title names the cluster; a
    label (a stage or a time) and the cluster's verdict follow.
  - Large clusters stay legible; the boxes of an AZ wrap into several columns, an instance
    with more than 40 tasks shows the rest as C(+N), and past nine services the others share
    one grey colour and one C(+N more services) line (limit them with O(services)).
  - The same input gives the same bytes, so the file is only rewritten (and the task only
    C(changed)) when the picture differs. The picture's text (the same lines as the
    C(taskspread.ecs.distribution_table) filter) is stored in the PNG's C(Description) and is
    what C(--diff) shows.
  - Writes where the module runs; for the controller run it on C(localhost) or use
    C(delegate_to) C(localhost).
author:
  - taskspread.ecs maintainers (@taskspread)
requirements:
  - matplotlib (with Pillow, which it installs)
options:
  distribution:
    description:
      - The registered result of M(taskspread.ecs.task_distribution_info), called with
        O(taskspread.ecs.task_distribution_info#module:detail=true).
    type: dict
    required: true
  dest:
    description:
      - Path of the PNG file. Missing directories are created. A relative path is relative to
        the directory the module runs in.
    type: path
    required: true
  title:
    description: First line of the picture. Default C(ECS cluster <name>).
    type: str
  label:
    description:
      - Second line of the picture, for example the stage or the time it shows.
      - A changing label (such as the current time) makes every run write a new file.
    type: str
    default: ""
  services:
    description: Only these services (names as in the result's C(services)); default all.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.files
notes:
  - Check mode draws the picture and compares it, but writes nothing.
"""

EXAMPLES = r"""
- name: Read the spread, per instance
  taskspread.ecs.task_distribution_info:
    cluster: demo
    detail: true
  register: spread

- name: Draw it
  taskspread.ecs.distribution_image:
    distribution: "{{ spread }}"
    dest: "{{ playbook_dir }}/pictures/demo-after.png"
    label: after scale-out
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: Absolute path of the PNG.
  returned: always
  type: str
  sample: /home/me/taskspread-output/pictures/01-baseline.png
size:
  description: Size of the PNG in bytes.
  returned: always
  type: int
  sample: 41672
width:
  description: Width of the picture in pixels.
  returned: always
  type: int
  sample: 900
height:
  description: Height of the picture in pixels.
  returned: always
  type: int
  sample: 556
sha256:
  description: Hex SHA-256 of the PNG.
  returned: always
  type: str
  sample: 4f2c7e...
services:
  description: The services drawn, sorted.
  returned: always
  type: list
  elements: str
  sample: [sample-app]
description:
  description: The picture's text, one string per line (title, label, verdict, then the table).
  returned: always
  type: list
  elements: str
"""

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.taskspread.ecs.plugins.module_utils.distribution_image import (
    HAS_MATPLOTLIB, MATPLOTLIB_IMPORT_ERROR, build, description_of,
)
from ansible_collections.taskspread.ecs.plugins.module_utils.distribution_view import ViewError
from ansible_collections.taskspread.ecs.plugins.module_utils.lambda_zip import write_if_changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            distribution=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
            title=dict(type="str"),
            label=dict(type="str", default=""),
            services=dict(type="list", elements="str"),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"), exception=MATPLOTLIB_IMPORT_ERROR)
    params = module.params
    dest = os.path.abspath(params["dest"])
    if os.path.isdir(dest):
        module.fail_json(msg=f"dest {dest} is a directory; give the PNG's file name")
    try:
        picture = build(params["distribution"], params["title"], params["label"],
                        params["services"])
    except ViewError as err:
        module.fail_json(msg=f"cannot draw the distribution: {err}")
    data = picture.png()
    try:
        with open(dest, "rb") as handle:
            old = handle.read()
    except FileNotFoundError:
        old = None
    except OSError as err:
        module.fail_json(msg=f"cannot read {dest}: {err}")
    changed = old != data
    if changed and not module.check_mode:
        try:
            write_if_changed(dest, data)
        except OSError as err:
            module.fail_json(msg=f"cannot write {dest}: {err}")
    if os.path.exists(dest):
        file_args = module.load_file_common_arguments(params, path=dest)
        changed = module.set_fs_attributes_if_different(file_args, changed)
    width, height = picture.size
    result = dict(changed=changed, dest=dest, size=len(data), width=width, height=height,
                  sha256=hashlib.sha256(data).hexdigest(), services=picture.services,
                  description=picture.description)
    if module._diff:
        # The words of both pictures, and their bytes' fingerprint (a picture can change with
        # the same words, after a matplotlib upgrade for instance).
        before = (description_of(old) + f"\n({len(old)} bytes, sha256 "
                  f"{hashlib.sha256(old).hexdigest()[:12]})\n") if old is not None else ""
        result["diff"] = dict(before_header=dest, after_header=dest, before=before,
                              after="\n".join(picture.description)
                              + f"\n({len(data)} bytes, sha256 {result['sha256'][:12]})\n")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
