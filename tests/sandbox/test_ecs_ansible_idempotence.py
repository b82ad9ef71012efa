"""community.aws's ECS modules against a sandbox subprocess: the second run changes nothing.

The playbook creates a cluster, a task definition and a service (task_definition given as
family:revision, which is what ecs_service compares), reads them back with the info modules,
and is run twice; the second PLAY RECAP must report changed=0.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from sandbox.process import BIN, ROOT, ansible_env, sandbox_server

PYTHON = Path(sys.executable)
PLAYBOOK_BIN = BIN / "ansible-playbook"

pytestmark = pytest.mark.e2e

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: Cluster
          community.aws.ecs_cluster:
            name: idem
            state: present

        - name: Task definition
          community.aws.ecs_taskdefinition:
            family: idem-web
            state: present
            network_mode: bridge
            containers:
              - name: web
                image: nginx:1.27
                cpu: 128
                memory: 128
                essential: true
                portMappings:
                  - containerPort: 80
                    hostPort: 0
                    protocol: tcp
                environment:
                  - name: MODE
                    value: demo
          register: td

        - name: Service
          community.aws.ecs_service:
            name: idem-web
            cluster: idem
            state: present
            task_definition: "{{ td.taskdefinition.family }}:{{ td.taskdefinition.revision }}"
            desired_count: 2
            launch_type: EC2
            deployment_configuration:
              minimum_healthy_percent: 50
              maximum_percent: 200
            placement_strategy:
              - type: spread
                field: attribute:ecs.availability-zone
              - type: spread
                field: instanceId

        - name: Read the task definition back
          community.aws.ecs_taskdefinition_info:
            task_definition: "{{ td.taskdefinition.family }}:{{ td.taskdefinition.revision }}"

        - name: Read the service back
          community.aws.ecs_service_info:
            cluster: idem
            service: idem-web
            details: true
          register: info

        - name: The service is there
          ansible.builtin.assert:
            that:
              - info.services | length == 1
              - info.services[0].desiredCount == 2
    """)


@pytest.fixture
def sandbox_process():
    with sandbox_server(speed=20) as endpoint:
        yield endpoint


def run_playbook(endpoint: str, playbook: Path, tmp_path: Path) -> tuple[str, dict]:
    env = ansible_env(endpoint)
    env.update({"ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                "ANSIBLE_HOME": str(tmp_path / "ansible-home")})
    out = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(playbook),
                          "-e", f"ansible_python_interpreter={PYTHON}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+"
                  r"failed=(\d+)", text)
    assert m, text
    recap = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))
    return text, recap


def test_ecs_modules_are_idempotent(sandbox_process, tmp_path):
    playbook = tmp_path / "ecs.yml"
    playbook.write_text(PLAYBOOK)
    first_text, first = run_playbook(sandbox_process, playbook, tmp_path)
    assert first["changed"] == 3 and first["failed"] == 0, first_text
    second_text, second = run_playbook(sandbox_process, playbook, tmp_path)
    assert second["changed"] == 0 and second["failed"] == 0, second_text
    with urllib.request.urlopen(sandbox_process + "/_sandbox/status", timeout=5) as resp:
        status = json.loads(resp.read())
    assert status["ecs"]["services"] == 1 and status["ecs"]["clusters"] == 1
