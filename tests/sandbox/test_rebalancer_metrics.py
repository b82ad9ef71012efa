"""The rebalancer Lambda's metrics end to end: the real function zip runs in the sandbox, its
EMF lines become CloudWatch metrics (GetMetricData), and an alarm on "a service out of balance
for 3 periods" goes to ALARM while the service is held out of balance (opted out), and back to
OK once the tag is gone and the rebalancer has balanced it. Manual clock, no sleeps."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from ecs_world import World
from sandbox.aws import lambda_runner
from sandbox.scenario import Driver, steady

from ansible_collections.taskspread.ecs.plugins.module_utils import lambda_zip
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import LeaseStore

ROOT = Path(__file__).resolve().parents[2]
NS = "TaskSpread/ECS"
CLUSTER, SERVICE = "demo", "web"
OPT_OUT = "taskspread:rebalance"
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
STOP_MODE = {"minimumHealthyPercent": 50, "maximumPercent": 200}


def deploy_function(aws) -> None:
    """The zip the rebalancer role builds: the handler package and the engine beside it; and
    the lease table the role creates first (tasks/lease_table.yml): the function never creates
    it, and without it acts on nothing."""
    assert LeaseStore(CountingClient(aws("dynamodb")), run_id="role").ensure_table(create=True)
    code, _ = lambda_zip.build([
        {"src": str(ROOT / "files/rebalancer"), "prefix": "rebalancer"},
        {"src": str(ROOT / "plugins/module_utils/_engine"), "prefix": "taskspread_engine"}])
    role = aws("iam").create_role(RoleName="rebalancer", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName="rebalancer", Runtime="python3.11", Role=role,
        Handler="rebalancer.handler.handler", Code={"ZipFile": code}, Timeout=120,
        MemorySize=512, Environment={"Variables": {"TASKSPREAD_CLUSTER": CLUSTER,
                                                   "TASKSPREAD_STRATEGY": "stop"}})


def run(aws) -> dict:
    response = aws("lambda").invoke(FunctionName="rebalancer", Payload=json.dumps(SCHEDULED))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return result


def next_minute(sandbox) -> None:
    sandbox.advance(60 - sandbox.now() % 60)


def series(aws, sandbox, name: str, stat: str = "Maximum") -> list[float]:
    end = sandbox.now() - sandbox.now() % 60
    result = aws("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": {
            "Metric": {"Namespace": NS, "MetricName": name,
                       "Dimensions": [{"Name": "Cluster", "Value": CLUSTER}]},
            "Period": 60, "Stat": stat}}],
        StartTime=datetime.datetime.fromtimestamp(end - 3600, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(end + 60, datetime.timezone.utc),
        ScanBy="TimestampAscending")["MetricDataResults"][0]
    return result["Values"]


def alarm_state(aws) -> str:
    return aws("cloudwatch").describe_alarms(AlarmNames=["out-of-balance"])[
        "MetricAlarms"][0]["StateValue"]


def test_out_of_balance_alarm_fires_while_held_and_clears_after_the_rebalance(sandbox, aws):
    world = World(sandbox, aws)
    for _ in range(2):
        world.launch("us-east-1a")
    world.boot()
    # No host port (4 tasks fit on 2 instances); ECS's own AZ rebalancing off, so only the
    # rebalancer can fix the spread.
    arn = world.service(SERVICE, 4, world.task_definition(ports=()),
                        deploymentConfiguration=STOP_MODE,
                        availabilityZoneRebalancing="DISABLED",
                        placementStrategy=[{"type": "spread",
                                            "field": "attribute:ecs.availability-zone"},
                                           {"type": "spread", "field": "instanceId"}],
                        tags=[{"key": OPT_OUT, "value": "false"}])["serviceArn"]
    world.settle(120)
    world.launch("us-east-1b")                 # capacity arrives in the empty AZ
    world.boot()
    assert world.by_az(SERVICE) == {"us-east-1a": 4}
    deploy_function(aws)
    aws("cloudwatch").put_metric_alarm(
        AlarmName="out-of-balance", Namespace=NS, MetricName="ServicesOutOfBalance",
        Dimensions=[{"Name": "Cluster", "Value": CLUSTER}], Statistic="Maximum", Period=60,
        EvaluationPeriods=3, DatapointsToAlarm=3, Threshold=0, Unit="Count",
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")   # as the role's

    # Held out of balance (opted out) for three periods: one run per period, then ALARM.
    states = []
    for _ in range(3):
        result = run(aws)
        assert (result["status"], result["moves"]) == ("balanced", 0), result
        next_minute(sandbox)
        states.append(alarm_state(aws))
    assert states == ["OK", "OK", "ALARM"]
    assert series(aws, sandbox, "ServicesOutOfBalance") == [1.0, 1.0, 1.0]
    assert series(aws, sandbox, "MaxAzSkew") == [4.0, 4.0, 4.0]
    assert series(aws, sandbox, "TasksMoved", "Sum") == [0.0, 0.0, 0.0]
    assert series(aws, sandbox, "Refusals", "Sum") == [0.0, 0.0, 0.0]   # opting out is no refusal
    assert min(series(aws, sandbox, "ApiCalls", "Minimum")) > 0

    # The tag goes; the rebalancer moves tasks run by run until the service is balanced.
    aws("ecs").untag_resource(resourceArn=arn, tagKeys=[OPT_OUT])
    moved = 0
    for _ in range(6):
        next_minute(sandbox)                   # one run per period: the series shows each
        result = run(aws)
        moved += result["moves"]
        if result["moves"] == 0:
            break
        Driver(advance=sandbox.advance).wait_for(lambda: steady(aws, CLUSTER, SERVICE), 600,
                                                 what="web steady")
    assert moved >= 2 and world.by_az(SERVICE) == {"us-east-1a": 2, "us-east-1b": 2}, result
    assert result["status"] == "balanced" and result["message"].endswith("; balanced"), result
    assert sum(series(aws, sandbox, "TasksMoved", "Sum")) == moved
    next_minute(sandbox)
    assert series(aws, sandbox, "ServicesOutOfBalance")[-1] == 0.0
    assert alarm_state(aws) == "OK"
    assert lambda_runner.wait_idle(sandbox, timeout=30) is True
