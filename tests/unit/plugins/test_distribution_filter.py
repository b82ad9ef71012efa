"""The distribution_table filter renders task_distribution_info output for humans."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.taskspread.ecs.plugins.filter.distribution import (
    FilterModule, distribution_table,
)

INFO = {
    "instances": [
        {"arn": "arn:ci/b", "az": "us-east-1b", "ec2_instance_id": "i-b", "status": "ACTIVE"},
        {"arn": "arn:ci/a", "az": "us-east-1a", "ec2_instance_id": "i-a", "status": "DRAINING"},
    ],
    "services": {
        "web": {"instances": {"arn:ci/a": 2}, "skew": {"instanceId": 2}, "balanced": False,
                "skip": None},
        "batch": {"instances": {}, "skew": {}, "balanced": False,
                  "skip": {"code": "daemon", "message": "DAEMON service"}},
    },
}


def test_rows_per_instance_sorted_by_az_with_counts_bars_and_state():
    lines = distribution_table(INFO, "after")
    assert lines[0] == "after"
    web = lines.index("service web:")
    assert lines[web + 1].split() == ["us-east-1a", "i-a", "2", "##", "(DRAINING)"]
    assert lines[web + 2].split() == ["us-east-1b", "i-b", "0"]
    assert lines[web + 3] == "  skew instanceId=2; OUT OF BALANCE"
    assert "  skew n/a; skipped: DAEMON service" in lines


def test_wrong_input_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="task_distribution_info"):
        distribution_table({"changed": False})


def test_registered_name():
    assert FilterModule().filters() == {"distribution_table": distribution_table}


def test_tasks_on_an_instance_that_is_not_a_candidate_are_counted():
    info = {**INFO, "services": {"web": {"instances": {"arn:ci/b": 1}, "ineligible": {"arn:ci/a": 3},
                                         "skew": {}, "balanced": True, "skip": None}}}
    lines = distribution_table(info)
    assert lines[1].split() == ["us-east-1a", "i-a", "3", "###", "(DRAINING)"]
    assert lines[2].split() == ["us-east-1b", "i-b", "1", "#"]
