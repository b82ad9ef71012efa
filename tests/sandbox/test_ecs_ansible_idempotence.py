"""community.aws's ECS modules against a sandbox subprocess: the second run changes nothing.

The playbook creates a cluster, a task definition and a service (task_definition given as
family:revision, which is what ecs_service compares), reads them back with the info modules,
and is run twice; the second PLAY RECAP must report changed=0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python" if (VENV_BIN / "python").exists() else Path(sys.executable)
PLAYBOOK_BIN = VENV_BIN / "ansible-playbook"

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook missing")]

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(endpoint: str, proc: subprocess.Popen, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(endpoint + "/_sandbox/status", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"sandbox not ready after {timeout}s: {last}")


@pytest.fixture
def sandbox_process(tmp_path):
    port = free_port()
    log = open(tmp_path / "sandbox.log", "w")
    proc = subprocess.Popen([str(PYTHON), "-m", "sandbox", "serve", "--port", str(port),
                             "--speed", "20"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint, proc)
        yield endpoint
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def run_playbook(endpoint: str, playbook: Path, tmp_path: Path) -> tuple[str, dict]:
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
    })
    env.pop("AWS_PROFILE", None)
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
