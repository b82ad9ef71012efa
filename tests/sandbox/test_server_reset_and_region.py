"""POST /moto-api/reset (what moto's clients and its test suite call between tests) and
POST /_sandbox/reset forget every emulated resource, ECS's included, as a fresh sandbox would
start; the endpoint keeps serving. ECS is emulated in one region: others are refused."""

from __future__ import annotations

import json
import urllib.request

import pytest

from ecs_world import World


def _post(endpoint: str, path: str) -> dict:
    request = urllib.request.Request(f"{endpoint}{path}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


@pytest.mark.parametrize("path", ["/moto-api/reset", "/_sandbox/reset"])
def test_reset_forgets_ecs_and_moto_state(sandbox, aws, path):
    world = World(sandbox, aws)
    world.launch("us-east-1a")
    world.boot()
    world.service("web", 1, world.task_definition(ports=()))
    sandbox.advance(60)
    assert aws("ecs").list_tasks(cluster="demo")["taskArns"]
    before = sandbox.now()

    _post(sandbox.endpoint, path)

    assert aws("ecs").list_clusters()["clusterArns"] == []
    assert aws("ecs").list_task_definitions()["taskDefinitionArns"] == []
    reservations = aws("ec2").describe_instances()["Reservations"]
    assert [i for r in reservations for i in r["Instances"]] == []
    assert sandbox.status()["ecs"]["clusters"] == 0
    assert sandbox.now() < before + 60       # a new clock, started at the reset
    # Still a working sandbox: a cluster and an instance register again.
    again = World(sandbox, aws)
    again.launch("us-east-1b")
    again.boot()
    assert len(aws("ecs").list_container_instances(cluster="demo")["containerInstanceArns"]) == 1


def test_ecs_in_another_region_is_refused_with_a_clear_message(sandbox, aws):
    """One region is emulated: an ECS request for another one is refused, naming both, instead
    of landing in us-east-1's state with us-east-1 ARNs."""
    import boto3
    from botocore.exceptions import ClientError

    elsewhere = boto3.client("ecs", region_name="eu-west-1", endpoint_url=sandbox.endpoint,
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    with pytest.raises(ClientError) as err:
        elsewhere.create_cluster(clusterName="demo")
    assert err.value.response["Error"]["Code"] == "ClientException"
    assert err.value.response["Error"]["Message"].startswith(
        "The sandbox emulates ECS in us-east-1 only; this request is for eu-west-1.")
    assert aws("ecs").list_clusters()["clusterArns"] == []
    aws("ecs").create_cluster(clusterName="demo")
    assert aws("ecs").list_clusters()["clusterArns"] == [
        "arn:aws:ecs:us-east-1:123456789012:cluster/demo"]
