"""Issue 17's acceptance line for the queue trigger: a burst of steady states, through
EventBridge -> SQS -> the rebalancer Lambda (its real zip) with a batching window, makes at
most 2 invocations that read the cluster, and the decision is the one a direct run makes."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.taskspread.ecs.plugins.module_utils import lambda_zip
from ansible_collections.taskspread.ecs.plugins.module_utils._engine import client_config, runner
from sandbox.aws import eventbridge, lambda_runner, sqs_lambda
from sandbox.scenario import Seed

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
STEADY_STATE_PATTERN = {"source": ["aws.ecs"], "detail-type": ["ECS Service Action"],
                        "detail": {"clusterArn": [CLUSTER_ARN],
                                   "eventName": ["SERVICE_STEADY_STATE"]}}


def rebalancer_zip() -> bytes:
    data, _ = lambda_zip.build([
        {"src": str(ROOT / "files" / "rebalancer"), "prefix": "rebalancer"},
        {"src": str(ROOT / "plugins" / "module_utils" / "_engine"),
         "prefix": "taskspread_engine"}])
    return data


def log_lines(aws, kind: str) -> list[dict]:
    events = aws("logs").filter_log_events(logGroupName="/aws/lambda/rebalancer")["events"]
    lines = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    return [line for line in lines if line.get("event") == kind]


def test_a_burst_of_steady_states_through_the_queue_is_one_decision(sandbox, walk):
    aws, run = walk
    run(Seed(azs=2, instances=2, tasks=4))              # the new instance is left empty
    role = aws("iam").create_role(RoleName="rebalancer", AssumeRolePolicyDocument="{}")
    aws("lambda").create_function(
        FunctionName="rebalancer", Runtime="python3.11", Role=role["Role"]["Arn"],
        Handler="rebalancer.handler.handler", Code={"ZipFile": rebalancer_zip()},
        Timeout=300, MemorySize=512,
        Environment={"Variables": {"TASKSPREAD_CLUSTER": "demo", "TASKSPREAD_DRY_RUN": "true"}})
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="rebalancer-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    aws("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="rebalancer",
                                              BatchSize=100,
                                              MaximumBatchingWindowInSeconds=60)
    aws("events").put_rule(Name="steady-state", EventPattern=json.dumps(STEADY_STATE_PATTERN))
    aws("events").put_targets(Rule="steady-state", Targets=[{"Id": "queue", "Arn": arn}])

    for i in range(20):                                 # a burst: one every 2 s
        eventbridge.emit(sandbox, {
            "detail-type": "ECS Service Action", "source": "aws.ecs",
            "resources": [f"arn:aws:ecs:us-east-1:123456789012:service/demo/"
                          f"{'sample-app' if i % 2 else f'gone-{i % 3}'}"],
            "detail": {"clusterArn": CLUSTER_ARN, "eventName": "SERVICE_STEADY_STATE",
                       "eventType": "INFO"}})
        sandbox.advance(2)
    sandbox.advance(60)
    assert lambda_runner.wait_idle(sandbox, timeout=120) is True

    assert 1 <= sum(sqs_lambda.invocations(sandbox).values()) <= 2
    triggered = log_lines(aws, "triggered")
    assert sum(t["batch_events"] for t in triggered) == 20
    assert all(t["trigger"] == "sqs_batch" for t in triggered)
    assert triggered[0]["services"] == ["gone-0", "gone-1", "gone-2", "sample-app"]
    reads = log_lines(aws, "skew_before")               # one per engine run that read ECS
    assert 1 <= len(reads) <= 2
    [plan] = log_lines(aws, "dry_run_plan")[:1]

    direct = runner.rebalance(
        _ecs(sandbox), runner.RebalanceRequest(cluster="demo", check_mode=True, wait=False,
                                               detail=True)).to_dict()
    # The batch's decision reads only the services it names that exist (deleted ones are
    # logged and dropped), here the cluster's one service: the same moves as a direct run.
    assert log_lines(aws, "services_gone")[0]["services"] == ["gone-0", "gone-1", "gone-2"]
    assert log_lines(aws, "scope")[0]["read"] == "services"
    assert log_lines(aws, "scope")[0]["services"] == ["sample-app"]
    assert plan["count"] == len(direct["plan"]["moves"]) > 0
    assert plan["moves"] == json.loads(json.dumps(direct["plan"]["moves"]))
    assert int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]) == 0


def _ecs(sandbox):
    import boto3

    return boto3.client("ecs", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=client_config())
