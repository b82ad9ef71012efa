"""The rebalancer role's alarms and dashboard read exactly the metrics the function emits.

The dashboard template is rendered in process with Ansible's own templar and the role's
defaults and vars (as the role would), then checked against ``metrics.py``: every metric of our
namespace a widget or an alarm names is one the function writes, with the dimensions it writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from files.rebalancer import metrics
from files.rebalancer.config import DEFAULT_NAMESPACE

ROLE = Path(__file__).resolve().parents[3] / "roles" / "rebalancer"
PREFIX = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:demo-rebalancer-"


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def role_vars(**overrides) -> dict:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    role = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    return _trusted({**defaults, **role, "rebalancer_cluster_name": "demo",
                     "rebalancer_function_name": "demo-rebalancer",
                     "_rebalancer_region": "us-east-1",
                     "_rebalancer_alarm_arn_prefix": PREFIX, **overrides})


def render(text: str, **overrides):
    templar = Templar(loader=DataLoader(), variables=role_vars(**overrides))
    return templar.template(trust_as_template(text))


def dashboard(**overrides) -> dict:
    return json.loads(render((ROLE / "templates" / "dashboard.json.j2").read_text(), **overrides))


def our_metrics(body: dict) -> list[tuple[str, tuple[str, ...]]]:
    """(metric name, dimension names) of every TaskSpread metric the widgets plot."""
    out = []
    for widget in body["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], dict):
                expr = row[0]["expression"]
                schema, name = re.search(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"",
                                         expr).groups()
                namespace, *dims = schema.split(",")
            else:
                namespace, name, *rest = [x for x in row if not isinstance(x, dict)]
                dims = rest[0::2]
            if namespace == DEFAULT_NAMESPACE:
                out.append((name, tuple(dims)))
    return out


def test_defaults_name_the_functions_namespace():
    assert yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())[
        "rebalancer_metrics_namespace"] == DEFAULT_NAMESPACE


@pytest.mark.parametrize("per_service", [False, True])
def test_the_dashboard_plots_only_metrics_the_function_writes(per_service):
    body = dashboard(rebalancer_metrics_per_service=per_service)
    plotted = our_metrics(body)
    for name, dims in plotted:
        if dims == ("Cluster",):
            assert name in metrics.CLUSTER_METRICS, name
        elif dims == ("Cluster", "Reason"):
            assert name == "Refusals"
        else:
            assert dims == ("Cluster", "Service") and name in metrics.SERVICE_METRICS, name
    assert {n for n, d in plotted if d == ("Cluster",)} == set(metrics.CLUSTER_METRICS) - {
        "Refusals"}     # the total is the stacked by-reason graph
    assert any(d == ("Cluster", "Service") for _, d in plotted) is per_service
    alarms = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarms[0]["properties"]["alarms"] == [
        PREFIX + "out-of-balance", PREFIX + "errors", PREFIX + "refusals"]


def test_a_disabled_alarm_leaves_the_dashboard():
    body = dashboard(rebalancer_alarm_errors=False)
    alarms = [w for w in body["widgets"] if w["type"] == "alarm"][0]
    assert alarms["properties"]["alarms"] == [PREFIX + "out-of-balance", PREFIX + "refusals"]
    none = dashboard(rebalancer_alarm_errors=False, rebalancer_alarm_refusals=False,
                     rebalancer_alarm_out_of_balance=False)
    assert [w for w in none["widgets"] if w["type"] == "alarm"] == []


def test_alarms_read_metrics_the_function_writes():
    alarms = render("{{ _rebalancer_alarms }}")
    assert set(alarms) == {"out-of-balance", "errors", "refusals"}
    for key in ("out-of-balance", "refusals"):
        alarm = alarms[key]
        assert alarm["namespace"] == DEFAULT_NAMESPACE
        assert alarm["metric"] in metrics.CLUSTER_METRICS
        assert alarm["dimensions"] == {"Cluster": "demo"}
        assert alarm["unit"] == metrics.COUNT
    assert alarms["errors"]["namespace"] == "AWS/Lambda"
    assert alarms["errors"]["dimensions"] == {"FunctionName": "demo-rebalancer"}
    assert (alarms["out-of-balance"]["comparison"], float(alarms["out-of-balance"]["threshold"]),
            int(alarms["out-of-balance"]["periods"])) == ("GreaterThanThreshold", 0.0, 3)
