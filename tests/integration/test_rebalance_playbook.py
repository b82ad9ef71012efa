"""ansible-playbook taskspread.ecs.rebalance on a skewed cluster (issue 3's done-when): the seed
scenario built with boto3 in a sandbox subprocess, scaled 2 -> 1 -> 2 so both tasks sit on one
instance, then the playbook in check mode (the plan, nothing changes), for real (the minimal
move, through surge at minimumHealthyPercent 100), and again (changed=0)."""

from __future__ import annotations

import re
import subprocess

import pytest

from sandbox.process import BIN, ROOT, ansible_env, sandbox_server
from sandbox.scenario import (Clients, Driver, Seed, build_seed, counts, create_service,
                              distribution, steady)

pytestmark = pytest.mark.e2e
SPEED = 50


def playbook(endpoint: str, *args: str) -> tuple[str, dict]:
    out = subprocess.run([str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / "rebalance.yml"),
                          "-e", "cluster=demo", *args], cwd=ROOT, env=ansible_env(endpoint),
                         capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                  text)
    assert m, text[-4000:]
    return text, dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def active(aws: Clients) -> int:
    return len(aws("ecs").list_container_instances(cluster="demo", status="ACTIVE")[
        "containerInstanceArns"])


def test_rebalance_playbook_moves_the_minimum_and_is_idempotent():
    with sandbox_server(speed=SPEED) as endpoint:
        aws, driver = Clients(endpoint), Driver(speed=SPEED)
        seed = build_seed(aws, Seed(tasks=2, min_healthy_percent=100, max_percent=200))

        def settled(instances: int) -> bool:
            return active(aws) == instances and steady(aws, seed.cluster, seed.service)

        driver.wait_for(lambda: active(aws) == 2, 600, what="instances registered")
        create_service(aws, seed)
        driver.wait_for(lambda: settled(2), 600, what="service running")
        asg = aws("autoscaling")
        asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=1)
        driver.wait_for(lambda: settled(1), 900, what="scale-in settled")
        asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=2)
        driver.wait_for(lambda: settled(2), 900, what="scale-out settled")
        assert counts(distribution(aws, "demo", seed.service)) == [2, 0]

        text, recap = playbook(endpoint, "--check")
        assert "OUT OF BALANCE" in text and "1 move(s) planned" in text, text[-3000:]
        assert recap["changed"] == 1
        assert counts(distribution(aws, "demo", seed.service)) == [2, 0]   # check mode: no change

        text, recap = playbook(endpoint)
        assert re.search(r"1 task\(s\) moved in \d+ step\(s\); balanced", text), text[-3000:]
        assert recap["changed"] == 1
        assert counts(distribution(aws, "demo", seed.service)) == [1, 1]
        svc = aws("ecs").describe_services(cluster="demo", services=[seed.service])["services"][0]
        assert svc["desiredCount"] == 2

        text, recap = playbook(endpoint)
        assert "nothing to move; balanced" in text and recap["changed"] == 0, text[-3000:]
