"""One endpoint per play (issue 12.1): every AWS module of a play, ours included, takes region,
endpoint and credentials from ``module_defaults: group/taskspread.ecs.aws``.

ansible-core's legacy ``group/aws`` holds amazon.aws and community.aws modules only; a play that
set its defaults there sent this collection's modules to whatever the environment pointed at
(the real AWS endpoint, with the caller's credentials). These tests point the environment at a
closed port and the play's defaults at a live sandbox: a module that missed the defaults fails
with a connection error instead of answering.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from sandbox.process import BIN, ROOT, ansible_env, sandbox_server

LEGACY_GROUP = re.compile(r"^\s*group/aws\s*:", re.MULTILINE)

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  module_defaults:
    group/taskspread.ecs.aws:
      region: us-east-1
      endpoint_url: "{endpoint}"
      access_key: testing
      secret_key: testing
  tasks:
    - name: amazon.aws
      amazon.aws.iam_role:
        name: endpoint-check
        assume_role_policy_document: '{{{{ {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "lambda.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}} | to_json }}}}'
        create_instance_profile: false
        delete_instance_profile: false
      register: role
    - name: amazon.aws lambda
      amazon.aws.lambda:
        name: endpoint-check
        runtime: python3.12
        handler: index.handler
        role: "{{{{ role.iam_role.arn }}}}"
        zip_file: "{zip}"
    - name: amazon.aws log group
      amazon.aws.cloudwatchlogs_log_group:
        log_group_name: /endpoint-check
    - name: community.aws
      community.aws.ecs_cluster:
        name: endpoint-check
        state: present
    - name: taskspread.ecs.lambda_concurrency
      taskspread.ecs.lambda_concurrency:
        name: endpoint-check
        reserved_concurrent_executions: 1
      register: concurrency
    - name: taskspread.ecs.task_distribution_info
      taskspread.ecs.task_distribution_info:
        cluster: endpoint-check
      register: spread
    - name: taskspread.ecs.rebalance
      taskspread.ecs.rebalance:
        cluster: endpoint-check
      check_mode: true
      register: plan
    - name: taskspread.ecs.rebalancer_log_info
      taskspread.ecs.rebalancer_log_info:
        log_group_name: /endpoint-check
      register: logs
    - name: taskspread.ecs.cloudwatch_dashboard
      taskspread.ecs.cloudwatch_dashboard:
        name: endpoint-check
        body: {{widgets: []}}
      register: dashboard
    - name: Report
      ansible.builtin.copy:
        dest: "{result}"
        mode: "0600"
        content: "{{{{ {{'concurrency': concurrency.reserved_concurrent_executions, 'cluster': spread.cluster, 'services': spread.services, 'plan_changed': plan.changed, 'log_invocations': logs.invocations, 'dashboard': dashboard.dashboard_arn}} | to_json }}}}"
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]   # closed again when the socket goes


def repository_texts():
    for pattern in ("playbooks/**/*.yml", "roles/**/*.yml", "roles/**/*.md",
                    "extensions/**/*.yml", "plugins/modules/*.py", "*.md", "docs/**/*.md"):
        for path in ROOT.glob(pattern):
            if ".venv" not in path.parts and ".collections" not in path.parts:
                yield path


def test_no_play_or_example_sets_its_aws_defaults_on_the_legacy_group_alone():
    offenders = [str(p.relative_to(ROOT)) for p in repository_texts()
                 if LEGACY_GROUP.search(p.read_text(errors="replace"))]
    assert offenders == [], (
        f"use module_defaults group/taskspread.ecs.aws (covers amazon.aws, community.aws and "
        f"taskspread.ecs modules), not group/aws: {offenders}")
    runtime = (ROOT / "meta" / "runtime.yml").read_text()
    assert "- amazon.aws.aws" in runtime and "- community.aws.aws" in runtime


@pytest.mark.e2e
def test_every_module_of_a_play_reaches_the_endpoint_of_its_defaults(tmp_path: Path):
    code = tmp_path / "fn.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("index.py", "def handler(event, context):\n    return event\n")
    with sandbox_server(speed=50) as endpoint:
        play = tmp_path / "play.yml"
        play.write_text(PLAY.format(endpoint=endpoint, zip=code, result=tmp_path / "out.json"))
        env = ansible_env(endpoint)
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{closed_port()}"  # the wrong place
        env.pop("AWS_DEFAULT_REGION")
        proc = subprocess.run([str(BIN / "ansible-playbook"), str(play)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Could not connect" not in proc.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result == {"concurrency": 1, "cluster": "endpoint-check", "services": {},
                      "plan_changed": False, "log_invocations": 0,
                      "dashboard": "arn:aws:cloudwatch::123456789012:dashboard/endpoint-check"}


@pytest.mark.e2e
@pytest.mark.parametrize("playbook", ["rebalance", "deploy"])
def test_no_region_anywhere_stops_before_any_call_and_says_what_to_set(playbook):
    env = ansible_env(f"http://127.0.0.1:{closed_port()}")
    for var in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        env.pop(var, None)
    env["AWS_CONFIG_FILE"] = "/dev/null"
    proc = subprocess.run([str(BIN / "ansible-playbook"), f"playbooks/{playbook}.yml",
                           "-e", "taskspread_target=aws"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "No AWS region for taskspread_target=aws: set AWS_REGION" in proc.stdout
    assert "taskspread_region" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    # the region check failed, and nothing but the checks ran before it
    ran = re.findall(r"^TASK \[(.*?)\]", proc.stdout, re.MULTILINE)
    assert ran[-1] == "Check that a region is set", ran
    assert set(ran) <= {"Check the target and the region", "Check the target",
                        "Check that a region is set"}, ran


@pytest.mark.e2e
def test_a_module_without_region_fails_with_a_clear_message():
    env = ansible_env(f"http://127.0.0.1:{closed_port()}")
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        env.pop(var, None)
    env["AWS_CONFIG_FILE"] = "/dev/null"
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-m",
                           "taskspread.ecs.task_distribution_info", "-a", "cluster=x",
                           "-e", f"ansible_python_interpreter={BIN / 'python'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "requires a region" in proc.stdout
