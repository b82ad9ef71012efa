#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_package
short_description: Build a reproducible AWS Lambda zip from local source directories
version_added: 0.1.0
description:
  - Packs one or more directories into a zip whose bytes depend only on the files' paths and
    contents (sorted entries, fixed timestamps and modes), so rebuilding unchanged sources
    gives the same file, the same C(CodeSha256) and no change.
  - Used by the C(taskspread.ecs.rebalancer) role to ship the rebalancing engine and the
    Lambda handler together. Runs where the sources are (the controller for a local play).
  - Bytecode caches (C(__pycache__), C(*.pyc)) are left out.
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  dest:
    description: Path of the zip to write. Its directory is created when missing.
    type: path
    required: true
  sources:
    description: Directories to pack, in any order.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description: A local directory.
        type: path
        required: true
      prefix:
        description: Folder inside the zip for this directory's files (the package name).
        type: str
        default: ""
notes:
  - In check mode the zip is built in memory and compared, nothing is written.
"""

EXAMPLES = r"""
- name: Package the rebalancer (handler and engine) for Lambda
  taskspread.ecs.lambda_package:
    dest: /tmp/taskspread/rebalancer.zip
    sources:
      - src: "{{ collection_root }}/files/rebalancer"
        prefix: rebalancer
      - src: "{{ collection_root }}/plugins/module_utils/_engine"
        prefix: taskspread_engine
"""

RETURN = r"""
dest:
  description: Path of the zip.
  returned: always
  type: str
  sample: /tmp/taskspread/rebalancer.zip
code_sha256:
  description: Base64 SHA-256 of the zip, as Lambda reports it in C(CodeSha256).
  returned: always
  type: str
  sample: 2p4iYQ7g0cVRpFJQj1kXJ0nYqRsVwBtZ2E7JgL1ozk0=
sha256:
  description: Hex SHA-256 of the zip (handy in an S3 key).
  returned: always
  type: str
  sample: dae2226...
size:
  description: Size of the zip in bytes.
  returned: always
  type: int
  sample: 31022
files:
  description: Paths inside the zip, sorted.
  returned: always
  type: list
  elements: str
  sample: [rebalancer/handler.py, taskspread_engine/planner.py]
"""

import hashlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.taskspread.ecs.plugins.module_utils.lambda_zip import (
    PackageError, build, code_sha256, write_if_changed,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            sources=dict(type="list", elements="dict", required=True, options=dict(
                src=dict(type="path", required=True),
                prefix=dict(type="str", default=""),
            )),
        ),
        supports_check_mode=True,
    )
    dest = module.params["dest"]
    try:
        data, names = build(module.params["sources"])
    except (PackageError, OSError) as err:
        module.fail_json(msg=f"cannot package: {err}")
    if module.check_mode:
        try:
            with open(dest, "rb") as handle:
                changed = handle.read() != data
        except FileNotFoundError:
            changed = True
    else:
        changed = write_if_changed(dest, data)
    module.exit_json(changed=changed, dest=dest, code_sha256=code_sha256(data),
                     sha256=hashlib.sha256(data).hexdigest(), size=len(data), files=names)


if __name__ == "__main__":
    main()
