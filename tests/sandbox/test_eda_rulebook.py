"""Event-Driven Ansible end to end: ansible-rulebook runs the collection's rulebook
(extensions/eda/rulebooks/rebalance.yml) with its SQS source against an in-process sandbox.
ECS events go in through EventBridge PutEvents -> rule -> queue; a burst makes exactly one
rebalance (the per-cluster throttle), whose stop ECS then replaces on the empty instance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.scenario import Seed, counts, distribution

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
PATTERN = {"source": ["aws.ecs"],
           "detail-type": ["ECS Service Action", "ECS Container Instance State Change"],
           "detail": {"clusterArn": [CLUSTER_ARN]}}


def wait_for(what, predicate, timeout=60.0, interval=0.25):
    """Bounded poll on the wall clock (ansible-rulebook is another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def rulebook(sandbox, tmp_path):
    """Returns a function that starts ansible-rulebook on the collection's rulebook (call it
    once the queue exists: the source fails at once on a missing queue) and returns the process
    and a function that gives its output so far; stops the process (and its children) at the
    end."""
    if shutil.which("java") is None:
        pytest.fail("ansible-rulebook needs Java 17 or later: `make setup` installs it")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    variables = tmp_path / "vars.yml"
    variables.write_text(json.dumps({"queue_name": "rebalancer-events",
                                     "aws_region": "us-east-1"}))
    env = dict(os.environ, AWS_ENDPOINT_URL=sandbox.endpoint, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
    out = tmp_path / "rulebook.log"
    rulebook_cli = Path(sys.executable).with_name("ansible-rulebook")
    started = []

    def start():
        with out.open("wb") as sink:
            started.append(subprocess.Popen(
                [str(rulebook_cli), "--rulebook", "taskspread.ecs.rebalance", "--inventory",
                 str(inventory), "--vars", str(variables), "--print-events", "-v"],
                cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True))
        return started[0], lambda: out.read_text(errors="replace")

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


def test_a_burst_of_events_makes_exactly_one_rebalance(sandbox, walk, rulebook):
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=4, min_healthy_percent=50, max_percent=100)
    stages = run(seed)
    assert counts(stages["up"]) == [4, 0]                # the new instance is empty
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="rebalancer-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    aws("events").put_rule(Name="ecs-events", EventPattern=json.dumps(PATTERN))
    aws("events").put_targets(Rule="ecs-events", Targets=[{"Id": "queue", "Arn": arn}])

    def stopped():
        return set(aws("ecs").list_tasks(cluster="demo", desiredStatus="STOPPED")["taskArns"])

    stopped_before = stopped()                             # the scale-in's
    proc, output = rulebook()                              # the queue exists now
    events = [{"Source": "aws.ecs", "DetailType": "ECS Service Action",
               "Resources": ["arn:aws:ecs:us-east-1:123456789012:service/demo/sample-app"],
               "Detail": json.dumps({"clusterArn": CLUSTER_ARN,
                                     "eventName": "SERVICE_STEADY_STATE"})}] * 4
    events.append({"Source": "aws.ecs", "DetailType": "ECS Container Instance State Change",
                   "Detail": json.dumps({"clusterArn": CLUSTER_ARN, "status": "ACTIVE",
                                         "agentConnected": True, "runningTasksCount": 2,
                                         "pendingTasksCount": 0})})   # not a trigger
    assert aws("events").put_events(Entries=events)["FailedEntryCount"] == 0

    def drained():
        assert proc.poll() is None, output()[-3000:]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return all(v == "0" for v in attrs["Attributes"].values())

    def rebalanced():
        assert proc.poll() is None, output()[-3000:]
        return "PLAY RECAP" in output()

    wait_for("the rulebook to read the queue", drained, timeout=120)   # a JVM starts first
    wait_for("the rebalance to finish", rebalanced, timeout=90)
    log = output()
    assert log.count("PLAY RECAP") == 1, log[-3000:]      # five events, one rebalance
    assert log.count("'reason': 'service sample-app reached a steady state'") == 4
    assert log.count("'act': True") == 4 and log.count("'act': False") == 1   # the gate's
    assert "changed=1" in log and "failed=0" in log, log[-3000:]
    # One step of the stop strategy (the engine's default budget: 10% of the tasks, at least
    # one): one task stopped, and ECS places its replacement on the empty instance.
    assert len(stopped() - stopped_before) == 1
    for _ in range(600):
        sandbox.advance(1)
        if counts(distribution(aws, "demo", seed.service)) == [3, 1]:
            break
    assert counts(distribution(aws, "demo", seed.service)) == [3, 1]
