"""rebalancer_log_info's parser: START lines count invocations, JSON lines become entries."""

from __future__ import annotations

import json

from ansible_collections.taskspread.ecs.plugins.modules.rebalancer_log_info import parse


def line(ts, message):
    return {"timestamp": ts, "eventId": str(ts), "message": message}


def test_invocations_entries_and_noise():
    events = [
        line(3, json.dumps({"event": "moves", "count": 1})),
        line(1, "START RequestId: 1 Version: $LATEST"),
        line(2, json.dumps({"event": "triggered", "act": True})),
        line(4, "END RequestId: 1"),
        line(5, "REPORT RequestId: 1 Duration: 10 ms"),
        line(6, "Traceback (most recent call last):"),
        line(7, json.dumps(["not", "an", "entry"])),
        line(8, "START RequestId: 2 Version: $LATEST"),
    ]
    invocations, entries = parse(events)
    assert invocations == 2
    assert [(e["event"], e["timestamp"]) for e in entries] == [("triggered", 2), ("moves", 3)]
