"""take_snapshot: capacity providers, AZ rebalancing, container health checks, services by ARN."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, UnknownServices, client_config, plan, take_snapshot,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
    az_rebalancing_in_progress, has_container_health_check,
)

ACC = "arn:aws:ecs:us-east-1:123456789012"
CL = f"{ACC}:cluster/prod"
TD = f"{ACC}:task-definition/app:1"
DEFAULT = [{"capacityProvider": "cp-a", "base": 1, "weight": 2},
           {"capacityProvider": "cp-b", "weight": 1}]


def ci(k, provider):
    return {"containerInstanceArn": f"{ACC}:container-instance/prod/{k}",
            "ec2InstanceId": f"i-{k}", "status": "ACTIVE", "agentConnected": True,
            "capacityProviderName": provider,
            "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1a"}],
            "registeredResources": [], "remainingResources": []}


def svc(name, **extra):
    doc = {"serviceName": name, "serviceArn": f"{ACC}:service/prod/{name}", "status": "ACTIVE",
           "desiredCount": 2, "runningCount": 2, "pendingCount": 0, "taskDefinition": TD,
           "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}
    doc.update(extra)
    return doc


def task(k, name, provider):
    return {"taskArn": f"{ACC}:task/prod/{k}", "group": f"service:{name}",
            "containerInstanceArn": f"{ACC}:container-instance/prod/{k}",
            "capacityProviderName": provider, "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING"}


@pytest.fixture
def ecs():
    client = boto3.client("ecs", region_name="us-east-1", config=client_config("standard", 3))
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def stub_read(stub, services, requested, td_containers=None):
    stub.add_response("describe_clusters", {"clusters": [
        {"clusterName": "prod", "clusterArn": CL, "status": "ACTIVE",
         "defaultCapacityProviderStrategy": DEFAULT}]}, {"clusters": ["prod"]})
    stub.add_response("list_container_instances",
                      {"containerInstanceArns": [f"{ACC}:container-instance/prod/0"]},
                      {"cluster": CL})
    stub.add_response("describe_container_instances", {"containerInstances": [ci(0, "cp-a")]},
                      {"cluster": CL, "containerInstances": [f"{ACC}:container-instance/prod/0"]})
    stub.add_response("describe_services", {"services": services},
                      {"cluster": CL, "services": requested, "include": ["TAGS"]})
    if td_containers is None:   # an unknown service ends the read before task definitions
        return
    stub.add_response("describe_task_definition", {"taskDefinition": {
        "taskDefinitionArn": TD, "containerDefinitions": td_containers}}, {"taskDefinition": TD})


def test_effective_strategy_provider_names_and_health_check(ecs):
    """CreateService API: "If no capacityProviderStrategy or launchType is specified, the
    defaultCapacityProviderStrategy for the cluster is used." Container instances and tasks
    report capacityProviderName (DescribeContainerInstances / DescribeTasks)."""
    client, stub = ecs
    own = [{"capacityProvider": "cp-b", "base": 0, "weight": 1}]
    docs = [svc("dflt"), svc("ec2", launchType="EC2"), svc("own", capacityProviderStrategy=own)]
    stub_read(stub, docs, ["dflt", "ec2", "own"],
              [{"name": "app", "healthCheck": {"command": ["CMD", "true"]}}])
    for name in ("dflt", "ec2", "own"):
        stub.add_response("list_tasks", {"taskArns": [f"{ACC}:task/prod/{name}"]},
                          {"cluster": CL, "desiredStatus": "RUNNING", "serviceName": name})
    stub.add_response("describe_tasks", {"tasks": [task(0, "dflt", "cp-a")]},
                      {"cluster": CL, "tasks": [f"{ACC}:task/prod/{n}" for n in
                                                ("dflt", "ec2", "own")]})
    stub.add_response("describe_capacity_providers", {"capacityProviders": [
        {"name": "cp-a", "type": "EC2_AUTOSCALING"}, {"name": "cp-b", "type": "EC2_AUTOSCALING"}]},
        {"capacityProviders": ["cp-a", "cp-b"]})
    snap = take_snapshot(client, "prod", services=["own", "ec2", "dflt"])
    assert snap.instances[0].capacity_provider == "cp-a"
    assert snap.tasks["dflt"][0].capacity_provider == "cp-a"
    dflt, ec2, own_svc = (snap.services[n] for n in ("dflt", "ec2", "own"))
    assert dflt.capacity_provider_strategy == (CapacityProviderItem("cp-a", 1, 2),
                                               CapacityProviderItem("cp-b", 0, 1))
    assert (dflt.launch_type, dflt.providers) == ("", ("cp-a", "cp-b"))
    assert (ec2.launch_type, ec2.capacity_provider_strategy) == ("EC2", ())
    assert (own_svc.launch_type, own_svc.providers) == ("", ("cp-b",))
    assert all(s.container_health_check for s in (dflt, ec2, own_svc))
    assert all(s.az_rebalancing == "DISABLED" and not s.az_rebalancing_in_progress
               for s in (dflt, ec2, own_svc))


def test_services_by_arn_are_read_and_planned(ecs):
    """DescribeServices "services": "A list of services to describe. You may specify up to 10
    services to describe in a single operation" (name or ARN); the snapshot keys by name."""
    client, stub = ecs
    arn = f"{ACC}:service/prod/web"
    stub_read(stub, [svc("web", launchType="EC2", availabilityZoneRebalancing="ENABLED")],
              [arn], [{"name": "app"}])
    stub.add_response("list_tasks", {"taskArns": []},
                      {"cluster": CL, "desiredStatus": "RUNNING", "serviceName": "web"})
    stub.add_response("describe_capacity_providers", {"capacityProviders": [
        {"name": "cp-a", "type": "EC2_AUTOSCALING"}]}, {"capacityProviders": ["cp-a"]})
    snap = take_snapshot(client, "prod", services=[arn])
    assert list(snap.services) == ["web"] and snap.services["web"].az_rebalancing == "ENABLED"
    assert snap.service_names([arn, "web", "ghost"]) == ("web",)
    planned = plan(snap, PlanOptions(services=(arn,)))
    assert [sp.service for sp in planned.services] == ["web"]


def test_unknown_service_keeps_callers_spelling(ecs):
    client, stub = ecs
    ghost = f"{ACC}:service/prod/ghost"
    stub_read(stub, [svc("web")], [ghost, "web"])
    with pytest.raises(UnknownServices) as err:
        take_snapshot(client, "prod", services=["web", ghost])
    assert err.value.names == (ghost,)


@pytest.mark.parametrize("messages, expected", [
    ([], False),
    (["service (web) has reached a steady state."], False),
    (["web has started 1 tasks in us-east-1b to AZ Rebalance: abc.",
      "service (web) is not AZ balanced with 3 tasks in us-east-1a and 1 task in us-east-1b. "
      "AZ Rebalancing in progress."], True),
    (["service (web) is AZ balanced with 2 tasks in us-east-1a and 2 tasks in us-east-1b.",
      "web has stopped 1 running tasks in us-east-1a due to AZ rebalancing: abc.",
      "service (web) is not AZ balanced with 3 tasks in us-east-1a and 1 task in us-east-1b. "
      "AZ Rebalancing in progress."], False),
    (["service (web) is not AZ balanced with 3 tasks in us-east-1a and 1 task in us-east-1b. "
      "AZ Rebalancing in progress.",
      "service (web) is AZ balanced with 2 tasks in us-east-1a and 2 tasks in us-east-1b."],
     True),
])
def test_az_rebalancing_in_progress_from_events(messages, expected):
    """track-service-rebalancing.html: "service (X) is not AZ balanced with ... AZ Rebalancing
    in progress." starts it, "service (X) is AZ balanced with ..." ends it. Events newest first."""
    events = [{"id": str(k), "message": m} for k, m in enumerate(messages)]
    assert az_rebalancing_in_progress(events) is expected


def test_az_rebalancing_compares_created_at_over_position():
    from datetime import datetime, timezone
    old = datetime(2026, 1, 1, tzinfo=timezone.utc)
    new = datetime(2026, 1, 2, tzinfo=timezone.utc)
    events = [{"message": "service (w) is AZ balanced with 1 task in a.", "createdAt": old},
              {"message": "x. AZ Rebalancing in progress.", "createdAt": new}]
    assert az_rebalancing_in_progress(events) is True


def test_container_health_check_only_on_essential_containers():
    """DeploymentConfiguration: with a container health check, a task must be HEALTHY to count
    toward minimumHealthyPercent; only essential containers decide a task's health."""
    check = {"command": ["CMD", "true"]}
    assert not has_container_health_check({"containerDefinitions": [{"name": "a"}]})
    assert not has_container_health_check({"containerDefinitions": [
        {"name": "a"}, {"name": "side", "essential": False, "healthCheck": check}]})
    assert has_container_health_check({"containerDefinitions": [
        {"name": "a", "healthCheck": check}]})


def test_a_task_document_maps_to_every_field_by_name():
    """``task_from_doc`` builds ``Task`` positionally (it runs 100,000 times a read): every
    field must land where its name says, whatever order the dataclass declares them in."""
    from datetime import datetime, timezone

    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import Task
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
        task_from_doc)
    started = datetime(2026, 1, 2, tzinfo=timezone.utc)
    doc = {"taskArn": "arn:t/1", "group": "service:web", "desiredStatus": "RUNNING",
           "containerInstanceArn": "arn:ci/1", "availabilityZone": "", "lastStatus": "PENDING",
           "startedBy": "ecs-svc/1", "healthStatus": "HEALTHY", "protectionEnabled": True,
           "startedAt": started, "createdAt": 1767312000.5, "taskDefinitionArn": "arn:td/web:3",
           "capacityProviderName": "cp-a"}
    task = task_from_doc(doc, {"arn:ci/1": "us-east-1b"})
    assert task == Task(arn="arn:t/1", service="web", instance_arn="arn:ci/1", az="us-east-1b",
                        last_status="PENDING", desired_status="RUNNING", started_by="ecs-svc/1",
                        health="HEALTHY", protected=True, started_at=started.timestamp(),
                        created_at=1767312000.5, task_definition="arn:td/web:3",
                        capacity_provider="cp-a")
    assert task_from_doc({**doc, "group": "family:web"}, {}) is None
    assert task_from_doc({**doc, "desiredStatus": "STOPPED"}, {}) is None
