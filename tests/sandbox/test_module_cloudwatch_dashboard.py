"""cloudwatch_dashboard in process against the sandbox: idempotent, check mode, diff, absent."""

from __future__ import annotations

import json

import pytest

from test_bad_input import run_module

BODY = {"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
                     "properties": {"title": "Out of balance", "region": "us-east-1",
                                    "metrics": [["TaskSpread/ECS", "ServicesOutOfBalance",
                                                 "Cluster", "demo"]]}}]}


def dashboard(sandbox, capsys, check_mode=False, **args):
    return run_module("cloudwatch_dashboard", {"name": "rb", **args}, sandbox.endpoint, capsys,
                      check_mode)


def stored(aws):
    return json.loads(aws("cloudwatch").get_dashboard(DashboardName="rb")["DashboardBody"])


def test_create_update_delete_idempotent_with_check_mode_and_diff(sandbox, aws, capsys):
    planned = dashboard(sandbox, capsys, check_mode=True, body=BODY)
    assert planned["changed"] is True and planned["diff"]["before"] == ""
    assert aws("cloudwatch").list_dashboards()["DashboardEntries"] == []

    created = dashboard(sandbox, capsys, body=BODY)
    assert created["changed"] is True and created["body"] == BODY and stored(aws) == BODY
    assert created["dashboard_arn"].endswith(":dashboard/rb")
    # The same body as a JSON string with other key order and spacing: no change.
    again = dashboard(sandbox, capsys, body=json.dumps(BODY, indent=4, sort_keys=False))
    assert again["changed"] is False and again["body"] == BODY

    wider = json.loads(json.dumps(BODY))
    wider["widgets"][0]["width"] = 24
    diffed = dashboard(sandbox, capsys, check_mode=True, body=wider)
    assert diffed["changed"] is True and '"width": 12' in diffed["diff"]["before"]
    assert '"width": 24' in diffed["diff"]["after"] and stored(aws) == BODY
    assert dashboard(sandbox, capsys, body=wider)["changed"] is True and stored(aws) == wider

    assert dashboard(sandbox, capsys, check_mode=True, state="absent")["changed"] is True
    assert stored(aws) == wider
    gone = dashboard(sandbox, capsys, state="absent")
    assert gone["changed"] is True and gone["dashboard_arn"] == ""
    assert aws("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert dashboard(sandbox, capsys, state="absent")["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({}, r"state is present but all of the following are missing: body"),
    ({"body": "{not json"}, r"body is not valid JSON|json"),
    ({"body": {"widget": []}}, r"list of widgets"),
    ({"name": "bad name!", "body": BODY}, r"name must be 1-255"),
])
def test_bad_input_is_a_clear_error(sandbox, aws, capsys, args, message):
    import re

    out = run_module("cloudwatch_dashboard", {"name": "rb", **args}, sandbox.endpoint, capsys)
    assert out.get("failed") is True and re.search(message, out["msg"]), out
    assert aws("cloudwatch").list_dashboards()["DashboardEntries"] == []
