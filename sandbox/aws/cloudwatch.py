"""CloudWatch as the rebalancer sees it: metrics from log lines, alarms that change state.

moto stores metric data (PutMetricData) and alarms (PutMetricAlarm), but nothing turns
Embedded Metric Format log lines into metrics, and an alarm stays in the state it was created
in (moto creates it as ``OK``; only SetAlarmState changes it). This module adds both, on the
sandbox clock:

* **EMF extraction** (``LogsBackend.put_log_events``): every accepted log event whose message is
  a JSON object with an ``_aws.CloudWatchMetrics`` directive becomes metric data points, as
  CloudWatch Logs does ("Specification: Embedded metric format"): for each directive, each
  dimension set and each metric, one datum in the directive's namespace, with the dimension
  values and metric values (a number or a list of numbers) read from the document's top-level
  members. A document that breaks the specification (no Timestamp, a dimension or metric
  member missing or of the wrong type, more than 30 dimensions in a set or 100 metrics in a
  directive) yields no metric; its log line is kept, as on AWS. The data points are stamped with
  the log event's timestamp, not ``_aws.Timestamp``: a Lambda handler runs in a subprocess on the
  wall clock, while the log line (``lambda_runner``) is stamped on the sandbox clock, the one
  timeline of every emulated service.
* **Lambda's own metrics** (``record_invocation``): each invocation adds ``AWS/Lambda``
  ``Invocations``, ``Errors`` (1 for a function error) and ``Duration`` (ms), dimension
  ``FunctionName``, at the invocation's start, so an alarm on the function failing can fire.
* **Alarm evaluation**: once an alarm exists, every ``EVALUATION_SECONDS`` of sandbox time (on
  the minute, as CloudWatch evaluates) each metric alarm is evaluated over its last
  ``EvaluationPeriods`` whole periods: the ``Statistic`` (Sum, Average, Minimum, Maximum,
  SampleCount) of the data points whose namespace, name and dimensions match exactly (and
  ``Unit`` if the alarm has one), compared with ``Threshold``; ``ALARM`` when at least
  ``DatapointsToAlarm`` (default: EvaluationPeriods) periods breach, else ``OK``.
  ``TreatMissingData``: ``breaching``/``notBreaching`` fill empty periods; with ``missing`` (the
  default) a range with no data point at all goes to ``INSUFFICIENT_DATA``, with ``ignore`` the
  state is kept. A state change is recorded as moto records SetAlarmState (reason, reason data,
  history). Not emulated: metric-math and composite alarms, percentiles, anomaly detection
  (their state is left alone), and alarm actions (nothing is notified).
* PutMetricAlarm of an existing alarm keeps its state (moto would reset it to ``OK``); a new
  alarm starts in ``INSUFFICIENT_DATA``, as on AWS.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, Statistics, cloudwatch_backends
from moto.logs.models import LogsBackend

from .host import Clocked, active

LOG = logging.getLogger("sandbox.cloudwatch")

EVALUATION_SECONDS = 60
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}

_ORIGINAL_PUT_LOG_EVENTS = LogsBackend.put_log_events
_ORIGINAL_PUT_METRIC_ALARM = CloudWatchBackend.put_metric_alarm


# ------------------------------------------------------------------------------ EMF
class InvalidEmf(ValueError):
    """The document breaks the EMF specification: CloudWatch extracts no metric from it."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def emf_metric_data(message: str) -> list[tuple[str, list[dict]]]:
    """[(namespace, PutMetricData MetricData without Timestamp)] of one log message; [] when it
    is not an EMF document. Raises InvalidEmf for a document that claims to be one but breaks
    the specification."""
    try:
        doc = json.loads(message)
    except ValueError:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("_aws"), dict) \
            or "CloudWatchMetrics" not in doc["_aws"]:
        return []
    meta = doc["_aws"]
    if not _number(meta.get("Timestamp")):
        raise InvalidEmf("_aws.Timestamp must be a number (milliseconds since the epoch)")
    directives = meta["CloudWatchMetrics"]
    if not isinstance(directives, list):
        raise InvalidEmf("_aws.CloudWatchMetrics must be a list")
    out = []
    for directive in directives:
        out.append(_directive(doc, directive))
    return out


def _directive(doc: dict, directive: Any) -> tuple[str, list[dict]]:
    if not isinstance(directive, dict):
        raise InvalidEmf("a CloudWatchMetrics directive must be an object")
    namespace, dimension_sets = directive.get("Namespace"), directive.get("Dimensions")
    metric_defs = directive.get("Metrics")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidEmf("Namespace must be a non-empty string")
    if not isinstance(dimension_sets, list) or not isinstance(metric_defs, list):
        raise InvalidEmf("Dimensions and Metrics must be lists")
    if len(metric_defs) > MAX_METRICS:
        raise InvalidEmf(f"a directive holds at most {MAX_METRICS} metrics")
    dimensions = []
    for dimension_set in dimension_sets:
        if not isinstance(dimension_set, list) or len(dimension_set) > MAX_DIMENSIONS:
            raise InvalidEmf(f"a dimension set is a list of at most {MAX_DIMENSIONS} keys")
        for key in dimension_set:
            if not isinstance(key, str) or not isinstance(doc.get(key), str):
                raise InvalidEmf(f"dimension {key!r} must name a string member")
        dimensions.append([{"Name": key, "Value": doc[key]} for key in dimension_set])
    data = []
    for metric in metric_defs:
        name = metric.get("Name") if isinstance(metric, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidEmf("every metric needs a Name")
        value = doc.get(name)
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_VALUES or not all(_number(v) for v in values):
            raise InvalidEmf(f"metric {name!r} must be a number or up to {MAX_VALUES} numbers")
        unit = metric.get("Unit") or "None"
        for dims in dimensions:
            datum: dict[str, Any] = {"MetricName": name, "Dimensions": dims, "Unit": unit}
            if isinstance(value, list):
                datum["Values"] = [float(v) for v in values]
            else:
                datum["Value"] = float(value)
            data.append(datum)
    return namespace, data


def _stamp(ms: float) -> datetime.datetime:
    """A naive UTC datetime, as moto's ``utcnow()`` stamps data points."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).replace(tzinfo=None)


def _put_log_events(self: LogsBackend, log_group_name: str, log_stream_name: str,
                    log_events: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    token, rejected = _ORIGINAL_PUT_LOG_EVENTS(self, log_group_name, log_stream_name, log_events)
    too_old = rejected.get("tooOldLogEventEndIndex", -1)
    too_new = rejected.get("tooNewLogEventStartIndex", len(log_events))
    backend = cloudwatch_backends[self.account_id][self.region_name]
    for event in log_events[too_old + 1:too_new]:
        message = event.get("message", "")
        if "_aws" not in message:
            continue
        try:
            extracted = emf_metric_data(message)
        except InvalidEmf as err:
            LOG.warning("log line in %s is not valid EMF, no metric extracted: %s",
                        log_group_name, err)
            continue
        for namespace, data in extracted:
            when = _stamp(event["timestamp"])
            backend.put_metric_data(namespace, [dict(d, Timestamp=when) for d in data])
    return token, rejected


def record_invocation(fn: Any, began: float, duration_ms: float, failed: bool) -> None:
    """Lambda's ``AWS/Lambda`` metrics of one invocation (dimension FunctionName)."""
    backend = cloudwatch_backends[fn.account_id][fn.region]
    dims = [{"Name": "FunctionName", "Value": fn.function_name}]
    when = _stamp(began * 1000)
    backend.put_metric_data("AWS/Lambda", [
        {"MetricName": "Invocations", "Value": 1.0, "Unit": "Count", "Dimensions": dims,
         "Timestamp": when},
        {"MetricName": "Errors", "Value": 1.0 if failed else 0.0, "Unit": "Count",
         "Dimensions": dims, "Timestamp": when},
        {"MetricName": "Duration", "Value": float(duration_ms), "Unit": "Milliseconds",
         "Dimensions": dims, "Timestamp": when},
    ])


# --------------------------------------------------------------------------- alarms
def _epoch(stamp: datetime.datetime) -> float:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def _matches(datum: Any, alarm: Any) -> bool:
    return (datum.namespace == alarm.namespace and datum.name == alarm.metric_name
            and {(d.name, d.value) for d in datum.dimensions}
            == {(d.name, d.value) for d in alarm.dimensions}
            and (not alarm.unit or datum.unit == alarm.unit))


def evaluable(alarm: Any) -> bool:
    """A plain metric alarm on one of the statistics above (no math, percentile, composite)."""
    return bool(alarm.metric_name and not alarm.metric_data_queries and not alarm.rule
                and alarm.statistic in STATISTICS
                and alarm.comparison_operator in COMPARISONS)


def period_values(backend: CloudWatchBackend, alarm: Any, now: float) -> list[tuple[float, float | None]]:
    """(period start, statistic or None when empty) for the alarm's last whole periods."""
    period = int(alarm.period)
    count = int(alarm.evaluation_periods)
    end = math.floor(now / period) * period
    starts = [end - (count - i) * period for i in range(count)]
    data = [d for d in backend.metric_data if _matches(d, alarm)]
    out = []
    for start in starts:
        inside = [d for d in data if start <= _epoch(d.timestamp) < start + period]
        if not inside:
            out.append((start, None))
            continue
        stats = Statistics([alarm.statistic], _stamp(start * 1000))
        stats.metric_data = inside
        out.append((start, float(stats.get_statistics_for_type(alarm.statistic))))
    return out


def evaluate(alarm: Any, values: list[tuple[float, float | None]]) -> tuple[str, str] | None:
    """(new state, reason) for these period values, or None to keep the current state."""
    compare, words = COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    treat = alarm.treat_missing_data or "missing"
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    present = [v for _, v in values if v is not None]
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        return ("INSUFFICIENT_DATA", f"Insufficient Data: {len(values)} datapoints were "
                                     f"unknown.")
    # Each period breaches, does not, or (missing, with missing/ignore) does not count.
    verdicts = [compare(v, threshold) if v is not None
                else {"breaching": True, "notBreaching": False}.get(treat)
                for _, v in values]
    breaching = sum(1 for verdict in verdicts if verdict is True)
    shown = ", ".join("missing" if v is None else f"{v:g}" for _, v in values)
    if breaching >= needed:
        return ("ALARM", f"Threshold Crossed: {breaching} out of the last {len(values)} "
                         f"datapoints [{shown}] were {words} the threshold ({threshold:g}) "
                         f"(minimum {needed} datapoints for OK -> ALARM transition).")
    return ("OK", f"Threshold Crossed: {len(values) - breaching} out of the last "
                  f"{len(values)} datapoints [{shown}] were not {words} the threshold "
                  f"({threshold:g}).")


def evaluate_all(now: float) -> int:
    """Evaluate every alarm of every account and region; returns how many changed state."""
    changed = 0
    for account in list(cloudwatch_backends.keys()):
        for region in list(cloudwatch_backends[account].keys()):
            backend = cloudwatch_backends[account][region]
            for alarm in list(backend.alarms.values()):
                if not evaluable(alarm):
                    continue
                values = period_values(backend, alarm, now)
                outcome = evaluate(alarm, values)
                if outcome is None or outcome[0] == alarm.state_value:
                    continue
                state, reason = outcome
                data = {"version": "1.0", "queryDate": _stamp(now * 1000).isoformat(),
                        "statistic": alarm.statistic, "period": int(alarm.period),
                        "recentDatapoints": [v for _, v in values if v is not None],
                        "threshold": float(alarm.threshold)}
                alarm.update_state(reason, json.dumps(data), state)
                changed += 1
    return changed


class AlarmEvaluator:
    """Evaluates on the minute of the sandbox clock, from the first PutMetricAlarm on (no timer
    while a sandbox has no alarm, so its timeline is untouched)."""

    def __init__(self) -> None:
        self._hosts: list[Clocked] = []

    def serving(self, host: Clocked) -> bool:
        """Whether ``host``'s alarms are being evaluated (a timer is due on its clock)."""
        return any(h is host for h in self._hosts)

    def ensure(self, host: Clocked | None) -> None:
        if host is None or self.serving(host):
            return
        self._hosts.append(host)
        self._schedule(host)

    def _schedule(self, host: Clocked) -> None:
        now = host.runtime.now()
        due = (math.floor(now / EVALUATION_SECONDS) + 1) * EVALUATION_SECONDS
        host.runtime.call_at(due, lambda: self._run(host))

    def _run(self, host: Clocked) -> None:
        if not self.serving(host) or active() is not host:
            return
        evaluate_all(host.runtime.now())
        self._schedule(host)

    def forget(self, host: Clocked) -> None:
        self._hosts = [h for h in self._hosts if h is not host]


EVALUATOR = AlarmEvaluator()


def _put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
    previous = self.alarms.get(name)
    alarm = _ORIGINAL_PUT_METRIC_ALARM(self, name, *args, **kwargs)
    if previous is not None:
        alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
        alarm.state_reason_data = previous.state_reason_data
        alarm.state_updated_timestamp = previous.state_updated_timestamp
        alarm.history = previous.history
    else:
        alarm.state_value = "INSUFFICIENT_DATA"
    EVALUATOR.ensure(active())
    return alarm


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (LogsBackend, "put_log_events", _put_log_events),
        (CloudWatchBackend, "put_metric_alarm", _put_metric_alarm),
    ]


def on_install(sandbox) -> None:
    """Nothing to prepare: the evaluator starts with the first alarm."""


def on_uninstall(sandbox) -> None:
    EVALUATOR.forget(sandbox)
