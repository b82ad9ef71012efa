"""SQS to Lambda through event source mappings, batched as Lambda's SQS poller batches.

moto invokes a mapped function inside SendMessage, synchronously, once per message, with a
one-record event, and ignores ``BatchSize`` and ``MaximumBatchingWindowInSeconds``. The sandbox
does what the Lambda Developer Guide documents for SQS event sources ("Using Lambda with Amazon
SQS", batching behavior):

* a mapping gathers its queue's visible messages into one batch and invokes the function once
  for it when the first of these holds: the batch has ``BatchSize`` messages; the batching
  window (``MaximumBatchingWindowInSeconds``, 0 when unset, as for a standard queue) has
  elapsed since the window opened; the batch's payload reaches 6 MB (Lambda's invocation
  payload limit);
* the window opens when the poller first sees a visible message and runs on the emulated
  clock (a ``Runtime`` timer at its end), so a manual-clock test decides exactly when a batch
  goes out [I: AWS does not say when within its long poll the window starts];
* the batch is received with the queue's visibility timeout (its messages are in flight while
  the function runs) and invoked on ``lambda_runner``'s asynchronous runner, within the
  function's reserved concurrency;
* success deletes the batch; a function error (or a throttled/dropped invocation) leaves it in
  flight, visible again after the visibility timeout; moto's ReceiveMessage then moves a message
  past the redrive policy's ``maxReceiveCount`` to the dead-letter queue;
* with ``FunctionResponseTypes: [ReportBatchItemFailures]`` a successful response's
  ``batchItemFailures`` (``itemIdentifier`` = messageId) stay in the queue, the rest are deleted;
* a disabled mapping (``Enabled: false``) does not poll;
* ReceiveMessage with ``WaitTimeSeconds`` (a long poll) on a queue with nothing to receive
  answers at once with no messages [I]: requests run under the world lock, so a poll that
  waited would stop the sandbox (forever under the manual clock, where nothing can arrive
  while it waits); under the manual clock the answer is the one AWS gives after the wait;
* CreateEventSourceMapping/UpdateEventSourceMapping refuse a ``BatchSize`` above 10 without a
  window of at least 1 second and a window above 300 s, as Lambda does
  (``InvalidParameterValueException``).

Each record is what Lambda sends: messageId, receiptHandle, body, attributes
(ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp),
messageAttributes, md5OfBody, eventSource ``aws:sqs``, eventSourceARN, awsRegion.

``invocations(sandbox)`` counts the batches delivered per mapping (a test hook).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.awslambda.utils import get_backend
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.sqs.models import SQSBackend, sqs_backends

from . import lambda_runner

LOG = logging.getLogger("sandbox.sqs_lambda")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_WINDOW_SECONDS = 300
_ORIGINAL_CREATE = LambdaBackend.create_event_source_mapping
_ORIGINAL_UPDATE = LambdaBackend.update_event_source_mapping
_ORIGINAL_RECEIVE = SQSBackend.receive_message


def _is_sqs(esm: EventSourceMapping) -> bool:
    return esm.event_source_arn.split(":")[2:3] == ["sqs"]


def _check_batching(batch_size: Any, window: Any) -> None:
    if window is not None and not 0 <= int(window) <= MAX_WINDOW_SECONDS:
        raise InvalidParameterValueException(
                        f"MaximumBatchingWindowInSeconds must be between 0 and "
                        f"{MAX_WINDOW_SECONDS}, got {window}")
    if batch_size is not None and int(batch_size) > 10 and not int(window or 0) >= 1:
        raise InvalidParameterValueException(
                        "Maximum batch window in seconds must be greater than 0 if maximum "
                        "batch size is greater than 10")


def _create(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    if ":sqs:" in str(spec.get("EventSourceArn", "")):
        _check_batching(spec.get("BatchSize"), spec.get("MaximumBatchingWindowInSeconds"))
    esm = _ORIGINAL_CREATE(self, spec)
    if _is_sqs(esm):
        # moto also registers the mapping on the queue, where SendMessage would invoke the
        # function inline for every message; the poller below is the only consumer.
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
    return esm


def _update(self: LambdaBackend, uuid: str, spec: dict[str, Any]) -> EventSourceMapping | None:
    esm = self.get_event_source_mapping(uuid)
    if esm is not None and _is_sqs(esm):
        _check_batching(spec.get("BatchSize", esm.batch_size),
                        spec.get("MaximumBatchingWindowInSeconds", esm.max_batch_window))
    return _ORIGINAL_UPDATE(self, uuid, spec)


def _receive(self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int,
             visibility_timeout: int, *args: Any, **kwargs: Any) -> list:
    """ReceiveMessage without the long poll's wait (see the module docstring)."""
    return _ORIGINAL_RECEIVE(self, queue_name, count, 0, visibility_timeout, *args, **kwargs)


class _Poller:
    """One per sandbox: every enabled SQS mapping of the sandbox's account and region."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.opened: dict[str, float] = {}   # mapping uuid -> when its batching window opened
        self.closed: dict[str, float] = {}   # mapping uuid -> when its last batch went out
        self.armed: dict[str, float] = {}    # mapping uuid -> the window-end timer set
        self.delivered: dict[str, int] = {}  # mapping uuid -> batches invoked
        self.active = True

    def _mappings(self) -> list[EventSourceMapping]:
        config = self.sandbox.config
        backend = get_backend(config.account_id, config.region)
        return [esm for esm in list(backend._event_source_mappings.values()) if _is_sqs(esm)]

    def _queue(self, esm: EventSourceMapping):
        config = self.sandbox.config
        for queue in sqs_backends[config.account_id][config.region].queues.values():
            if queue.queue_arn == esm.event_source_arn:
                return queue
        return None

    def check(self) -> None:
        """Run on every tick (under the runtime lock): invoke every batch that is due."""
        if not self.active:
            return
        now = self.sandbox.runtime.now()
        for esm in self._mappings():
            queue = self._queue(esm)
            while self._due(esm, queue, now):
                self.opened.pop(esm.uuid, None)
                self.closed[esm.uuid] = now
                if not self._deliver(esm, queue, now):
                    break

    def _due(self, esm: EventSourceMapping, queue, now: float) -> bool:
        visible = queue.messages if (queue is not None and esm.enabled) else []
        if not visible:
            self.opened.pop(esm.uuid, None)
            return False
        # A poller that never stops polling sees a message the moment it becomes visible, so
        # the window opens then (not at the tick that notices it), but never before the
        # previous batch went out.
        opened = self.opened.setdefault(esm.uuid, max(
            self.closed.get(esm.uuid, now), min(_visible_since(m) for m in visible)))
        closes = opened + int(esm.max_batch_window or 0)
        if (len(visible) >= esm.batch_size or now >= closes
                or _payload_bytes(visible[:esm.batch_size]) >= MAX_PAYLOAD_BYTES):
            return True
        if self.armed.get(esm.uuid) != closes:
            self.armed[esm.uuid] = closes
            self.sandbox.runtime.call_at(closes, self.check)
        return False

    def _deliver(self, esm: EventSourceMapping, queue, now: float) -> bool:
        backend = sqs_backends[queue.account_id][queue.region]
        visibility = int(queue.visibility_timeout or 30)
        received = backend.receive_message(queue.name, esm.batch_size, 0, visibility)
        # Look again when the batch would be visible again (a failed batch is retried then).
        self.sandbox.runtime.call_at(now + visibility + 0.001, self.check)
        batch, size = [], 0
        for message in received:
            record = _record(message, queue)
            size += len(json.dumps(record))
            if batch and size > MAX_PAYLOAD_BYTES:   # back to the queue for the next batch
                backend.change_message_visibility(queue.name, message.receipt_handle, 0)
                continue
            batch.append((message, record))
        if not batch:   # everything visible went to the dead-letter queue
            return False
        self.delivered[esm.uuid] = self.delivered.get(esm.uuid, 0) + 1
        payload = json.dumps({"Records": [record for _, record in batch]}).encode()
        handles = {message.id: message.receipt_handle for message, _ in batch}
        lambda_runner.submit(self.sandbox, esm.function_arn, payload,
                             on_done=lambda outcome: self._done(esm, queue, handles, outcome))
        return True

    def _done(self, esm: EventSourceMapping, queue, handles: dict[str, str], outcome) -> None:
        if outcome is None or outcome.function_error:
            return   # in flight until the visibility timeout, then received again
        keep = _reported_failures(esm, outcome.payload)
        backend = sqs_backends[queue.account_id][queue.region]
        with self.sandbox.runtime.lock:
            for message_id, handle in handles.items():
                if message_id not in keep:
                    backend.delete_message(queue.name, handle)
            self.check()


def _visible_since(message) -> float:
    """When the message became receivable (sent, delay over, or visibility timeout over)."""
    return max(message.sent_timestamp or 0, message.visible_at, message.delayed_until) / 1000


def _payload_bytes(messages) -> int:
    return sum(len(m.body.encode()) for m in messages)


def _record(message, queue) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": str(message.approximate_receive_count),
                  "SentTimestamp": str(message.sent_timestamp),
                  "SenderId": message.sender_id,
                  "ApproximateFirstReceiveTimestamp":
                      str(message.approximate_first_receive_timestamp)}
    if message.group_id:
        attributes["MessageGroupId"] = message.group_id
    if message.deduplication_id:
        attributes["MessageDeduplicationId"] = message.deduplication_id
    return {"messageId": message.id, "receiptHandle": message.receipt_handle,
            "body": message.body, "attributes": attributes,
            "messageAttributes": message.message_attributes or {},
            "md5OfBody": message.body_md5, "eventSource": "aws:sqs",
            "eventSourceARN": queue.queue_arn, "awsRegion": queue.region}


def _reported_failures(esm: EventSourceMapping, payload: bytes) -> set[str]:
    """The messageIds a ReportBatchItemFailures response asks to keep."""
    if "ReportBatchItemFailures" not in (esm.function_response_types or []):
        return set()
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return set()
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    return {str(item.get("itemIdentifier")) for item in failures or []
            if isinstance(item, dict)}


_POLLERS: dict[int, _Poller] = {}


def patches() -> list[tuple[Any, str, Any]]:
    return [(LambdaBackend, "create_event_source_mapping", _create),
            (LambdaBackend, "update_event_source_mapping", _update),
            (SQSBackend, "receive_message", _receive)]


def on_install(sandbox) -> None:
    poller = _Poller(sandbox)
    _POLLERS[id(sandbox)] = poller
    sandbox.runtime.on_tick(poller.check)


def on_uninstall(sandbox) -> None:
    poller = _POLLERS.pop(id(sandbox), None)
    if poller:
        poller.active = False


def invocations(sandbox) -> dict[str, int]:
    """Batches invoked so far, per event source mapping UUID."""
    poller = _POLLERS.get(id(sandbox))
    return dict(poller.delivered) if poller else {}
