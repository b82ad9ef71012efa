"""EventBridge -> Lambda in the sandbox: enabled matching rules deliver, others do not."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from sandbox.aws import eventbridge, lambda_runner

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
HANDLER = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('EVENT ' + json.dumps(event, sort_keys=True))\n"
    "    return 'ok'\n"
)
PATTERN = {
    "source": ["aws.ecs"],
    "detail-type": ["ECS Container Instance State Change"],
    "detail": {"clusterArn": [{"prefix": "arn:aws:ecs:us-east-1:123456789012:cluster/demo"}],
               "status": [{"anything-but": "INACTIVE"}]},
}


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buf.getvalue()


@pytest.fixture
def function_arn(aws):
    role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fn = aws("lambda").create_function(
        FunctionName="gate", Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": zip_bytes()})
    return fn["FunctionArn"]


def add_rule(aws, name, target_arn, pattern=None, state="ENABLED", schedule=None, **target):
    events = aws("events")
    kwargs = {"Name": name, "State": state}
    if pattern is not None:
        kwargs["EventPattern"] = json.dumps(pattern)
    if schedule:
        kwargs["ScheduleExpression"] = schedule
    events.put_rule(**kwargs)
    events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": target_arn, **target}])


def delivered(sandbox, aws) -> list[dict]:
    assert lambda_runner.wait_idle(sandbox, timeout=60) is True
    try:
        found = aws("logs").filter_log_events(logGroupName="/aws/lambda/gate",
                                              filterPattern="EVENT")["events"]
    except aws("logs").exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"][len("EVENT "):]) for e in found]


def envelope(event_id, status="ACTIVE", cluster=CLUSTER, detail_type=None):
    return {"version": "0", "id": event_id,
            "detail-type": detail_type or "ECS Container Instance State Change",
            "source": "aws.ecs", "account": "123456789012", "time": "2025-03-01T10:00:05Z",
            "region": "us-east-1", "resources": [f"{cluster}/ci-1"],
            "detail": {"clusterArn": cluster, "status": status, "agentConnected": True,
                       "version": 3}}


def test_emit_delivers_a_matching_event_unchanged(sandbox, aws, function_arn):
    add_rule(aws, "ecs-events", function_arn, PATTERN)
    event = envelope("11111111-2222-3333-4444-555555555555")
    eventbridge.emit(sandbox, event)
    assert delivered(sandbox, aws) == [event]


def test_non_matching_events_are_not_delivered(sandbox, aws, function_arn):
    add_rule(aws, "ecs-events", function_arn, PATTERN)
    eventbridge.emit(sandbox, envelope("inactive", status="INACTIVE"))
    eventbridge.emit(sandbox, envelope("other", cluster=CLUSTER.replace("demo", "prod")))
    eventbridge.emit(sandbox, envelope("task", detail_type="ECS Task State Change"))
    eventbridge.emit(sandbox, envelope("yes", cluster=CLUSTER + "-blue"))
    assert [e["id"] for e in delivered(sandbox, aws)] == ["yes"]


def test_disabled_rules_do_not_fire(sandbox, aws, function_arn):
    add_rule(aws, "off", function_arn, PATTERN, state="DISABLED")
    eventbridge.emit(sandbox, envelope("disabled"))
    assert delivered(sandbox, aws) == []
    aws("events").enable_rule(Name="off")
    eventbridge.emit(sandbox, envelope("enabled"))
    assert [e["id"] for e in delivered(sandbox, aws)] == ["enabled"]


def test_put_events_delivers_to_lambda_and_keeps_moto_targets(sandbox, aws, function_arn):
    queue_url = aws("sqs").create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    add_rule(aws, "ecs-events", function_arn, PATTERN)
    aws("events").put_targets(Rule="ecs-events", Targets=[{"Id": "2", "Arn": queue_arn}])
    detail = {"clusterArn": CLUSTER, "status": "DRAINING"}
    result = aws("events").put_events(Entries=[{
        "Source": "aws.ecs", "DetailType": "ECS Container Instance State Change",
        "Detail": json.dumps(detail), "Resources": [CLUSTER]}])
    assert result["FailedEntryCount"] == 0
    [event] = delivered(sandbox, aws)
    assert event["detail"] == detail and event["id"] == result["Entries"][0]["EventId"]
    assert event["source"] == "aws.ecs" and event["time"].endswith("Z")
    assert "ingestion-time" not in event
    messages = aws("sqs").receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(messages[0]["Body"])["detail"] == detail


def test_input_transformer_shapes_the_lambda_payload(sandbox, aws, function_arn):
    add_rule(aws, "shaped", function_arn, PATTERN, InputTransformer={
        "InputPathsMap": {"status": "$.detail.status"},
        "InputTemplate": '{"what": "<status>"}'})
    eventbridge.emit(sandbox, envelope("t", status="DRAINING"))
    assert delivered(sandbox, aws) == [{"what": "DRAINING"}]


def test_rate_rule_fires_on_the_emulated_clock(sandbox, aws, function_arn):
    add_rule(aws, "every-5", function_arn, schedule="rate(5 minutes)")
    eventbridge.emit(sandbox, envelope("not-for-a-schedule-rule"))
    sandbox.advance(299)
    assert delivered(sandbox, aws) == []
    sandbox.advance(1)
    [event] = delivered(sandbox, aws)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/every-5"]
    sandbox.advance(600)
    assert len(delivered(sandbox, aws)) == 3
