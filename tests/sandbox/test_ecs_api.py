"""The ECS API surface: shapes, filters, pagination, limits and AWS's error codes."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from ecs_world import World


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --------------------------------------------------------------------- clusters
def test_cluster_lifecycle(aws, sandbox):
    ecs = aws("ecs")
    c = ecs.create_cluster(clusterName="c1", tags=[{"key": "team", "value": "a"}])["cluster"]
    assert c["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/c1"
    assert (c["status"], c["capacityProviders"], c["defaultCapacityProviderStrategy"]) == (
        "ACTIVE", [], [])
    assert ecs.create_cluster(clusterName="c1")["cluster"]["clusterArn"] == c["clusterArn"]
    got = ecs.describe_clusters(clusters=["c1", "nope"], include=["TAGS"])
    assert got["clusters"][0]["tags"] == [{"key": "team", "value": "a"}]
    assert got["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/nope",
                                "reason": "MISSING"}]
    ecs.put_cluster_capacity_providers(cluster="c1", capacityProviders=[],
                                       defaultCapacityProviderStrategy=[])
    ecs.update_cluster_settings(cluster="c1", settings=[{"name": "containerInsights",
                                                         "value": "enabled"}])
    assert ecs.describe_clusters(clusters=["c1"])["clusters"][0]["settings"] == [
        {"name": "containerInsights", "value": "enabled"}]
    assert ecs.list_clusters()["clusterArns"] == [c["clusterArn"]]
    assert ecs.delete_cluster(cluster="c1")["cluster"]["status"] == "INACTIVE"
    assert ecs.describe_clusters(clusters=["c1"])["clusters"][0]["status"] == "INACTIVE"
    assert ecs.list_clusters()["clusterArns"] == []
    assert ecs.describe_capacity_providers()["capacityProviders"] == []


def test_delete_cluster_with_instances_fails(world):
    world.launch("us-east-1a")
    world.boot()
    with pytest.raises(ClientError) as e:
        world.ecs.delete_cluster(cluster="demo")
    assert code(e) == "ClusterContainsContainerInstancesException"


def test_unknown_cluster_and_service_codes(aws, sandbox):
    ecs = aws("ecs")
    for call in (lambda: ecs.list_services(cluster="nope"),
                 lambda: ecs.describe_services(cluster="nope", services=["x"]),
                 lambda: ecs.list_tasks(cluster="nope"),
                 lambda: ecs.update_service(cluster="nope", service="x")):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "ClusterNotFoundException"
    ecs.create_cluster(clusterName="c")
    with pytest.raises(ClientError) as e:
        ecs.update_service(cluster="c", service="x", desiredCount=1)
    assert code(e) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.list_tasks(cluster="c", serviceName="x")
    assert code(e) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.stop_task(cluster="c", task="0" * 32)
    assert code(e) == "InvalidParameterException"


def test_unknown_action_is_400_not_500(sandbox):
    req = urllib.request.Request(sandbox.endpoint + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.NoSuchThing",
        "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400
    body = json.loads(e.value.read())
    assert body["__type"] == "InvalidAction" and "NoSuchThing" in body["message"]


# ------------------------------------------------------------- task definitions
def test_task_definition_revisions_and_echo(aws, sandbox):
    ecs = aws("ecs")
    container = {"name": "web", "image": "nginx", "memoryReservation": 128,
                 "portMappings": [{"containerPort": 80}],
                 "environment": [{"name": "A", "value": "1"}],
                 "healthCheck": {"command": ["CMD", "true"], "interval": 10}}
    one = ecs.register_task_definition(family="web", containerDefinitions=[container],
                                       cpu="256", tags=[{"key": "k", "value": "v"}])
    td = one["taskDefinition"]
    assert (td["revision"], td["status"], td["cpu"]) == (1, "ACTIVE", "256")
    c = td["containerDefinitions"][0]
    assert c["healthCheck"] == {"command": ["CMD", "true"], "interval": 10}
    assert c["environment"] == [{"name": "A", "value": "1"}]
    assert c["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    assert c["essential"] is True
    ecs.register_task_definition(family="web", containerDefinitions=[container])
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 2
    got = ecs.describe_task_definition(taskDefinition="web:1", include=["TAGS"])
    assert got["tags"] == [{"key": "k", "value": "v"}]
    assert ecs.describe_task_definition(taskDefinition=td["taskDefinitionArn"])[
        "taskDefinition"]["revision"] == 1
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [
        td["taskDefinitionArn"], td["taskDefinitionArn"][:-1] + "2"]
    assert ecs.list_task_definition_families()["families"] == ["web"]
    out = ecs.deregister_task_definition(taskDefinition="web:1")["taskDefinition"]
    assert out["status"] == "INACTIVE" and "deregisteredAt" in out
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [
        td["taskDefinitionArn"]]
    deleted = ecs.delete_task_definitions(taskDefinitions=["web:1", "web:2"])
    assert [t["status"] for t in deleted["taskDefinitions"]] == ["DELETE_IN_PROGRESS"]
    assert deleted["failures"][0]["arn"].endswith("web:2")
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition="nope")
    assert code(e) == "ClientException"


def test_task_definition_needs_memory_for_ec2(aws, sandbox):
    with pytest.raises(ClientError) as e:
        aws("ecs").register_task_definition(family="x", containerDefinitions=[
            {"name": "x", "image": "busybox"}])
    assert code(e) == "ClientException" and "memoryReservation" in str(e.value)


# --------------------------------------------------------------------- services
def test_describe_services_limits_and_failures(world):
    td = world.task_definition()
    arns = [world.service(f"svc-{i:02d}", 0, td=td)["serviceArn"] for i in range(12)]
    with pytest.raises(ClientError) as e:
        world.ecs.describe_services(cluster="demo", services=arns)
    assert code(e) == "InvalidParameterException"
    got = world.ecs.describe_services(cluster="demo", services=arns[:10])["services"] + \
        world.ecs.describe_services(cluster="demo", services=arns[10:] + ["ghost"])["services"]
    assert [s["serviceName"] for s in got] == [f"svc-{i:02d}" for i in range(12)]
    failures = world.ecs.describe_services(cluster="demo", services=["ghost"])["failures"]
    assert failures == [{"arn": "arn:aws:ecs:us-east-1:123456789012:service/demo/ghost",
                         "reason": "MISSING"}]


def test_list_services_pagination(world):
    td = world.task_definition()
    names = [world.service(f"svc-{i:02d}", 0, td=td)["serviceName"] for i in range(12)]
    first = world.ecs.list_services(cluster="demo")            # default page: 10
    assert len(first["serviceArns"]) == 10 and "nextToken" in first
    second = world.ecs.list_services(cluster="demo", nextToken=first["nextToken"])
    assert len(second["serviceArns"]) == 2 and "nextToken" not in second
    pages = world.ecs.get_paginator("list_services").paginate(
        cluster="demo", PaginationConfig={"PageSize": 5})
    arns = [a for page in pages for a in page["serviceArns"]]
    assert [a.rsplit("/", 1)[-1] for a in arns] == names
    with pytest.raises(ClientError) as e:
        world.ecs.list_services(cluster="demo", maxResults=101)
    assert code(e) == "InvalidParameterException"


def test_create_service_errors(world):
    td = world.task_definition()
    world.service("web", 1, td=td)
    with pytest.raises(ClientError) as e:
        world.service("web", 1, td=td)
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        world.service("other", 1, td="missing:1")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        world.service("lb", 1, td=td, loadBalancers=[{
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                              "targetgroup/x/1", "containerName": "web", "containerPort": 81}])
    assert code(e) == "InvalidParameterException" and "81" in str(e.value)
    with pytest.raises(ClientError) as e:
        world.service("bad", 1, td=td, placementConstraints=[
            {"type": "memberOf", "expression": "attribute:x =="}])
    assert code(e) == "InvalidParameterException"


def test_service_shape_for_ansible(world):
    svc = world.service("web", 0, tags=[{"key": "app", "value": "web"}])
    described = world.ecs.describe_services(cluster="demo", services=["web"],
                                            include=["TAGS"])["services"][0]
    assert described["taskDefinition"].split("/")[-1] == "web:1"
    assert described["loadBalancers"] == [] and described["propagateTags"] == "NONE"
    assert described["enableExecuteCommand"] is False
    assert described["tags"] == [{"key": "app", "value": "web"}]
    assert described["deploymentConfiguration"]["maximumPercent"] == 200
    assert described["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert described["deploymentController"] == {"type": "ECS"}
    assert described["schedulingStrategy"] == "REPLICA" and svc["launchType"] == "EC2"
    assert "tags" not in world.describe_service("web")


# ------------------------------------------------------------------------ tasks
def test_list_tasks_filters(world):
    a = world.launch("us-east-1a")
    b = world.launch("us-east-1b")
    world.boot()
    world.service("web", 2)
    batch = world.task_definition("batch", ports=())
    run = world.ecs.run_task(cluster="demo", taskDefinition=batch, startedBy="cron")["tasks"]
    world.settle(30)
    assert len(world.tasks()) == 3
    assert len(world.tasks("web")) == 2
    assert [t["taskArn"] for t in world.tasks(startedBy="cron")] == [run[0]["taskArn"]]
    assert len(world.tasks(family="batch")) == 1
    ci = world.instance(a)["containerInstanceArn"]
    on_a = world.tasks(containerInstance=ci)
    assert on_a and {t["containerInstanceArn"] for t in on_a} == {ci}
    assert world.tasks(containerInstance=ci.rsplit("/", 1)[-1]) == on_a
    world.ecs.stop_task(cluster="demo", task=run[0]["taskArn"], reason="done")
    assert [t["taskArn"] for t in world.tasks(desired="STOPPED")] == [run[0]["taskArn"]]
    world.settle(10)
    (stopped,) = world.tasks(desired="STOPPED")
    assert (stopped["stoppedReason"], stopped["stopCode"]) == ("done", "UserInitiated")
    assert world.tasks(desired="PENDING") == []
    assert b


def test_list_tasks_pagination_and_describe_limit(world):
    world.launch("us-east-1a", "m5.2xlarge")
    world.boot()
    td = world.task_definition("small", cpu=10, memory=10, ports=())
    for _ in range(3):
        world.ecs.run_task(cluster="demo", taskDefinition=td, count=10)
    first = world.ecs.list_tasks(cluster="demo", maxResults=25)
    assert len(first["taskArns"]) == 25
    rest = world.ecs.list_tasks(cluster="demo", nextToken=first["nextToken"])
    assert len(rest["taskArns"]) == 5 and "nextToken" not in rest
    arns = first["taskArns"] + rest["taskArns"]
    assert len(set(arns)) == 30
    with pytest.raises(ClientError) as e:
        world.ecs.describe_tasks(cluster="demo", tasks=arns * 4)
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        world.ecs.run_task(cluster="demo", taskDefinition=td, count=11)
    assert code(e) == "InvalidParameterException"


def test_run_task_without_instances(world):
    td = world.task_definition("batch", ports=())
    with pytest.raises(ClientError) as e:
        world.ecs.run_task(cluster="demo", taskDefinition=td)
    assert code(e) == "InvalidParameterException"
    assert "No Container Instances were found in your cluster." in str(e.value)


def test_describe_tasks_failures_and_tags(world):
    world.launch("us-east-1a")
    world.boot()
    td = world.task_definition("batch", ports=())
    task = world.ecs.run_task(cluster="demo", taskDefinition=td,
                              tags=[{"key": "job", "value": "1"}])["tasks"][0]
    got = world.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"], "f" * 32],
                                   include=["TAGS"])
    assert got["tasks"][0]["tags"] == [{"key": "job", "value": "1"}]
    assert got["failures"] == [{"arn": f"arn:aws:ecs:us-east-1:123456789012:task/demo/{'f' * 32}",
                                "reason": "MISSING"}]
    assert task["taskArn"].startswith("arn:aws:ecs:us-east-1:123456789012:task/demo/")
    assert len(task["taskArn"].rsplit("/", 1)[-1]) == 32


# ----------------------------------------------------------- container instances
def test_list_container_instances_status_filter_and_pages(world):
    ids = [world.launch(az) for az in ("us-east-1a", "us-east-1b", "us-east-1a")]
    world.boot()
    arns = world.ecs.list_container_instances(cluster="demo")["containerInstanceArns"]
    assert len(arns) == 3
    world.ecs.update_container_instances_state(cluster="demo", containerInstances=arns[:1],
                                               status="DRAINING")
    assert world.ecs.list_container_instances(cluster="demo", status="DRAINING")[
        "containerInstanceArns"] == arns[:1]
    assert len(world.ecs.list_container_instances(cluster="demo", status="ACTIVE")[
        "containerInstanceArns"]) == 2
    page = world.ecs.list_container_instances(cluster="demo", maxResults=2)
    assert len(page["containerInstanceArns"]) == 2 and page["nextToken"]
    got = world.ecs.list_container_instances(
        cluster="demo", filter="attribute:ecs.availability-zone == us-east-1b")
    assert len(got["containerInstanceArns"]) == 1
    bad = world.ecs.update_container_instances_state(
        cluster="demo", containerInstances=["0" * 32], status="ACTIVE")
    assert bad["failures"][0]["reason"] == "MISSING"
    assert len(ids) == 3


def test_register_container_instance_api(world):
    iid = world.ec2.run_instances(ImageId="ami-0d75e18107f482a72", MinCount=1, MaxCount=1,
                                  InstanceType="t3.medium", SubnetId=world.subnets["us-east-1b"])[
        "Instances"][0]["InstanceId"]
    doc = json.dumps({"instanceId": iid, "region": "us-east-1"})
    ci = world.ecs.register_container_instance(cluster="demo", instanceIdentityDocument=doc)[
        "containerInstance"]
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.availability-zone"] == "us-east-1b"
    assert attrs["ecs.instance-type"] == "t3.medium"
    res = {r["name"]: r for r in ci["registeredResources"]}
    assert res["CPU"]["integerValue"] == 2048 and res["MEMORY"]["integerValue"] == 3884
    again = world.ecs.register_container_instance(cluster="demo", instanceIdentityDocument=doc)
    assert again["containerInstance"]["containerInstanceArn"] == ci["containerInstanceArn"]
    with pytest.raises(ClientError) as e:
        world.ecs.register_container_instance(cluster="demo", instanceIdentityDocument="{}")
    assert code(e) == "InvalidParameterException"


def test_attributes(world):
    a = world.launch("us-east-1a")
    world.boot()
    ci = world.instance(a)["containerInstanceArn"]
    world.ecs.put_attributes(cluster="demo", attributes=[
        {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": ci}])
    listed = world.ecs.list_attributes(cluster="demo", targetType="container-instance",
                                       attributeName="stack")["attributes"]
    assert listed == [{"name": "stack", "value": "prod", "targetType": "container-instance",
                       "targetId": ci}]
    assert world.ecs.list_attributes(cluster="demo", targetType="container-instance",
                                     attributeName="stack", attributeValue="dev")[
        "attributes"] == []
    world.ecs.delete_attributes(cluster="demo", attributes=[
        {"name": "stack", "targetType": "container-instance", "targetId": ci}])
    assert "stack" not in {x["name"] for x in world.instance(a)["attributes"]}
    with pytest.raises(ClientError) as e:
        world.ecs.put_attributes(cluster="demo", attributes=[
            {"name": "x", "value": "y", "targetId": "0" * 32}])
    assert code(e) == "TargetNotFoundException"


# ------------------------------------------------------------------------- tags
def test_tagging_every_resource_type(world):
    a = world.launch("us-east-1a")
    world.boot()
    td_arn = world.ecs.describe_task_definition(taskDefinition=world.task_definition())[
        "taskDefinition"]["taskDefinitionArn"]
    svc_arn = world.service("web", 1, td="web:1")["serviceArn"]
    world.settle(10)
    resources = [world.ecs.describe_clusters(clusters=["demo"])["clusters"][0]["clusterArn"],
                 svc_arn, td_arn, world.tasks("web")[0]["taskArn"],
                 world.instance(a)["containerInstanceArn"]]
    for arn in resources:
        world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"},
                                                      {"key": "b", "value": "2"}])
        world.ecs.untag_resource(resourceArn=arn, tagKeys=["b"])
        assert world.ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
            {"key": "a", "value": "1"}], arn
    with pytest.raises(ClientError) as e:
        world.ecs.list_tags_for_resource(
            resourceArn="arn:aws:ecs:us-east-1:123456789012:service/demo/ghost")
    assert code(e) == "ResourceNotFoundException"


def test_account_settings(aws, sandbox):
    ecs = aws("ecs")
    got = ecs.list_account_settings(name="taskLongArnFormat", effectiveSettings=True)
    assert got["settings"][0]["value"] == "enabled"


def test_account_settings_are_per_principal_and_effective_only_when_asked(aws, sandbox):
    """API ListAccountSettings: without effectiveSettings only what was set for the principal
    is listed (nothing at first); with it, the principal's own, else the account default, else
    AWS's. principalArn names whose settings (it used to be ignored, and so was
    effectiveSettings)."""
    ecs = aws("ecs")
    role = "arn:aws:iam::123456789012:role/deployer"
    assert ecs.list_account_settings()["settings"] == []
    ecs.put_account_setting_default(name="containerInsights", value="enabled")
    ecs.put_account_setting(name="containerInsights", value="disabled", principalArn=role)
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled")

    def settings(**kw):
        return {s["name"]: (s["value"], s["principalArn"])
                for s in ecs.list_account_settings(maxResults=100, **kw)["settings"]}

    root = "arn:aws:iam::123456789012:root"
    assert settings() == {"awsvpcTrunking": ("enabled", root)}
    assert settings(principalArn=role) == {"containerInsights": ("disabled", role)}
    effective = settings(effectiveSettings=True)
    assert effective["containerInsights"] == ("enabled", root)      # the account default
    assert effective["awsvpcTrunking"] == ("enabled", root)
    assert effective["taskLongArnFormat"] == ("enabled", root)      # AWS's default
    assert settings(effectiveSettings=True, principalArn=role)["containerInsights"] == (
        "disabled", role)
    ecs.delete_account_setting(name="containerInsights", principalArn=role)
    assert settings(effectiveSettings=True, principalArn=role)["containerInsights"] == (
        "enabled", role)
    guard = ecs.list_account_settings(name="guardDutyActivate", effectiveSettings=True)
    assert guard["settings"][0]["type"] == "aws_managed"


def test_put_attributes_without_target_says_so(world):
    world.launch("us-east-1a")
    world.boot()
    with pytest.raises(ClientError) as e:
        world.ecs.put_attributes(cluster=world.cluster, attributes=[{"name": "env",
                                                                     "value": "prod"}])
    assert code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "Attribute 'env' has no targetId: name the container instance (ID or ARN) it "
        "belongs to.")


def test_service_reports_grace_period_and_alarms_block(world):
    svc = world.service("web", 0, world.task_definition(ports=()))
    assert svc["healthCheckGracePeriodSeconds"] == 0
    assert svc["deploymentConfiguration"]["alarms"] == {"alarmNames": [], "rollback": False,
                                                        "enable": False}


def test_service_deployments_and_revisions(world, sandbox):
    """ListServiceDeployments / DescribeServiceDeployments / DescribeServiceRevisions (they
    answered InvalidAction): one service deployment per deployment the service started, its
    revision what it was started with; a replaced one is STOPPED, a completed one
    SUCCESSFUL."""
    ecs = world.ecs
    world.launch("us-east-1a")
    world.boot()
    first_td = world.task_definition(ports=())
    world.service("web", 1, first_td)
    sandbox.advance(60)
    second_td = world.task_definition(ports=(), memory=256)
    ecs.update_service(cluster=world.cluster, service="web", taskDefinition=second_td)
    listed = ecs.list_service_deployments(cluster=world.cluster, service="web")[
        "serviceDeployments"]
    assert [d["status"] for d in listed] == ["IN_PROGRESS", "SUCCESSFUL"]
    newest, oldest = listed
    assert newest["serviceDeploymentArn"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/")
    assert newest["targetServiceRevisionArn"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/")
    assert "finishedAt" in oldest and "finishedAt" not in newest
    described = ecs.describe_service_deployments(serviceDeploymentArns=[
        newest["serviceDeploymentArn"], "arn:aws:ecs:us-east-1:123456789012:"
        "service-deployment/demo/web/nope"])
    [dep] = described["serviceDeployments"]
    assert described["failures"][0]["reason"] == "MISSING"
    assert [s["arn"] for s in dep["sourceServiceRevisions"]] == [
        oldest["targetServiceRevisionArn"]]
    assert dep["targetServiceRevision"]["requestedTaskCount"] == 1
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[
        oldest["targetServiceRevisionArn"], newest["targetServiceRevisionArn"]])
    assert [r["taskDefinition"].rsplit("/", 1)[-1] for r in revisions["serviceRevisions"]] == [
        first_td, second_td]
    assert ecs.list_service_deployments(cluster=world.cluster, service="web",
                                        status=["SUCCESSFUL"])["serviceDeployments"] == [oldest]
    ecs.update_service(cluster=world.cluster, service="web", taskDefinition=first_td)
    states = [d["status"] for d in ecs.list_service_deployments(
        cluster=world.cluster, service="web")["serviceDeployments"]]
    assert states == ["IN_PROGRESS", "STOPPED", "SUCCESSFUL"]


def test_update_container_agent_has_no_update(world):
    world.launch("us-east-1a")
    world.boot()
    arn = world.ecs.list_container_instances(cluster=world.cluster)["containerInstanceArns"][0]
    with pytest.raises(ClientError) as e:
        world.ecs.update_container_agent(cluster=world.cluster, containerInstance=arn)
    assert code(e) == "NoUpdateAvailableException"
