"""taskspread.ecs.ecs_gate: the rebalancer's event gate as an ansible-rulebook event filter.

It runs the Lambda's own gate (``files/rebalancer/gate.py``, one implementation for both
triggers) on the ECS event in each rulebook event and writes the answer next to it::

    event.taskspread = {"act": true|false, "trigger": ..., "reason": ..., "cluster": NAME}

so a rule tests one field (``event.taskspread.act == true``) and throttles per
``event.taskspread.cluster``. A single term matters: ansible-rulebook allows ``throttle`` only
on a rule with one condition, and with the pinned pyparsing it cannot run "and"/"or".

Arguments:
  cluster: only events of this ECS cluster (name) act; empty or unset: every cluster, each event's
           own (a scheduled event names no cluster, so it acts only when this is set).
  key:     where the EventBridge event is in the rulebook event; default ``body`` (what the
           SQS sources put there).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

DOCUMENTATION = r"""
---
short_description: Mark the ECS events that can need a rebalance (the rebalancer Lambda's gate).
description:
  - Adds C(taskspread) (act, trigger, reason, cluster) to each event, computed by the same gate
    as the rebalancer Lambda.
options:
  cluster:
    description: Only events of this ECS cluster act (default every cluster).
    type: str
  key:
    description: Key of the EventBridge event in the rulebook event.
    type: str
    default: body
"""

EXAMPLES = r"""
filters:
  - taskspread.ecs.ecs_gate:
      cluster: taskspread-demo
"""


def _load_gate():
    # The collection's root is four levels up (extensions/eda/plugins/event_filter); the gate
    # is plain Python with no imports beyond the standard library.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))))
    path = os.path.join(root, "files", "rebalancer", "gate.py")
    spec = importlib.util.spec_from_file_location("taskspread_rebalancer_gate", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GATE = _load_gate()


def _cluster_of(ecs_event: Any) -> str | None:
    detail = ecs_event.get("detail") if isinstance(ecs_event, dict) else None
    arn = detail.get("clusterArn") if isinstance(detail, dict) else None
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and arn else None


def main(event: dict[str, Any], cluster: str | None = None, key: str = "body") -> dict[str, Any]:
    ecs_event = event.get(key)
    name = cluster or _cluster_of(ecs_event)
    if name is None:
        verdict = {"act": False, "trigger": "unknown", "cluster": None,
                   "reason": "the event names no cluster and the filter was given none"}
    else:
        decision = GATE.decide(ecs_event, name)
        verdict = {"act": decision.act, "trigger": decision.trigger, "reason": decision.reason,
                   "cluster": name}
        if decision.service:
            verdict["service"] = decision.service
    event["taskspread"] = verdict
    return event
