"""EventBridge delivery: enabled rules that match deliver to their Lambda targets.

moto's ``Rule.send_to_targets`` fires DISABLED rules, fires pattern-less (scheduled) rules for
every event, and raises NotImplementedError for a Lambda target, which also stops delivery to
every other rule (toolchain-notes §4). The patched version:

* ignores rules whose state is not ``ENABLED`` and rules without an event pattern;
* matches with moto's own ``EventPattern`` (prefix, anything-but, exists, numeric, nested
  detail, ``$or``);
* delivers to Lambda targets asynchronously through ``lambda_runner`` (the whole event, or the
  target's ``Input`` / ``InputPath`` / ``InputTransformer``), with ``time`` as an ISO string
  and without moto's private ``ingestion-time``;
* leaves every other target type (log group, SQS, archive, bus, API destination) to moto.

``emit(sandbox, event)`` puts a complete envelope built by the ECS control plane on the
default bus of ``sandbox.config.region`` without moto rebuilding its id or time. PutEvents
from a client goes through moto and reaches Lambda targets the same way.

Scheduled rules with ``rate(N minute|minutes|hour|hours|day|days)`` fire on the emulated
clock (first one period after the sandbox first sees the rule) [I]; ``cron()`` is not run.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser

from . import lambda_runner
from .host import active

_ORIGINAL_SEND = Rule.send_to_targets
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _iso(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _epoch(value: Any) -> Any:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return value


def _is_lambda(arn: str) -> bool:
    return arn.split(":")[2:3] == ["lambda"]


def _lambda_payload(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a Lambda target receives: the event, or the target's input settings applied."""
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        source = dict(event, **{"ingestion-time": _epoch(event.get("time"))})
        return EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                         input_paths_map=transformer.get("InputPathsMap", {}),
                                         event=source)
    return event


def _deliver_to_lambda(target: dict[str, Any], event: dict[str, Any]) -> None:
    clean = {k: v for k, v in event.items() if k != "ingestion-time"}
    clean["time"] = _iso(clean.get("time"))
    payload = json.dumps(_lambda_payload(target, clean)).encode()
    lambda_runner.submit(active(), target["Arn"], payload)


def _moto_form(event: dict[str, Any]) -> dict[str, Any]:
    """moto's own targets expect ``time`` as epoch seconds and an ``ingestion-time``."""
    form = copy.deepcopy(event)
    form["time"] = _epoch(form.get("time"))
    form.setdefault("ingestion-time", form["time"])
    return form


def _send_to_targets(self: Rule, original_event: dict[str, Any],
                     transform_input: bool = True) -> None:
    if self.state != "ENABLED" or not self.event_pattern.get_pattern():
        return
    if not self.event_pattern.matches_event(original_event):
        return
    _deliver(self, original_event, transform_input)


def _deliver(rule: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
    """Hand ``event`` to every target of ``rule`` (no matching)."""
    others = []
    for target in rule.targets:
        if _is_lambda(target["Arn"]):
            _deliver_to_lambda(target, event)
        else:
            others.append(target)
    if others:
        clone = copy.copy(rule)
        clone.targets = others
        clone.event_pattern = copy.copy(rule.event_pattern)
        clone.event_pattern._pattern = {}  # already matched; moto must not re-match
        _ORIGINAL_SEND(clone, _moto_form(event), transform_input)


# ------------------------------------------------------------------------ scheduling
class _Scheduler:
    """Fires ``rate()`` rules of every bus on the emulated clock; a timer exists only while
    an enabled rate rule does."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.due: dict[str, float] = {}  # rule arn -> next emulated firing time
        self.armed: float | None = None
        self.active = True

    def check(self) -> None:
        if not self.active:
            return
        now = self.sandbox.runtime.now()
        rules = _rate_rules(self.sandbox)
        self.due = {arn: self.due.get(arn, now + period) for arn, (_, period) in rules.items()}
        if self.due and (self.armed is None or self.armed > min(self.due.values())):
            self.armed = min(self.due.values())
            self.sandbox.runtime.call_at(self.armed, self.fire)

    def fire(self) -> None:
        self.armed = None
        if not self.active:
            return
        now = self.sandbox.runtime.now()
        for arn, (rule, period) in _rate_rules(self.sandbox).items():
            if self.due.get(arn, now + period) <= now:
                self.due[arn] = now + period
                _deliver(rule, _scheduled_event(self.sandbox, rule))
        self.check()


def _rate_rules(sandbox) -> dict[str, tuple[Rule, float]]:
    region_backends = events_backends[sandbox.config.account_id]
    backend = region_backends[sandbox.config.region]
    found = {}
    for bus in backend.event_buses.values():
        for rule in bus.rules.values():
            match = _RATE.match((rule.scheduled_expression or "").strip())
            if match and rule.state == "ENABLED":
                unit = match.group(2).rstrip("s")
                found[rule.arn] = (rule, int(match.group(1)) * _UNIT_SECONDS[unit])
    return found


def _scheduled_event(sandbox, rule: Rule) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": sandbox.config.account_id,
            "time": _iso(sandbox.runtime.now()), "region": sandbox.config.region,
            "resources": [rule.arn], "detail": {}}


_SCHEDULERS: dict[int, _Scheduler] = {}


def patches() -> list[tuple[Any, str, Any]]:
    return [(Rule, "send_to_targets", _send_to_targets)]


def on_install(sandbox) -> None:
    scheduler = _Scheduler(sandbox)
    _SCHEDULERS[id(sandbox)] = scheduler
    sandbox.runtime.on_tick(scheduler.check)


def on_uninstall(sandbox) -> None:
    scheduler = _SCHEDULERS.pop(id(sandbox), None)
    if scheduler:
        scheduler.active = False


# ---------------------------------------------------------------- public interface
def emit(sandbox, event: dict) -> None:
    """Put one full event envelope (version, id, detail-type, source, ... detail) on the
    default bus of sandbox.config.region. Missing envelope fields are filled in; the ones
    given (id, time, ...) are delivered as they are."""
    envelope = dict(event)
    envelope.setdefault("version", "0")
    envelope.setdefault("id", str(uuid.uuid4()))
    envelope.setdefault("account", sandbox.config.account_id)
    envelope.setdefault("time", _iso(sandbox.runtime.now()))
    envelope.setdefault("region", sandbox.config.region)
    envelope.setdefault("resources", [])
    envelope.setdefault("detail", {})
    backend = events_backends[sandbox.config.account_id][sandbox.config.region]
    with sandbox.runtime.lock:
        for rule in list(backend.describe_event_bus("default").rules.values()):
            rule.send_to_targets(copy.deepcopy(envelope))
