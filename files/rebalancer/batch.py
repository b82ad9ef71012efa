"""An SQS batch of EventBridge events, gated event by event and decided once.

With ``rebalancer_trigger: queue`` EventBridge puts each ECS event on an SQS queue and Lambda's
event source mapping hands the function a batch of up to BatchSize messages, gathered for up
to MaximumBatchingWindowInSeconds. Each record's ``body`` is one EventBridge event (JSON). The
batch is worth one engine run when any of its events passes the gate (``gate.decide``); the
events that passed are the decision's reasons. A burst of steady states therefore costs one
decision, not one each.

The batch also says what the decision is about: the services whose steady state it names and
whether any instance event or the schedule widens it to the whole cluster (issue 17's scope:
the engine then reads only the named services' tasks, or the whole cluster).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .gate import Verdict, decide

SQS_SOURCE = "aws:sqs"


@dataclass(frozen=True)
class Gated:
    """One record of the batch and the gate's verdict on the event in its body."""

    message_id: str
    verdict: Verdict

    def to_log(self) -> dict:
        out = {"message_id": self.message_id, "trigger": self.verdict.trigger,
               "reason": self.verdict.reason}
        if self.verdict.service:
            out["service"] = self.verdict.service
        return out


@dataclass(frozen=True)
class BatchVerdict:
    events: int
    acted: list[Gated] = field(default_factory=list)
    ignored: list[Gated] = field(default_factory=list)

    @property
    def act(self) -> bool:
        return bool(self.acted)

    @property
    def whole_cluster(self) -> bool:
        """An instance event or the schedule concerns every service of the cluster."""
        return any(g.verdict.trigger != "service_steady_state" for g in self.acted)

    @property
    def services(self) -> list[str]:
        return sorted({g.verdict.service for g in self.acted if g.verdict.service})

    def scope_reason(self) -> str:
        """Why the decision reads what it reads (the result's and the log's ``scope``)."""
        widening = [g.verdict.reason for g in self.acted
                    if g.verdict.trigger != "service_steady_state"]
        if widening:
            return f"the whole cluster: {widening[0]}" + (
                f" (and {len(widening) - 1} more)" if len(widening) > 1 else "")
        if not self.services:
            return "the whole cluster: the steady states name no service"
        return f"{len(self.services)} service(s) of the batch reached a steady state"

    @property
    def reason(self) -> str:
        if not self.acted:
            return f"none of the batch's {self.events} events is a rebalancing trigger"
        return f"{len(self.acted)} of the batch's {self.events} events are triggers"


def is_sqs_batch(event: Any) -> bool:
    """The shape Lambda gives an SQS event source mapping's batch."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return False
    records = event["Records"]
    return bool(records) and all(isinstance(r, dict) and r.get("eventSource") == SQS_SOURCE
                                 for r in records)


def decide_batch(event: dict, cluster: str) -> BatchVerdict:
    acted, ignored = [], []
    for record in event["Records"]:
        gated = Gated(str(record.get("messageId", "?")), _decide_record(record, cluster))
        (acted if gated.verdict.act else ignored).append(gated)
    return BatchVerdict(events=len(event["Records"]), acted=acted, ignored=ignored)


def _decide_record(record: dict, cluster: str) -> Verdict:
    body = record.get("body")
    try:
        inner = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        inner = None
    if inner is None:
        return Verdict(False, "unknown", "the message body is not a JSON event")
    return decide(inner, cluster)
