"""CloudWatch in the sandbox: EMF log lines become metrics, alarms change state on the clock."""

from __future__ import annotations

import datetime
import json

import pytest

from sandbox.aws import cloudwatch

NS = "Test/Spread"


def emf(ts_ms: int = 0, **members) -> str:
    metrics = [k for k, v in members.items() if not isinstance(v, str)]
    dims = [k for k, v in members.items() if isinstance(v, str)]
    return json.dumps({"_aws": {"Timestamp": ts_ms, "CloudWatchMetrics": [{
        "Namespace": NS, "Dimensions": [dims],
        "Metrics": [{"Name": m, "Unit": "Count"} for m in metrics]}]}, **members})


def put_lines(aws, sandbox, *messages, group="/app", stream="s"):
    logs = aws("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    if not logs.describe_log_streams(logGroupName=group)["logStreams"]:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now_ms = int(sandbox.now() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now_ms, "message": m} for m in messages])


def values(aws, sandbox, name, dims, stat="Maximum", period=60, back=3600):
    # Period-aligned StartTime, as CloudWatch rounds it (moto counts periods from StartTime).
    now = datetime.datetime.fromtimestamp(sandbox.now() - sandbox.now() % period,
                                          datetime.timezone.utc)
    result = aws("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": {
            "Metric": {"Namespace": NS, "MetricName": name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
            "Period": period, "Stat": stat}}],
        StartTime=now - datetime.timedelta(seconds=back),
        EndTime=now + datetime.timedelta(seconds=period),
        ScanBy="TimestampAscending")["MetricDataResults"][0]
    return list(zip([t.timestamp() for t in result["Timestamps"]], result["Values"]))


def next_minute(sandbox) -> float:
    """Advance to the next whole minute (when the evaluator runs); returns the new now."""
    return sandbox.advance(60 - sandbox.now() % 60)


def alarm(aws, name="a"):
    return aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_emf_lines_become_metrics_on_the_sandbox_clock(sandbox, aws):
    put_lines(aws, sandbox, "plain text", emf(Cluster="c", Skew=2, Moves=1),
              emf(Cluster="c", Skew=[1, 5]))
    stamp = sandbox.now() - sandbox.now() % 60
    assert values(aws, sandbox, "Skew", {"Cluster": "c"}) == [(stamp, 5.0)]
    assert values(aws, sandbox, "Skew", {"Cluster": "c"}, stat="SampleCount") == [(stamp, 3.0)]
    assert values(aws, sandbox, "Moves", {"Cluster": "c"}, stat="Sum") == [(stamp, 1.0)]
    listed = aws("cloudwatch").list_metrics(Namespace=NS)["Metrics"]
    assert {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in listed} == {
        ("Skew", "c"), ("Moves", "c")}


@pytest.mark.parametrize("document", [
    {"_aws": {"CloudWatchMetrics": [{"Namespace": NS, "Dimensions": [[]],
                                     "Metrics": [{"Name": "X"}]}]}, "X": 1},   # no Timestamp
    {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
        "Namespace": NS, "Dimensions": [["Cluster"]], "Metrics": [{"Name": "X"}]}]}, "X": 1},
    {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
        "Namespace": NS, "Dimensions": [[]], "Metrics": [{"Name": "X"}]}]}, "X": "one"},
])
def test_invalid_emf_gives_no_metric_but_keeps_the_line(sandbox, aws, document):
    with pytest.raises(cloudwatch.InvalidEmf):
        cloudwatch.emf_metric_data(json.dumps(document))
    put_lines(aws, sandbox, json.dumps(document))
    assert aws("cloudwatch").list_metrics(Namespace=NS)["Metrics"] == []
    events = aws("logs").filter_log_events(logGroupName="/app")["events"]
    assert [json.loads(e["message"]) for e in events] == [document]


def test_every_dimension_set_gives_its_own_metric():
    doc = {"_aws": {"Timestamp": 5, "CloudWatchMetrics": [{
        "Namespace": NS, "Dimensions": [["Cluster"], ["Cluster", "Service"]],
        "Metrics": [{"Name": "Skew", "Unit": "Count"}]}]}, "Cluster": "c", "Service": "s",
        "Skew": 3}
    assert cloudwatch.emf_metric_data(json.dumps(doc)) == [(NS, [
        {"MetricName": "Skew", "Unit": "Count", "Value": 3.0,
         "Dimensions": [{"Name": "Cluster", "Value": "c"}]},
        {"MetricName": "Skew", "Unit": "Count", "Value": 3.0,
         "Dimensions": [{"Name": "Cluster", "Value": "c"}, {"Name": "Service", "Value": "s"}]},
    ])]
    assert cloudwatch.emf_metric_data('{"event": "moves"}') == []


def put_alarm(aws, name="a", **extra):
    params = {"AlarmName": name, "Namespace": NS, "MetricName": "Skew",
              "Dimensions": [{"Name": "Cluster", "Value": "c"}], "Statistic": "Maximum",
              "Period": 60, "EvaluationPeriods": 3, "Threshold": 1.0,
              "ComparisonOperator": "GreaterThanThreshold", **extra}
    aws("cloudwatch").put_metric_alarm(**params)


def test_alarm_goes_to_alarm_after_n_breaching_periods_and_back_to_ok(sandbox, aws):
    put_alarm(aws)
    assert alarm(aws)["StateValue"] == "INSUFFICIENT_DATA"
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "INSUFFICIENT_DATA"      # no data at all: missing
    states = []
    for skew in (3, 2, 4):
        put_lines(aws, sandbox, emf(Cluster="c", Skew=skew))
        next_minute(sandbox)
        states.append(alarm(aws)["StateValue"])
    # Periods with no data do not count (missing): only the third breaching period alarms.
    assert states == ["OK", "OK", "ALARM"]
    assert alarm(aws)["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 "
                                                "datapoints [3, 2, 4]")
    put_lines(aws, sandbox, emf(Cluster="c", Skew=0))
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "OK"


def test_a_metric_with_other_dimensions_is_not_the_alarms(sandbox, aws):
    put_alarm(aws, EvaluationPeriods=1)
    put_lines(aws, sandbox, emf(Cluster="c", Service="s", Skew=5), emf(Cluster="d", Skew=5))
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "INSUFFICIENT_DATA"


@pytest.mark.parametrize("treat, expected", [("notBreaching", "OK"), ("breaching", "ALARM"),
                                             ("ignore", "INSUFFICIENT_DATA"),
                                             ("missing", "INSUFFICIENT_DATA")])
def test_treat_missing_data(sandbox, aws, treat, expected):
    put_alarm(aws, TreatMissingData=treat, EvaluationPeriods=2)
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == expected


def test_datapoints_to_alarm_m_of_n(sandbox, aws):
    put_alarm(aws, EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="notBreaching")
    for skew in (5, 0):
        put_lines(aws, sandbox, emf(Cluster="c", Skew=skew))
        next_minute(sandbox)
        assert alarm(aws)["StateValue"] == "OK"
    put_lines(aws, sandbox, emf(Cluster="c", Skew=5))
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "ALARM"


def test_updating_an_alarm_keeps_its_state(sandbox, aws):
    put_alarm(aws, EvaluationPeriods=1)
    put_lines(aws, sandbox, emf(Cluster="c", Skew=5))
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "ALARM"
    put_alarm(aws, EvaluationPeriods=1, AlarmDescription="updated")
    assert (alarm(aws)["StateValue"], alarm(aws)["AlarmDescription"]) == ("ALARM", "updated")


def test_metric_math_alarms_are_left_alone(sandbox, aws):
    aws("cloudwatch").put_metric_alarm(
        AlarmName="math", EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[{"Id": "m", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "Skew"},
                                            "Period": 60, "Stat": "Sum"}}])
    put_lines(aws, sandbox, emf(Skew=5))
    next_minute(sandbox)
    assert alarm(aws, "math")["StateValue"] == "INSUFFICIENT_DATA"


def test_no_evaluation_timer_without_an_alarm(sandbox, aws):
    put_lines(aws, sandbox, emf(Cluster="c", Skew=5))
    assert cloudwatch.EVALUATOR.serving(sandbox) is False
    put_alarm(aws, EvaluationPeriods=1)
    assert cloudwatch.EVALUATOR.serving(sandbox) is True
    # Not evaluated before the minute turns; on the minute, at once.
    sandbox.advance(max(0.0, 60 - sandbox.now() % 60 - 1))
    assert alarm(aws)["StateValue"] == "INSUFFICIENT_DATA"
    next_minute(sandbox)
    assert alarm(aws)["StateValue"] == "ALARM"
    sandbox.stop()
    assert cloudwatch.EVALUATOR.serving(sandbox) is False


def test_a_failing_function_raises_an_alarm_on_aws_lambda_errors(sandbox, aws):
    from test_aws_lambda import zip_of

    role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName="fn", Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": "def handler(event, context):\n"
                                           "    if event.get('fail'):\n"
                                           "        raise ValueError('boom')\n"
                                           "    return 1\n"})})
    aws("cloudwatch").put_metric_alarm(
        AlarmName="errors", Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "fn"}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching")
    aws("lambda").invoke(FunctionName="fn", Payload=json.dumps({}))
    next_minute(sandbox)
    assert alarm(aws, "errors")["StateValue"] == "OK"
    response = aws("lambda").invoke(FunctionName="fn", Payload=json.dumps({"fail": True}))
    assert response["FunctionError"] == "Unhandled"
    next_minute(sandbox)
    assert alarm(aws, "errors")["StateValue"] == "ALARM"
    stats = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Statistics=["Sum"], Period=3600,
        Dimensions=[{"Name": "FunctionName", "Value": "fn"}],
        StartTime=datetime.datetime.fromtimestamp(sandbox.now() - 3600, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(sandbox.now(), datetime.timezone.utc))
    assert [p["Sum"] for p in stats["Datapoints"]] == [2.0]
    next_minute(sandbox)
    assert alarm(aws, "errors")["StateValue"] == "OK"        # no error since: notBreaching
