"""Faults during a rebalance (issue 6.3): throttling, an instance lost, a run killed mid-surge,
two runs at once. In every case the cluster ends balanced, no service drops below its minimum
healthy count because of the engine, desiredCount ends at the user's value, no scale-in
protection the engine added is left behind, and the result says what happened."""

from __future__ import annotations

import threading

import boto3
import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import client_config, runner
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.executor import SURGE_TAG
from engine_harness import Killed, Proxy
from sandbox.scenario import Driver, Seed, counts, distribution

CLUSTER, SERVICE = "demo", "sample-app"


ENGINE_KEY = "AKIAENGINE"


def engine_client(sandbox, service="ecs", config=None):
    """A client configured as the modules and the Lambda configure theirs (adaptive retries,
    10 attempts), signed with its own access key so faults can target the engine alone."""
    return boto3.client(service, endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        aws_access_key_id=ENGINE_KEY, aws_secret_access_key="testing",
                        config=config or client_config())


class Watch:
    """Samples the service every emulated second: running count, desiredCount."""

    def __init__(self, sandbox, aws):
        self.sandbox, self.ecs = sandbox, aws("ecs")
        self.running: list[int] = []

    def sample(self):
        svc = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        self.running.append(svc["runningCount"])

    def sleep(self, seconds):
        for _ in range(max(1, int(seconds))):
            self.sandbox.advance(1)
            self.sample()


def run_engine(sandbox, watch, ecs=None, **kw):
    request = runner.RebalanceRequest(cluster=CLUSTER, poll_interval=5,
                                      wait_timeout=kw.pop("wait_timeout", 900), **kw)
    return runner.rebalance(ecs or engine_client(sandbox), request, sleep=watch.sleep,
                            clock=sandbox.now, elb_client=engine_client(sandbox, "elbv2"))


def assert_clean(aws, desired):
    """desiredCount is the user's, no surge tag, no protection on any task."""
    ecs = aws("ecs")
    svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE], include=["TAGS"])["services"][0]
    assert svc["desiredCount"] == desired
    assert SURGE_TAG not in {t["key"] for t in svc.get("tags", [])}
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    protected = ecs.get_task_protection(cluster=CLUSTER, tasks=arns)["protectedTasks"]
    assert not [p["taskArn"] for p in protected if p["protectionEnabled"]]


def test_throttling_is_absorbed_and_reported(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=50))
    watch = Watch(sandbox, aws)
    sandbox.faults.configure(throttle_rate=0.25, seed=7, throttle_access_key=ENGINE_KEY,
                             throttle_apis=[
        "ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask",
        "ecs:DescribeContainerInstances"])
    result = run_engine(sandbox, watch)
    injected = sum(sandbox.faults.describe()["injected"].values())
    sandbox.faults.configure()                        # off, so the assertions read cleanly
    assert injected > 0 and result.api_retries >= injected
    assert result.to_dict()["api_retries"] == result.api_retries
    assert result.balanced and len(result.moves) == 2
    assert counts(distribution(aws, CLUSTER, SERVICE)) == [2, 2]
    assert min(watch.running) >= 2                    # ceil(4 x 50%)
    assert_clean(aws, 4)


def test_throttled_elbv2_query_protocol_is_retried_too(sandbox, aws):
    from botocore.config import Config

    sandbox.faults.configure(throttle_rate=1.0, seed=1,
                             throttle_apis=["elasticloadbalancing:DescribeLoadBalancers"])
    elb = engine_client(sandbox, "elbv2",
                        Config(retries={"mode": "standard", "max_attempts": 3}))
    with pytest.raises(elb.exceptions.ClientError, match="Throttling") as caught:
        elb.describe_load_balancers()
    attempts = caught.value.response["ResponseMetadata"]["RetryAttempts"] + 1
    assert attempts >= 3                                     # botocore retried: it is throttling
    assert sandbox.faults.describe()["injected"] == {
        "elasticloadbalancing:DescribeLoadBalancers": attempts}
    assert aws("ec2").describe_vpcs()["Vpcs"] is not None    # other APIs unaffected


def test_instance_lost_mid_rebalance_then_the_next_run_balances(sandbox, walk):
    aws, run = walk
    seed = Seed(azs=2, instances=3, tasks=6, min_healthy_percent=50)
    run(seed)
    watch = Watch(sandbox, aws)
    ec2, ecs = aws("ec2"), aws("ecs")
    empty = [ci["ec2InstanceId"] for ci in ecs.describe_container_instances(
        cluster=CLUSTER, containerInstances=ecs.list_container_instances(
            cluster=CLUSTER)["containerInstanceArns"])["containerInstances"]
        if ci["runningTasksCount"] + ci["pendingTasksCount"] == 0]
    assert len(empty) == 1
    lost = []

    def sleep(seconds):            # the first wait of the run: the destination dies
        if not lost:
            ec2.terminate_instances(InstanceIds=empty)
            lost.extend(empty)
        Watch.sleep(watch, seconds)

    watch.sleep = sleep
    first = run_engine(sandbox, watch)
    watch.sleep = lambda s: Watch.sleep(watch, s)
    assert lost and first.moves                          # it moved, then the world changed
    # The Auto Scaling group replaces the instance; a later run (as the next event's) balances.
    Driver(advance=sandbox.advance).wait_for(
        lambda: len(ecs.list_container_instances(cluster=CLUSTER, status="ACTIVE")[
            "containerInstanceArns"]) == 3, 600, what="replacement instance registered")
    second = run_engine(sandbox, watch)
    assert second.balanced, second.message()
    # AZ spread first: 3 tasks per AZ (2 AZs, 3 instances), then even within each AZ.
    final = distribution(aws, CLUSTER, SERVICE)
    assert sorted(sum(az.values()) for az in final.values()) == [3, 3]
    assert all(max(az.values()) - min(az.values()) <= 1 for az in final.values())
    assert_clean(aws, 6)


@pytest.mark.parametrize("when", ["after_raising_desired", "after_protecting"])
def test_run_killed_mid_surge_is_healed_by_the_next_run(sandbox, walk, when):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200))
    watch = Watch(sandbox, aws)
    ecs = aws("ecs")
    def die_after_protecting(name, kw):
        if when == "after_protecting" and name == "update_task_protection" and \
                kw.get("protectionEnabled"):
            mortal.kill()

    mortal = Proxy(engine_client(sandbox), after=die_after_protecting)

    def sleep(seconds):
        svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        if when == "after_raising_desired" and svc["desiredCount"] > 4:
            mortal.kill()
        Watch.sleep(watch, seconds)

    watch.sleep = sleep
    with pytest.raises(Killed):
        run_engine(sandbox, watch, ecs=mortal, wait_timeout=300)
    watch.sleep = lambda s: Watch.sleep(watch, s)
    # The next invocation, later: the surge tag is stale, protection has expired.
    sandbox.advance(2 * 300 + 11 * 60)
    healed = run_engine(sandbox, watch, wait_timeout=300)
    assert SERVICE in healed.to_dict()["healed"]
    assert "restored services left mid-surge" in healed.message()
    final = run_engine(sandbox, watch, wait_timeout=300)
    assert final.balanced, final.message()
    assert counts(distribution(aws, CLUSTER, SERVICE)) == [2, 2]
    assert min(watch.running) >= 4                    # minimumHealthyPercent 100
    assert_clean(aws, 4)


def test_two_rebalancers_at_once(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200))
    watch = Watch(sandbox, aws)
    lock = threading.Lock()        # the manual clock is advanced by one runner at a time

    def sleep(seconds):
        with lock:
            Watch.sleep(watch, seconds)

    watch.sleep = sleep
    results, errors = [], []

    def one():
        try:
            results.append(run_engine(sandbox, watch, wait_timeout=600))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 2 and not any(t.is_alive() for t in threads)
    watch.sleep = lambda s: Watch.sleep(watch, s)
    # Whatever the interleaving, a run afterwards finds the cluster balanced and clean, and the
    # two together never took the service below desired.
    after = run_engine(sandbox, watch, wait_timeout=300)
    assert after.balanced, [r.message() for r in results] + [after.message()]
    assert counts(distribution(aws, CLUSTER, SERVICE)) == [2, 2]
    assert min(watch.running) >= 4
    assert_clean(aws, 4)


def test_faults_over_http_control_api(sandbox):
    import json
    import urllib.error
    import urllib.request

    def post(body):
        req = urllib.request.Request(f"{sandbox.endpoint}/_sandbox/faults",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    state = post({"throttle_rate": 0.5, "throttle_apis": ["ecs:ListClusters"], "seed": 3})
    assert state["throttle_rate"] == 0.5 and state["throttle_apis"] == ["ecs:ListClusters"]
    with pytest.raises(urllib.error.HTTPError) as bad:
        post({"throttle_rate": 2})
    assert bad.value.code == 400 and b"between 0 and 1" in bad.value.read()
    with pytest.raises(urllib.error.HTTPError) as unknown:
        post({"explode": True})
    assert unknown.value.code == 400
