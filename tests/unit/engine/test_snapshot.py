"""take_snapshot against a stubbed ECS client: pagination, batching, call count, errors."""

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    ClusterNotFound, UnknownServices, client_config, take_snapshot, task_resources,
)

ACC = "arn:aws:ecs:us-east-1:123456789012"
CL = f"{ACC}:cluster/prod"


def ci_arn(k):
    return f"{ACC}:container-instance/prod/{k:04d}"


def task_arn(k):
    return f"{ACC}:task/prod/{k:05d}"


def ci_doc(k):
    return {"containerInstanceArn": ci_arn(k), "ec2InstanceId": f"i-{k:04d}",
            "status": "DRAINING" if k == 0 else "ACTIVE", "agentConnected": True,
            "attributes": [{"name": "ecs.availability-zone", "value": f"us-east-1{'ab'[k % 2]}"}],
            "registeredResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                                    {"name": "MEMORY", "type": "INTEGER", "integerValue": 4000}],
            "remainingResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                                   {"name": "MEMORY", "type": "INTEGER", "integerValue": 3000},
                                   {"name": "PORTS", "type": "STRINGSET",
                                    "stringSetValue": ["22", "8080"]}]}


def svc_doc(k):
    return {"serviceName": f"s{k:02d}", "serviceArn": f"{ACC}:service/prod/s{k:02d}",
            "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
            "launchType": "EC2", "schedulingStrategy": "REPLICA",
            "taskDefinition": f"{ACC}:task-definition/app:{1 + k % 2}",
            "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50},
            "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}],
            "placementStrategy": [{"type": "spread", "field": "instanceId"}],
            "placementConstraints": [{"type": "distinctInstance"}],
            "tags": [{"key": "taskspread:rebalance", "value": "true"}]}


def td_doc(rev):
    return {"taskDefinition": {
        "taskDefinitionArn": f"{ACC}:task-definition/app:{rev}", "networkMode": "bridge",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:x exists"}],
        "containerDefinitions": [
            {"name": "a", "cpu": 128, "memory": 512, "memoryReservation": 256,
             "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
                              {"containerPort": 81, "hostPort": 0}]},
            {"name": "b", "cpu": 64, "memory": 128,
             "portMappings": [{"containerPort": 53, "hostPort": 53, "protocol": "udp"}]}]}}


def task_doc(k, svc):
    return {"taskArn": task_arn(k), "group": f"service:{svc}", "containerInstanceArn": ci_arn(k % 250),
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "startedBy": "ecs-svc/1",
            "healthStatus": "HEALTHY", "taskDefinitionArn": f"{ACC}:task-definition/app:1"}


@pytest.fixture
def ecs():
    client = boto3.client("ecs", region_name="us-east-1", config=client_config("standard", 3))
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def stub_cluster(stub):
    stub.add_response("describe_clusters", {"clusters": [
        {"clusterName": "prod", "clusterArn": CL, "status": "ACTIVE"}]}, {"clusters": ["prod"]})


def stub_instances(stub, n=250):
    arns = [ci_arn(k) for k in range(n)]
    stub.add_response("list_container_instances",
                      {"containerInstanceArns": arns[:200], "nextToken": "t1"}, {"cluster": CL})
    stub.add_response("list_container_instances", {"containerInstanceArns": arns[200:]},
                      {"cluster": CL, "nextToken": "t1"})
    for start in range(0, n, 100):
        batch = arns[start:start + 100]
        stub.add_response("describe_container_instances",
                          {"containerInstances": [ci_doc(k) for k in range(start, start + len(batch))]},
                          {"cluster": CL, "containerInstances": batch})


def test_full_snapshot_paginates_batches_and_counts(ecs):
    client, stub = ecs
    stub_cluster(stub)
    stub_instances(stub)
    names = [f"{ACC}:service/prod/s{k:02d}" for k in range(12)]
    # ListServices pages at its maximum, 100 (default 10): 12 services are one page
    stub.add_response("list_services", {"serviceArns": names}, {"cluster": CL, "maxResults": 100})
    stub.add_response("describe_services", {"services": [svc_doc(k) for k in range(10)]},
                      {"cluster": CL, "services": names[:10], "include": ["TAGS"]})
    stub.add_response("describe_services", {"services": [svc_doc(k) for k in (10, 11)]},
                      {"cluster": CL, "services": names[10:], "include": ["TAGS"]})
    for rev in (1, 2):   # 12 services share 2 task definitions: 2 describes
        stub.add_response("describe_task_definition", td_doc(rev),
                          {"taskDefinition": f"{ACC}:task-definition/app:{rev}"})
    tasks = [task_arn(k) for k in range(150)]
    stub.add_response("list_tasks", {"taskArns": tasks[:100], "nextToken": "x"},
                      {"cluster": CL, "desiredStatus": "RUNNING"})
    stub.add_response("list_tasks", {"taskArns": tasks[100:]},
                      {"cluster": CL, "desiredStatus": "RUNNING", "nextToken": "x"})
    stub.add_response("describe_tasks", {"tasks": [task_doc(k, f"s{k % 12:02d}") for k in range(100)]},
                      {"cluster": CL, "tasks": tasks[:100]})
    stub.add_response("describe_tasks",
                      {"tasks": [task_doc(k, f"s{k % 12:02d}") for k in range(100, 150)]},
                      {"cluster": CL, "tasks": tasks[100:]})
    snap = take_snapshot(client, "prod")
    assert snap.api_calls == 1 + 2 + 3 + 1 + 2 + 2 + 2 + 2 == 15
    assert len(snap.instances) == 250 and snap.cluster_arn == CL
    first = snap.instances[0]
    assert first.status == "DRAINING" and first.az == "us-east-1a"
    assert (first.remaining_cpu, first.remaining_memory, first.reserved_tcp_ports) == (
        1024, 3000, frozenset({22, 8080}))
    assert sorted(snap.services) == [f"s{k:02d}" for k in range(12)]
    s0 = snap.services["s00"]
    assert (s0.desired, s0.max_percent, s0.min_healthy_percent, s0.rollout_state) == (2, 150, 50, "COMPLETED")
    assert s0.tags == {"taskspread:rebalance": "true"}
    assert [c.type for c in s0.placement_constraints] == ["distinctInstance", "memberOf"]
    assert s0.resources.cpu == 192 and s0.resources.memory == 384
    assert s0.resources.tcp_ports == {8080} and s0.resources.udp_ports == {53}
    assert sum(len(t) for t in snap.tasks.values()) == 150
    assert len(snap.tasks["s00"]) == 13 and snap.tasks["s00"][0].az == "us-east-1a"


def test_named_services_list_tasks_per_service(ecs):
    client, stub = ecs
    stub_cluster(stub)
    stub_instances(stub, 2)
    stub.add_response("describe_services", {"services": [svc_doc(1)]},
                      {"cluster": CL, "services": ["s01"], "include": ["TAGS"]})
    stub.add_response("describe_task_definition", td_doc(2),
                      {"taskDefinition": f"{ACC}:task-definition/app:2"})
    stub.add_response("list_tasks", {"taskArns": [task_arn(1)]},
                      {"cluster": CL, "desiredStatus": "RUNNING", "serviceName": "s01"})
    stub.add_response("describe_tasks", {"tasks": [task_doc(1, "s01")]},
                      {"cluster": CL, "tasks": [task_arn(1)]})
    snap = take_snapshot(client, "prod", services=["s01"])
    assert list(snap.services) == ["s01"] and len(snap.tasks["s01"]) == 1
    assert snap.api_calls == 8   # 1 cluster + 2 pages + 1 + 1 service + 1 td + 1 list + 1 describe


def test_cluster_not_found(ecs):
    client, stub = ecs
    stub.add_response("describe_clusters", {"clusters": [], "failures": [
        {"arn": "nope", "reason": "MISSING"}]}, {"clusters": ["nope"]})
    with pytest.raises(ClusterNotFound, match="'nope' not found"):
        take_snapshot(client, "nope")


def test_unknown_service_names(ecs):
    client, stub = ecs
    stub_cluster(stub)
    stub_instances(stub, 2)
    stub.add_response("describe_services", {"services": [svc_doc(1)], "failures": [
        {"arn": "ghost", "reason": "MISSING"}]},
        {"cluster": CL, "services": ["ghost", "s01"], "include": ["TAGS"]})
    with pytest.raises(UnknownServices, match="ghost") as err:
        take_snapshot(client, "prod", services=["s01", "ghost"])
    assert err.value.names == ("ghost",)


@pytest.mark.parametrize("td, expected", [
    ({"cpu": "1 vCPU", "memory": "2 GB", "containerDefinitions": [{"cpu": 5, "memory": 5}]},
     (1024, 2048)),
    ({"cpu": "256", "containerDefinitions": [{"memory": 300}, {"memoryReservation": 100, "memory": 900}]},
     (256, 400)),
    ({"networkMode": "host", "containerDefinitions": [{"portMappings": [{"containerPort": 9000}]}]},
     (0, 0)),
])
def test_task_resources(td, expected):
    res = task_resources(td)
    assert (res.cpu, res.memory) == expected
    if td.get("networkMode") == "host":
        assert res.tcp_ports == {9000}


def test_client_config_retry_mode():
    assert client_config().retries == {"mode": "adaptive", "max_attempts": 10}
    with pytest.raises(ValueError):
        client_config("bogus")
