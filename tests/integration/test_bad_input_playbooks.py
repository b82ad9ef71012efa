"""Bad input to the roles' argument specs and the playbooks' variables: a clear error, no
traceback, nothing changed (issue 6.4). One sandbox subprocess for the whole table."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from sandbox.process import BIN, ROOT, ansible_env, sandbox_server

pytestmark = pytest.mark.e2e

ROLE_PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  roles:
    - role: taskspread.ecs.{role}
"""

CASES = [
    # (playbook or role:<name>, extra vars, extra args, message pattern)
    ("deploy", {"taskspread_target": "moon"}, [], r"taskspread_target must be sandbox or aws"),
    ("teardown", {"taskspread_target": "moon"}, [], r"taskspread_target must be sandbox or aws"),
    ("validate", {}, ["--check"], r"no check mode"),
    ("rebalance", {"cluster": "missing"}, [], r"'missing' not found"),
    ("rebalance", {"cluster": "taskspread-demo", "max_skew": 0}, [], r"max_skew"),
    ("rebalance", {"cluster": "taskspread-demo", "rebalance_strategy": "shuffle"}, [],
     r"strategy must be one of"),
    ("role:cluster", {"cluster_asg_desired_capacity": "two"}, [],
     r"cluster_asg_desired_capacity.*(int|convert)"),
    ("role:cluster", {"cluster_state": "gone"}, [], r"cluster_state.*(present, absent)"),
    ("role:alb", {"alb_subnet_ids": "subnet-1", "alb_health_check_interval": "often"}, [],
     r"alb_health_check_interval"),
    ("role:sample_app", {"sample_app_desired_count": [2]}, [], r"sample_app_desired_count"),
    ("role:rebalancer", {"rebalancer_strategy": "shuffle"}, [], r"rebalancer_strategy"),
    ("role:rebalancer", {"rebalancer_max_skew": "wide"}, [], r"rebalancer_max_skew"),
]


@pytest.fixture(scope="module")
def endpoint():
    with sandbox_server(speed=50) as url:
        yield url


@pytest.mark.parametrize("target, extra, args, pattern", CASES,
                         ids=[f"{c[0]}-{next(iter(c[1]), 'check')}" for c in CASES])
def test_bad_input_fails_clearly_and_changes_nothing(endpoint, tmp_path, target, extra, args,
                                                     pattern):
    if target.startswith("role:"):
        playbook = tmp_path / "role.yml"
        playbook.write_text(ROLE_PLAY.format(role=target.split(":", 1)[1]))
    else:
        playbook = ROOT / "playbooks" / f"{target}.yml"
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(extra), *args],
        cwd=ROOT, env=ansible_env(endpoint), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert re.search(pattern, output), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    recap = re.search(r"changed=(\d+)", output)
    assert recap is None or recap.group(1) == "0", output[-3000:]
