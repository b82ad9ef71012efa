"""SQS -> Lambda in the sandbox: event source mappings batch as Lambda documents (BatchSize,
MaximumBatchingWindowInSeconds on the emulated clock, 6 MB), delete on success, retry and
dead-letter on failure, and EventBridge rules can target the queue."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import lambda_runner, sqs_lambda

HANDLER = (
    "import json\n"
    "def handler(event, context):\n"
    "    bodies = [r['body'] for r in event['Records']]\n"
    "    print('BATCH ' + json.dumps({'n': len(bodies), 'small': [b for b in bodies\n"
    "                                if len(b) < 100], 'source': event['Records'][0]['eventSource'],\n"
    "                                'receives': [r['attributes']['ApproximateReceiveCount']\n"
    "                                             for r in event['Records']]}))\n"
    "    if any(b == 'fail' for b in bodies):\n"
    "        raise RuntimeError('a failing batch')\n"
    "    failed = [r['messageId'] for r in event['Records'] if r['body'] == 'report']\n"
    "    return {'batchItemFailures': [{'itemIdentifier': i} for i in failed]}\n"
)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buf.getvalue()


@pytest.fixture
def setup(sandbox, aws):
    role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("lambda").create_function(FunctionName="consumer", Runtime="python3.11", Role=role,
                                  Handler="app.handler", Code={"ZipFile": zip_bytes()},
                                  Timeout=30)
    sqs = aws("sqs")

    def make(batch_size=10, window=None, visibility=30, dlq_after=None, **mapping):
        attributes = {"VisibilityTimeout": str(visibility)}
        if dlq_after:
            dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                      "maxReceiveCount": dlq_after})
        url = sqs.create_queue(QueueName="events", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        kwargs = {"EventSourceArn": arn, "FunctionName": "consumer", "BatchSize": batch_size,
                  **mapping}
        if window is not None:
            kwargs["MaximumBatchingWindowInSeconds"] = window
        uuid = aws("lambda").create_event_source_mapping(**kwargs)["UUID"]
        return url, arn, uuid

    return make


def send(aws, url, *bodies):
    for body in bodies:
        aws("sqs").send_message(QueueUrl=url, MessageBody=body)


def batches(sandbox, aws) -> list[dict]:
    assert lambda_runner.wait_idle(sandbox, timeout=60) is True
    try:
        found = aws("logs").filter_log_events(logGroupName="/aws/lambda/consumer",
                                              filterPattern="BATCH")["events"]
    except aws("logs").exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"][len("BATCH "):]) for e in found]


def depth(aws, url) -> tuple[int, int]:
    attrs = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attrs["ApproximateNumberOfMessages"]),
            int(attrs["ApproximateNumberOfMessagesNotVisible"]))


def test_the_batching_window_holds_messages_until_it_ends(sandbox, aws, setup):
    url, _, uuid = setup(batch_size=10, window=60)
    send(aws, url, "a", "b")
    sandbox.advance(30)
    send(aws, url, "c")
    sandbox.advance(29)
    assert batches(sandbox, aws) == []
    sandbox.advance(1)                                   # 60 s after the first message
    [batch] = batches(sandbox, aws)
    assert batch["n"] == 3 and sorted(batch["small"]) == ["a", "b", "c"]
    assert batch["source"] == "aws:sqs"
    assert depth(aws, url) == (0, 0)                     # deleted after success
    assert sqs_lambda.invocations(sandbox) == {uuid: 1}


def test_a_full_batch_goes_at_once_and_the_rest_waits_for_its_window(sandbox, aws, setup):
    url, _, _ = setup(batch_size=5, window=60)
    send(aws, url, *[str(i) for i in range(12)])
    assert [b["n"] for b in batches(sandbox, aws)] == [5, 5]
    sandbox.advance(59)
    assert len(batches(sandbox, aws)) == 2
    sandbox.advance(1)
    assert sorted(b["n"] for b in batches(sandbox, aws)) == [2, 5, 5]
    assert depth(aws, url) == (0, 0)


def test_without_a_window_each_message_goes_as_soon_as_it_is_seen(sandbox, aws, setup):
    url, _, _ = setup(batch_size=10)
    send(aws, url, "one")
    send(aws, url, "two")
    assert sorted(b["small"] for b in batches(sandbox, aws)) == [["one"], ["two"]]


def test_a_batch_stops_at_six_megabytes(sandbox, aws, setup):
    url, _, _ = setup(batch_size=100, window=300)
    big = "x" * 250_000
    send(aws, url, *[big] * 26)                         # 6.5 MB visible: due at once
    first = batches(sandbox, aws)
    assert [b["n"] for b in first] == [25]               # a 26th record would pass 6 MiB
    sandbox.advance(300)
    assert sorted(b["n"] for b in batches(sandbox, aws)) == [1, 25]


def test_a_failed_batch_returns_after_the_visibility_timeout_then_dead_letters(
        sandbox, aws, setup):
    url, _, _ = setup(batch_size=10, window=0, visibility=30, dlq_after=2)
    send(aws, url, "fail")
    assert [b["receives"] for b in batches(sandbox, aws)] == [["1"]]
    assert depth(aws, url) == (0, 1)                     # in flight, not deleted
    sandbox.advance(31)
    assert sorted(b["receives"] for b in batches(sandbox, aws)) == [["1"], ["2"]]
    sandbox.advance(31)                                  # past maxReceiveCount: to the DLQ
    assert len(batches(sandbox, aws)) == 2
    dlq = aws("sqs").get_queue_url(QueueName="dlq")["QueueUrl"]
    assert depth(aws, dlq)[0] == 1 and depth(aws, url) == (0, 0)


def test_report_batch_item_failures_keeps_only_the_reported_messages(sandbox, aws, setup):
    url, _, _ = setup(batch_size=10, window=5, visibility=30,
                      FunctionResponseTypes=["ReportBatchItemFailures"])
    send(aws, url, "ok-1", "report", "ok-2")
    sandbox.advance(5)
    assert [sorted(b["small"]) for b in batches(sandbox, aws)] == [["ok-1", "ok-2", "report"]]
    assert depth(aws, url) == (0, 1)
    sandbox.advance(31)                 # visible again after 30 s, then a 5 s window
    assert len(batches(sandbox, aws)) == 1
    sandbox.advance(5)
    assert sorted(sorted(b["small"]) for b in batches(sandbox, aws)) == [
        ["ok-1", "ok-2", "report"], ["report"]]
    assert depth(aws, url) == (0, 1)


def test_a_disabled_mapping_does_not_poll(sandbox, aws, setup):
    url, _, uuid = setup(batch_size=10, window=0, Enabled=False)
    send(aws, url, "held")
    sandbox.advance(60)
    assert batches(sandbox, aws) == [] and depth(aws, url) == (1, 0)
    aws("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    assert [b["small"] for b in batches(sandbox, aws)] == [["held"]]


@pytest.mark.parametrize("kwargs, message", [
    ({"BatchSize": 20}, "must be greater than 0 if maximum batch size is greater than 10"),
    ({"BatchSize": 10, "MaximumBatchingWindowInSeconds": 301}, "between 0 and 300"),
])
def test_batching_limits_are_refused_as_lambda_refuses_them(sandbox, aws, setup, kwargs,
                                                            message):
    url, arn, _ = setup()
    aws("lambda").create_function(FunctionName="other", Runtime="python3.11",
                                  Role="arn:aws:iam::123456789012:role/r",
                                  Handler="app.handler", Code={"ZipFile": zip_bytes()})
    with pytest.raises(ClientError) as refused:
        aws("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="other",
                                                  **kwargs)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert message in refused.value.response["Error"]["Message"]


def test_an_eventbridge_rule_feeds_the_queue_and_the_mapping_batches_it(sandbox, aws, setup):
    url, arn, _ = setup(batch_size=100, window=60)
    events = aws("events")
    events.put_rule(Name="to-queue", EventPattern=json.dumps({"source": ["aws.ecs"]}))
    events.put_targets(Rule="to-queue", Targets=[{"Id": "q", "Arn": arn}])
    for i in range(20):
        events.put_events(Entries=[{"Source": "aws.ecs", "DetailType": "ECS Service Action",
                                    "Detail": json.dumps({"n": i})}])
    sandbox.advance(60)
    [batch] = batches(sandbox, aws)
    assert batch["n"] == 20


def test_a_long_poll_of_an_empty_queue_answers_at_once(sandbox, aws):
    url = aws("sqs").create_queue(QueueName="empty")["QueueUrl"]
    before = sandbox.now()
    answer = aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20)
    assert answer.get("Messages", []) == [] and sandbox.now() == before
    aws("sqs").send_message(QueueUrl=url, MessageBody="later")
    [message] = aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20)["Messages"]
    assert message["Body"] == "later"
