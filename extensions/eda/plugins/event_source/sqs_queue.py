"""taskspread.ecs.sqs_queue: an ansible-rulebook event source reading an AWS SQS queue.

Why the collection ships its own: Event-Driven Ansible's usual SQS source
(``ansible.eda.aws_sqs_queue``) lives in the ``ansible.eda`` collection, which is distributed
through Galaxy only (no PyPI package carries it), and the ``amazon.aws`` collection in the
pinned ``ansible`` package ships no ``extensions/eda``. ``ansible.eda``'s source is also built
on aiobotocore, and no aiobotocore release accepts the pinned botocore (pip falls back to a
2021 release). This source keeps ``ansible.eda.aws_sqs_queue``'s arguments and event shape, so
a rulebook can switch to it by changing the source's name, and uses boto3 (already pinned) in
a worker thread instead of aiobotocore.

Each message becomes one event ``{"body": <the body, parsed when it is JSON>, "meta":
{"MessageId": ...}}`` and is deleted once the event is on ansible-rulebook's queue
(at most once: a rulebook that dies before acting loses that event; the next ECS event
triggers again, and the rebalancer is level-triggered).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

DOCUMENTATION = r"""
---
short_description: Receive events from an AWS SQS queue (boto3).
description:
  - An ansible-rulebook event source plugin that long-polls an SQS queue and puts each message
    on the rulebook's event queue, then deletes it.
  - Same arguments and event shape as ansible.eda.aws_sqs_queue.
  - Credentials, region and endpoint follow boto3's usual chain (environment, profile, role)
    unless given.
options:
  name:
    description: Name of the queue.
    type: str
    required: true
  region:
    description: AWS region of the queue.
    type: str
  access_key:
    description: AWS access key ID.
    type: str
  secret_key:
    description: AWS secret access key.
    type: str
  session_token:
    description: STS session token for temporary credentials.
    type: str
  endpoint_url:
    description: URL to use instead of AWS's endpoint.
    type: str
  delay_seconds:
    description: Long polling duration (WaitTimeSeconds, 0 to 20).
    type: int
    default: 2
"""

EXAMPLES = r"""
- taskspread.ecs.sqs_queue:
    name: taskspread-demo-rebalancer-events
    region: us-east-1
    delay_seconds: 10
"""

LOG = logging.getLogger(__name__)
RETRY_SECONDS = 5
# The error codes SQS answers GetQueueUrl with for a queue that does not exist (query and
# JSON protocols).
NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _client(args: dict[str, Any]):
    import boto3

    session = boto3.session.Session(aws_access_key_id=args.get("access_key"),
                                    aws_secret_access_key=args.get("secret_key"),
                                    aws_session_token=args.get("session_token"),
                                    region_name=args.get("region"))
    return session.client("sqs", endpoint_url=args.get("endpoint_url"))


def to_event(message: dict[str, Any]) -> dict[str, Any]:
    body = message.get("Body", "")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body
    return {"body": parsed, "meta": {"MessageId": message.get("MessageId")}}


async def _queue_url(client, name: str) -> str:
    """The queue's URL. A queue that does not exist is a setup error, said at once (as
    ansible.eda.aws_sqs_queue does); a transient failure (throttling, a dropped connection) is
    retried like a failed receive."""
    while True:
        try:
            return (await asyncio.to_thread(client.get_queue_url, QueueName=name))["QueueUrl"]
        except (BotoCoreError, ClientError) as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code")
            if code in NO_QUEUE:
                raise ValueError(
                    f"SQS queue {name} does not exist (create it first: the rebalancer role "
                    "with rebalancer_trigger: rulebook does)") from None
            LOG.warning("looking up queue %s failed, retrying in %s s: %s", name,
                        RETRY_SECONDS, err)
        await asyncio.sleep(RETRY_SECONDS)


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    wait = int(args.get("delay_seconds", 2))
    client = _client(args)
    url = await _queue_url(client, args["name"])
    while True:
        started = time.monotonic()
        try:
            response = await asyncio.to_thread(client.receive_message, QueueUrl=url,
                                               MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        except (BotoCoreError, ClientError) as err:   # transient: say so, poll again later
            LOG.warning("receiving from %s failed, retrying in %s s: %s", args["name"],
                        RETRY_SECONDS, err)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        messages = response.get("Messages", [])
        for message in messages:
            await queue.put(to_event(message))
            await asyncio.to_thread(client.delete_message, QueueUrl=url,
                                    ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            # An endpoint that answers an empty long poll early (a local emulator) must not
            # turn this loop into a busy one: wait out the rest of the poll here.
            await asyncio.sleep(max(0.0, max(wait, 1) - (time.monotonic() - started)))


if __name__ == "__main__":
    # Manual run: python sqs_queue.py NAME  (prints the events it receives).

    class _Print:
        async def put(self, event: dict[str, Any]) -> None:
            print(json.dumps(event))

    import sys

    asyncio.run(main(_Print(), {"name": sys.argv[1]}))  # type: ignore[arg-type]
