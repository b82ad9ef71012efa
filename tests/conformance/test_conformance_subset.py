"""A fast subset of ``make conformance`` for every ``make test``: a handful of moto's own tests,
chosen to touch each area the sandbox emulates (clusters, task definitions, container
instances and the agent's resources, tasks and their lifecycle, services, capacity providers,
tags, the one-region refusal, Auto Scaling, ELBv2, Application Auto Scaling), run in moto's
server mode against a sandbox subprocess. Each must end as ``expected.yml`` says: pass, or
fail for the reason listed there. The whole run is ``make conformance``.

The first run downloads moto's source distribution with pip (the version requirements.txt
pins) into ``.cache/conformance/``.
"""

from __future__ import annotations

import pytest

import moto_suite

SUBSET = [
    "tests/test_ecs/test_ecs.py::test_create_cluster",
    "tests/test_ecs/test_ecs.py::test_describe_task_definitions",
    "tests/test_ecs/test_ecs.py::test_update_container_instances_state",
    "tests/test_ecs/test_ecs.py::test_resource_reservation_and_release",
    "tests/test_ecs/test_ecs.py::test_start_task",                 # expected: PENDING first
    "tests/test_ecs/test_ecs.py::test_update_service_exceptions",
    "tests/test_ecs/test_ecs.py::test_put_capacity_providers",
    "tests/test_ecs/test_ecs.py::test_list_tags_for_resource_ecs_service",
    "tests/test_ecs/test_ecs.py::test_list_clusters",              # expected: one region
    "tests/test_autoscaling/test_autoscaling.py::test_create_autoscaling_group_from_template",
    "tests/test_autoscaling/test_autoscaling.py::test_update_mixed_instances_policy",
    "tests/test_elbv2/test_elbv2_target_health.py::test_describe_unknown_targets",
    "tests/test_applicationautoscaling/test_applicationautoscaling.py::test_put_scheduled_action",
]


@pytest.mark.e2e
def test_subset_of_moto_suite_ends_as_expected():
    log_dir = moto_suite.CACHE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    reports = moto_suite.run(list(moto_suite.SUITES), speed=50.0, timeout=60, only=SUBSET,
                             log_dir=log_dir)
    outcomes = {}
    for report in reports:
        for outcome, ids in report.rows.items():
            outcomes.update({test_id: outcome for test_id in ids})
    assert set(outcomes) == set(SUBSET), "every chosen test ran"
    expected = moto_suite.load_expected()
    wanted = {t: "expected-different" if t in expected.get(moto_suite.suite_of(t), {})
              else "passed" for t in SUBSET}
    assert outcomes == wanted, moto_suite.format_report(reports)
