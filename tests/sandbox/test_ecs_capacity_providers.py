"""Auto Scaling group capacity providers in the sandbox's ECS (docs/ecs-facts.md §1.5).

Every test drives the in-process sandbox through boto3 with the manual clock. Sources: AWS
asg-capacity-providers.html, cluster-auto-scaling.html, managed-instance-draining.html and the
ECS API reference (CreateCapacityProvider, PutClusterCapacityProviders,
CapacityProviderStrategyItem); error texts as ECS returns them in public error reports.
"""

from __future__ import annotations

import base64
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from sandbox.ecs import provisioning
from sandbox.ecs.controllers import capacity

from ecs_world import ECS_AMI, World, user_data

CLUSTER = "demo"


@pytest.fixture
def world(sandbox, aws):
    w = World(sandbox, aws, cluster=CLUSTER)
    aws("ec2").create_launch_template(LaunchTemplateName="ecs", LaunchTemplateData={
        "ImageId": ECS_AMI, "InstanceType": "m5.large",
        "UserData": base64.b64encode(user_data(CLUSTER).encode()).decode()})
    w.asg = aws("autoscaling")
    return w


def group(world, name: str, desired: int, *, azs=("us-east-1a", "us-east-1b"),
          protected: bool = False, max_size: int = 6) -> str:
    world.asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=max_size, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "ecs", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(world.subnets[z] for z in azs),
        NewInstancesProtectedFromScaleIn=protected)
    return world.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]["AutoScalingGroupARN"]


def provider(world, name: str, asg: str, **extra) -> dict:
    arn = group(world, asg, extra.pop("desired", 0), protected=extra.pop("protected", False),
                max_size=extra.pop("max_size", 6),
                azs=extra.pop("azs", ("us-east-1a", "us-east-1b")))
    return world.ecs.create_capacity_provider(
        name=name, autoScalingGroupProvider={"autoScalingGroupArn": arn, **extra})[
        "capacityProvider"]


def associate(world, names: list[str], default: list[dict] | None = None) -> None:
    world.ecs.put_cluster_capacity_providers(cluster=CLUSTER, capacityProviders=names,
                                             defaultCapacityProviderStrategy=default or [])


def error(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def provider_of(world, service: str) -> Counter:
    return Counter(t.get("capacityProviderName") for t in world.tasks(service))


def instances_of(world) -> dict[str, str | None]:
    """EC2 instance id -> capacityProviderName of each registered container instance."""
    return {ci["ec2InstanceId"]: ci.get("capacityProviderName") for ci in world.instances()}


def asg_instances(world, name: str) -> list[dict]:
    return world.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]["Instances"]


def service(world, name: str, count: int, cpu: int = 256, **kw) -> dict:
    td = world.task_definition(family=name, cpu=cpu, memory=512)
    return world.service(name, count, td=td, availabilityZoneRebalancing="DISABLED", **kw)


# ------------------------------------------------------------------------- CRUD
def test_create_describe_update_delete_round_trip(world):
    """API CreateCapacityProvider / DescribeCapacityProviders: status ACTIVE, managedScaling
    defaults (targetCapacity 100, minimumScalingStepSize 1, maximumScalingStepSize 10000,
    instanceWarmupPeriod 300), managedTerminationProtection off by default, managedDraining on
    by default (enable-managed-instance-draining.html); the shape community.aws /
    amazon.aws code reads. UpdateCapacityProvider answers UPDATE_IN_PROGRESS (docs example)."""
    ecs = world.ecs
    cp = provider(world, "cp-a", "asg-a")
    asg_arn = cp["autoScalingGroupProvider"]["autoScalingGroupArn"]
    assert cp == {
        "capacityProviderArn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/cp-a",
        "name": "cp-a", "status": "ACTIVE", "tags": [], "type": "EC2_AUTOSCALING",
        "autoScalingGroupProvider": {
            "autoScalingGroupArn": asg_arn,
            "managedScaling": {"status": "DISABLED", "targetCapacity": 100,
                               "minimumScalingStepSize": 1, "maximumScalingStepSize": 10000,
                               "instanceWarmupPeriod": 300},
            "managedTerminationProtection": "DISABLED", "managedDraining": "ENABLED"}}
    by_arn = ecs.describe_capacity_providers(capacityProviders=[cp["capacityProviderArn"],
                                                                "nope"])
    assert [c["name"] for c in by_arn["capacityProviders"]] == ["cp-a"]
    assert by_arn["failures"] == [{
        "arn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/nope",
        "reason": "MISSING"}]
    assert [c["name"] for c in ecs.describe_capacity_providers()["capacityProviders"]] == [
        "cp-a"]
    updated = ecs.update_capacity_provider(name="cp-a", autoScalingGroupProvider={
        "managedScaling": {"status": "ENABLED", "targetCapacity": 90}})["capacityProvider"]
    assert updated["updateStatus"] == "UPDATE_IN_PROGRESS"
    got = ecs.describe_capacity_providers(capacityProviders=["cp-a"])["capacityProviders"][0]
    assert got["updateStatus"] == "UPDATE_COMPLETE"
    assert got["autoScalingGroupProvider"]["managedScaling"] == {
        "status": "ENABLED", "targetCapacity": 90, "minimumScalingStepSize": 1,
        "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300}
    deleted = ecs.delete_capacity_provider(capacityProvider="cp-a")["capacityProvider"]
    assert (deleted["status"], deleted["updateStatus"]) == ("ACTIVE", "DELETE_IN_PROGRESS")
    gone = ecs.describe_capacity_providers(capacityProviders=["cp-a"])["capacityProviders"][0]
    assert (gone["status"], gone["updateStatus"]) == ("INACTIVE", "DELETE_COMPLETE")
    assert ecs.describe_capacity_providers()["capacityProviders"] == []


def test_create_errors_use_ecs_messages(world):
    """Names beginning aws/ecs/fargate are reserved; one provider per Auto Scaling group;
    managed termination protection needs managed scaling and the group's scale-in protection
    (asg-capacity-providers.html considerations; ECS's ClientException texts)."""
    ecs = world.ecs
    arn = group(world, "asg-a", 0)
    for name in ("aws-x", "ECS1", "fargate", "bad name"):
        with pytest.raises(ClientError) as exc:
            ecs.create_capacity_provider(name=name,
                                         autoScalingGroupProvider={"autoScalingGroupArn": arn})
        assert error(exc) == ("ClientException", capacity.BAD_NAME)
    with pytest.raises(ClientError) as exc:
        ecs.create_capacity_provider(name="cp", autoScalingGroupProvider={
            "autoScalingGroupArn": "no-such-group"})
    assert error(exc) == ("ClientException", capacity.ASG_MISSING)
    with pytest.raises(ClientError) as exc:
        ecs.create_capacity_provider(name="cp", autoScalingGroupProvider={
            "autoScalingGroupArn": arn, "managedTerminationProtection": "ENABLED"})
    assert error(exc) == ("ClientException", capacity.NEEDS_SCALING)
    with pytest.raises(ClientError) as exc:
        ecs.create_capacity_provider(name="cp", autoScalingGroupProvider={
            "autoScalingGroupArn": arn, "managedTerminationProtection": "ENABLED",
            "managedScaling": {"status": "ENABLED"}})
    assert error(exc) == ("ClientException", capacity.NEEDS_PROTECTION)
    ecs.create_capacity_provider(name="cp", autoScalingGroupProvider={"autoScalingGroupArn":
                                                                      "asg-a"})
    with pytest.raises(ClientError) as exc:
        ecs.create_capacity_provider(name="cp2", autoScalingGroupProvider={
            "autoScalingGroupArn": arn})
    assert error(exc) == ("ClientException", capacity.ASG_TAKEN)


def test_cluster_association_rules(world):
    """PutClusterCapacityProviders: an unknown provider fails ("The specified capacity provider
    was not found"); the default strategy may only name associated providers; a provider in
    use by a service cannot be removed (ResourceInUseException); DeleteCapacityProvider of an
    associated provider leaves it ACTIVE with updateStatus DELETE_FAILED and ECS's reason.
    ECS puts its ecs-managed-draining-termination-hook and the AmazonECSManaged tag on the
    group (cluster-auto-scaling.html, managed-instance-draining.html)."""
    ecs = world.ecs
    provider(world, "cp-a", "asg-a")
    with pytest.raises(ClientError) as exc:
        associate(world, ["cp-a", "nope"])
    assert error(exc) == ("InvalidParameterException", capacity.NOT_FOUND)
    with pytest.raises(ClientError) as exc:
        associate(world, [], [{"capacityProvider": "cp-a", "weight": 1}])
    assert error(exc) == ("InvalidParameterException", capacity.NOT_ASSOCIATED)
    with pytest.raises(ClientError) as exc:
        ecs.create_cluster(clusterName="other", capacityProviders=["nope"])
    assert error(exc) == ("InvalidParameterException", capacity.NOT_FOUND)
    associate(world, ["cp-a"], [{"capacityProvider": "cp-a", "weight": 1}])
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert cluster["capacityProviders"] == ["cp-a"]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "cp-a", "weight": 1, "base": 0}]
    world.sb.advance(1)
    hooks = world.asg.describe_lifecycle_hooks(AutoScalingGroupName="asg-a")["LifecycleHooks"]
    assert [(h["LifecycleHookName"], h["LifecycleTransition"], h["HeartbeatTimeout"],
             h["DefaultResult"]) for h in hooks] == [
        (capacity.DRAIN_HOOK, "autoscaling:EC2_INSTANCE_TERMINATING", 3600, "CONTINUE")]
    tags = world.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["asg-a"])[
        "AutoScalingGroups"][0]["Tags"]
    assert "AmazonECSManaged" in {t["Key"] for t in tags}
    service(world, "web", 0)
    with pytest.raises(ClientError) as exc:
        associate(world, [])
    assert error(exc) == ("ResourceInUseException", capacity.IN_USE)
    failed = ecs.delete_capacity_provider(capacityProvider="cp-a")["capacityProvider"]
    assert (failed["status"], failed["updateStatus"], failed["updateStatusReason"]) == (
        "ACTIVE", "DELETE_FAILED", capacity.DELETE_ASSOCIATED.format(CLUSTER))


def test_strategy_validation_and_fargate_refused(world):
    """A launch type and a strategy together are refused; a strategy may only name providers
    associated with the cluster (InvalidParameterException, ECS's text); FARGATE and
    FARGATE_SPOT may be associated but tasks cannot use them in the sandbox (EC2 only, as
    for launchType FARGATE)."""
    provider(world, "cp-a", "asg-a")
    associate(world, ["cp-a", "FARGATE"])
    td = world.task_definition()
    for kw, expected in (
            ({"launchType": "EC2", "capacityProviderStrategy": [{"capacityProvider": "cp-a"}]},
             capacity.BOTH),
            ({"capacityProviderStrategy": [{"capacityProvider": "cp-b", "weight": 1}]},
             capacity.NOT_ASSOCIATED),
            ({"capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]},
             "The sandbox's ECS supports only the EC2 launch type, not FARGATE.")):
        with pytest.raises(ClientError) as exc:
            world.ecs.create_service(cluster=CLUSTER, serviceName="s", taskDefinition=td,
                                     desiredCount=1, **kw)
        assert error(exc) == ("InvalidParameterException", expected)
    assert world.ecs.list_services(cluster=CLUSTER)["serviceArns"] == []


# ------------------------------------------------------------------ registration
def test_instances_from_a_providers_group_register_with_its_name(world):
    """DescribeContainerInstances shows capacityProviderName for instances launched from the
    provider's Auto Scaling group (asg-capacity-providers.html); others have none."""
    provider(world, "cp-a", "asg-a", desired=2)
    plain = world.launch("us-east-1a")
    world.boot()
    got = instances_of(world)
    assert got.pop(plain) is None
    assert sorted(got.values()) == ["cp-a", "cp-a"]
    assert set(got) == {i["InstanceId"] for i in asg_instances(world, "asg-a")}


# ------------------------------------------------------------------------ strategies
def test_base_then_weights_split_ten_tasks(world):
    """CapacityProviderStrategyItem: the base tasks go to their provider first, the rest split
    by weight: base 2 weight 1 on A and weight 3 on B over 10 tasks gives A 2+2, B 6.
    DescribeServices shows the strategy and no launchType; tasks carry capacityProviderName."""
    provider(world, "cp-a", "asg-a", desired=2)
    provider(world, "cp-b", "asg-b", desired=2)
    associate(world, ["cp-a", "cp-b"])
    world.boot()
    strategy = [{"capacityProvider": "cp-a", "base": 2, "weight": 1},
                {"capacityProvider": "cp-b", "weight": 3}]
    svc = service(world, "web", 10, capacityProviderStrategy=strategy)
    assert "launchType" not in svc
    assert svc["capacityProviderStrategy"] == [
        {"capacityProvider": "cp-a", "base": 2, "weight": 1},
        {"capacityProvider": "cp-b", "base": 0, "weight": 3}]
    world.settle(60)
    assert provider_of(world, "web") == {"cp-a": 4, "cp-b": 6}
    hosts = instances_of(world)
    by_host = world.by_instance("web")
    assert sum(n for iid, n in by_host.items() if hosts[iid] == "cp-a") == 4
    assert world.describe_service("web")["deployments"][0]["capacityProviderStrategy"] == \
        svc["capacityProviderStrategy"]


def test_largest_remainder_targets():
    """The documented split in numbers: weights 1:1:1 over 4 tasks give the extra task to the
    provider listed first; a base larger than the total takes everything."""
    three = [{"capacityProvider": n, "base": 0, "weight": 1} for n in "abc"]
    assert Counter(provisioning.assign(three, {}, 4)) == {"a": 2, "b": 1, "c": 1}
    based = [{"capacityProvider": "a", "base": 5, "weight": 0},
             {"capacityProvider": "b", "base": 0, "weight": 1}]
    assert provisioning.assign(based, {}, 3) == ["a", "a", "a"]
    assert Counter(provisioning.assign(based, {}, 7)) == {"a": 5, "b": 2}


def test_cluster_default_strategy_applies_without_strategy_or_launch_type(world):
    """With neither a strategy nor a launch type, the cluster's default capacity provider
    strategy applies (cluster-auto-scaling.html step 5); a launch type bypasses it."""
    provider(world, "cp-a", "asg-a", desired=1)
    provider(world, "cp-b", "asg-b", desired=1)
    associate(world, ["cp-a", "cp-b"], [{"capacityProvider": "cp-b", "weight": 1}])
    world.boot()
    svc = service(world, "web", 3)
    assert svc["capacityProviderStrategy"] == [
        {"capacityProvider": "cp-b", "weight": 1, "base": 0}]
    assert "launchType" not in svc
    ec2 = service(world, "ec2", 2, launchType="EC2")
    assert (ec2["launchType"], ec2.get("capacityProviderStrategy")) == ("EC2", None)
    world.settle(60)
    assert provider_of(world, "web") == {"cp-b": 3}
    assert provider_of(world, "ec2") == {None: 2}


def test_tasks_go_only_to_their_providers_instances(world):
    """"Tasks go only to instances of the providers in the strategy" (§1.5): a one-instance
    provider takes all four tasks although the other provider's two instances are empty;
    RunTask with the strategy does the same."""
    provider(world, "cp-a", "asg-a", desired=1)
    provider(world, "cp-b", "asg-b", desired=2)
    associate(world, ["cp-a", "cp-b"])
    world.boot()
    service(world, "web", 4, capacityProviderStrategy=[{"capacityProvider": "cp-a",
                                                        "weight": 1}])
    world.settle(60)
    hosts = instances_of(world)
    by_host = world.by_instance("web")
    assert list(by_host.values()) == [4]
    assert hosts[next(iter(by_host))] == "cp-a"
    run = world.ecs.run_task(cluster=CLUSTER, taskDefinition="web", count=2,
                             capacityProviderStrategy=[{"capacityProvider": "cp-a",
                                                        "weight": 1}])
    assert {t["capacityProviderName"] for t in run["tasks"]} == {"cp-a"}
    assert {t["containerInstanceArn"] for t in run["tasks"]} == {
        ci["containerInstanceArn"] for ci in world.instances()
        if ci.get("capacityProviderName") == "cp-a"}


# ------------------------------------------------------------------ managed scaling
def test_provisioning_tasks_wait_then_run_after_managed_scale_out(world):
    """With managed scaling, tasks that cannot be placed wait in PROVISIONING while the group
    grows, then are placed when instances register (asg-capacity-providers.html;
    cluster-auto-scaling.html: CapacityProviderReservation above targetCapacity raises the
    desired capacity by the binpacked instance count, at least minimumScalingStepSize)."""
    provider(world, "cp-a", "asg-a", desired=0, managedScaling={"status": "ENABLED"})
    associate(world, ["cp-a"], [{"capacityProvider": "cp-a", "weight": 1}])
    service(world, "web", 3, cpu=1024)   # two fit an m5.large (2048 CPU)
    world.sb.advance(1)
    waiting = world.tasks("web")
    assert [(t["lastStatus"], t.get("containerInstanceArn")) for t in waiting] == [
        ("PROVISIONING", None)] * 3
    cp = world.sb.ecs.capacity.providers["cp-a"]
    assert cp.reservation == 200.0
    world.sb.advance(61)
    assert world.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["asg-a"])[
        "AutoScalingGroups"][0]["DesiredCapacity"] == 2
    world.settle(60)
    tasks = world.tasks("web")
    assert sorted(t["taskArn"] for t in tasks) == sorted(t["taskArn"] for t in waiting)
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert sorted(world.by_instance("web").values()) == [1, 2]
    assert cp.reservation == 100.0


def test_provisioning_awsvpc_tasks_get_their_eni_when_placed(world):
    """A PROVISIONING task placed after managed scale-out starts like any other task: "Each
    task that uses the awsvpc network mode receives its own elastic network interface"
    (task-networking-awsvpc.html), in a subnet of its networkConfiguration, shown as the
    task's ElasticNetworkInterface attachment (API Task.attachments); while PROVISIONING it
    has no instance and so no ENI (asg-capacity-providers.html)."""
    provider(world, "cp-a", "asg-a", desired=0, managedScaling={"status": "ENABLED"})
    associate(world, ["cp-a"], [{"capacityProvider": "cp-a", "weight": 1}])
    subnets = [world.subnets["us-east-1a"], world.subnets["us-east-1b"]]
    td = world.task_definition(family="vpc", cpu=512, memory=512, networkMode="awsvpc")
    world.service("vpc", 2, td=td, availabilityZoneRebalancing="DISABLED",
                  networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}})
    world.sb.advance(1)
    waiting = world.tasks("vpc")
    assert [(t["lastStatus"], t.get("attachments", [])) for t in waiting] == [
        ("PROVISIONING", [])] * 2
    world.sb.advance(61)
    world.settle(60)
    tasks = world.tasks("vpc")
    assert sorted(t["taskArn"] for t in tasks) == sorted(t["taskArn"] for t in waiting)
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    subnet_of = {ci["containerInstanceArn"]: next(a["value"] for a in ci["attributes"]
                                                  if a["name"] == "ecs.subnet-id")
                 for ci in world.instances()}
    ips = set()
    for t in tasks:
        (att,) = t["attachments"]
        details = {d["name"]: d["value"] for d in att["details"]}
        assert (att["type"], att["status"]) == ("ElasticNetworkInterface", "ATTACHED")
        assert details["subnetId"] == subnet_of[t["containerInstanceArn"]]
        assert details["subnetId"] in subnets
        assert [c["networkInterfaces"] for c in t["containers"]] == [[{
            "attachmentId": att["id"], "privateIpv4Address": details["privateIPv4Address"]}]]
        ips.add(details["privateIPv4Address"])
    assert len(ips) == 2


def test_managed_termination_protection_follows_tasks(world):
    """Managed termination protection: instances running non-daemon tasks are protected from
    scale-in; once their tasks stop the protection is removed (cluster-auto-scaling.html)."""
    provider(world, "cp-a", "asg-a", desired=2, protected=True,
             managedScaling={"status": "ENABLED"}, managedTerminationProtection="ENABLED")
    associate(world, ["cp-a"], [{"capacityProvider": "cp-a", "weight": 1}])
    world.boot()
    service(world, "web", 1)
    world.settle(30)
    busy = next(iter(world.by_instance("web")))
    protection = {i["InstanceId"]: i["ProtectedFromScaleIn"]
                  for i in asg_instances(world, "asg-a")}
    assert protection.pop(busy) is True
    assert list(protection.values()) == [False]
    world.ecs.update_service(cluster=CLUSTER, service="web", desiredCount=0)
    world.settle(30)
    assert {i["ProtectedFromScaleIn"] for i in asg_instances(world, "asg-a")} == {False}


# ------------------------------------------------------------------ managed draining
def test_scale_in_drains_the_instance_then_terminates_it(world):
    """Managed draining (on by default): an Auto Scaling scale-in holds the chosen instance in
    Terminating:Wait on ecs-managed-draining-termination-hook, ECS sets it DRAINING, the
    service's tasks are replaced under minimumHealthyPercent 100 (never fewer than desired
    RUNNING), and the instance terminates once no non-daemon task is left
    (managed-instance-draining.html; container-instance-draining.html)."""
    provider(world, "cp-a", "asg-a", desired=3,
             azs=("us-east-1a", "us-east-1b", "us-east-1c"))
    associate(world, ["cp-a"], [{"capacityProvider": "cp-a", "weight": 1}])
    world.boot()
    service(world, "web", 6)
    world.settle(60)
    assert sorted(world.by_instance("web").values()) == [2, 2, 2]
    world.asg.set_desired_capacity(AutoScalingGroupName="asg-a", DesiredCapacity=2)
    states = Counter(i["LifecycleState"] for i in asg_instances(world, "asg-a"))
    assert states == {"InService": 2, "Terminating:Wait": 1}
    victim = next(i["InstanceId"] for i in asg_instances(world, "asg-a")
                  if i["LifecycleState"] == "Terminating:Wait")
    world.sb.advance(1)
    assert world.instance(victim)["status"] == "DRAINING"
    lowest = 6
    for _ in range(30):
        world.sb.advance(5)
        lowest = min(lowest, sum(1 for t in world.tasks("web")
                                 if t["lastStatus"] == "RUNNING"))
    assert lowest == 6
    assert victim not in {i["InstanceId"] for i in asg_instances(world, "asg-a")}
    assert victim not in world.by_instance("web")
    assert sorted(world.by_instance("web").values()) == [3, 3]
    assert world.ec2.describe_instances(InstanceIds=[victim])["Reservations"][0][
        "Instances"][0]["State"]["Name"] == "terminated"
    assert {ci["ec2InstanceId"] for ci in world.instances("ACTIVE")} == {
        i["InstanceId"] for i in asg_instances(world, "asg-a")}


def test_capacity_providers_take_tags(world):
    """TagResource / UntagResource / ListTagsForResource on a capacity provider's ARN (they
    answered ClusterNotFoundException: the ARN has no cluster in it)."""
    ecs = world.ecs
    arn = provider(world, "cp-a", "asg-a")["capacityProviderArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "web"},
                                            {"key": "tier", "value": "1"}])
    ecs.untag_resource(resourceArn=arn, tagKeys=["tier"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "team", "value": "web"}]
    assert ecs.describe_capacity_providers(capacityProviders=["cp-a"], include=["TAGS"])[
        "capacityProviders"][0]["tags"] == [{"key": "team", "value": "web"}]
    with pytest.raises(ClientError) as err:
        ecs.list_tags_for_resource(
            resourceArn="arn:aws:ecs:us-east-1:123456789012:capacity-provider/nope")
    assert error(err)[0] == "ResourceNotFoundException"


def test_managed_scaling_providers_are_cluster_attachments(world):
    """API Cluster: "When using a capacity provider with a cluster, the capacity provider and
    associated resources are returned as cluster attachments" (with include ATTACHMENTS), and
    attachmentsStatus reports their update."""
    provider(world, "scaled", "asg-s", managedScaling={"status": "ENABLED"})
    provider(world, "plain", "asg-p")
    associate(world, ["scaled", "plain"])
    ecs = world.ecs
    cluster = ecs.describe_clusters(clusters=[CLUSTER], include=["ATTACHMENTS"])["clusters"][0]
    assert cluster["attachmentsStatus"] == "UPDATE_COMPLETE"
    [attachment] = cluster["attachments"]
    assert (attachment["type"], attachment["status"]) == ("as_policy", "CREATED")
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["capacityProviderName"] == "scaled"
    assert details["scalingPolicyName"].startswith("ECSManagedAutoScalingPolicy-")
    again = ecs.describe_clusters(clusters=[CLUSTER], include=["ATTACHMENTS"])["clusters"][0]
    assert again["attachments"] == cluster["attachments"]       # stable ids
    assert "attachments" not in ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]


def test_managed_instances_providers_are_refused_with_a_clear_message(aws):
    """ECS Managed Instances (CreateCapacityProvider managedInstancesProvider, launch type
    MANAGED_INSTANCES) is not emulated: the sandbox refuses both rather than accept a
    provider that would never run a task (README, the sandbox's table)."""
    from botocore.exceptions import ClientError

    ecs = aws("ecs")
    with pytest.raises(ClientError) as err:
        ecs.create_capacity_provider(name="mi", managedInstancesProvider={
            "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfra",
            "instanceLaunchTemplate": {
                "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecs",
                "networkConfiguration": {"subnets": ["subnet-12345678"]}}})
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "does not emulate ECS Managed Instances" in err.value.response["Error"]["Message"]
    ecs.create_cluster(clusterName="mi")
    ecs.register_task_definition(family="mi", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 128}])
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster="mi", serviceName="s", taskDefinition="mi", desiredCount=1,
                           launchType="MANAGED_INSTANCES")
    assert "not MANAGED_INSTANCES" in err.value.response["Error"]["Message"]
