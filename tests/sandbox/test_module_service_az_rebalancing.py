"""taskspread.ecs.service_az_rebalancing: sets availabilityZoneRebalancing only when it differs;
check mode predicts; diff shows before/after; no deployment starts (AZR: "Changing it does not
start a deployment")."""

from __future__ import annotations

from test_bad_input import run_module


def test_sets_only_when_different_with_check_mode_and_diff(sandbox, aws, capsys):
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "httpd", "memory": 128}])
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=0,
                       availabilityZoneRebalancing="ENABLED")
    args = {"cluster": "demo", "service": "web", "state": "disabled", "_ansible_diff": True}

    predicted = run_module("service_az_rebalancing", args, sandbox.endpoint, capsys,
                           check_mode=True)
    assert predicted["changed"] is True
    assert predicted["availability_zone_rebalancing"] == "DISABLED"
    assert predicted["diff"] == {"before": {"availability_zone_rebalancing": "ENABLED"},
                                 "after": {"availability_zone_rebalancing": "DISABLED"}}
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["availabilityZoneRebalancing"] == "ENABLED"

    done = run_module("service_az_rebalancing", args, sandbox.endpoint, capsys)
    assert done["changed"] is True and done["availability_zone_rebalancing"] == "DISABLED"
    assert done["service_arn"] == svc["serviceArn"]
    again = run_module("service_az_rebalancing", args, sandbox.endpoint, capsys)
    assert again["changed"] is False
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["availabilityZoneRebalancing"] == "DISABLED" and len(svc["deployments"]) == 1
