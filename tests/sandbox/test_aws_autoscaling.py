"""Auto Scaling in the sandbox: AZ-balanced launches, default termination policy, protection."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


@pytest.fixture
def net(sandbox, aws):
    return _build_net(aws)


def _build_net(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                       AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(ZONES)}
    ec2.create_launch_template(LaunchTemplateName="ecs", LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceType": "t3.micro"})
    return {"vpc": vpc, "subnets": subnets, "ec2": ec2, "asg": aws("autoscaling")}


def make_group(net, zones, desired, **extra):
    net["asg"].create_auto_scaling_group(
        AutoScalingGroupName="ecs", MinSize=0, MaxSize=10, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "ecs", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(net["subnets"][z] for z in zones), **extra)


def instances(net):
    group = net["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=["ecs"])
    return group["AutoScalingGroups"][0]["Instances"]


def zone_counts(net):
    return dict(Counter(i["AvailabilityZone"] for i in instances(net)))


def set_desired(net, n):
    net["asg"].set_desired_capacity(AutoScalingGroupName="ecs", DesiredCapacity=n)


def test_launches_balance_two_azs_and_use_their_subnets(net):
    make_group(net, ZONES[:2], 4)
    assert zone_counts(net) == {"us-east-1a": 2, "us-east-1b": 2}
    ids = [i["InstanceId"] for i in instances(net)]
    described = net["ec2"].describe_instances(InstanceIds=ids)["Reservations"]
    for inst in (i for r in described for i in r["Instances"]):
        zone = inst["Placement"]["AvailabilityZone"]
        assert inst["SubnetId"] == net["subnets"][zone]
        assert inst["State"]["Name"] == "running"


def test_three_azs_balance_and_the_extra_goes_to_the_first(net):
    make_group(net, ZONES, 6)
    assert zone_counts(net) == {z: 2 for z in ZONES}
    set_desired(net, 7)
    assert zone_counts(net) == {"us-east-1a": 3, "us-east-1b": 2, "us-east-1c": 2}
    set_desired(net, 4)
    counts = zone_counts(net)
    assert sorted(counts.values()) == [1, 1, 2] and set(counts) == set(ZONES)


def test_scale_in_terminates_from_the_az_with_more(net):
    make_group(net, ZONES[:1], 3)  # all three in us-east-1a
    net["asg"].update_auto_scaling_group(
        AutoScalingGroupName="ecs", DesiredCapacity=4,
        VPCZoneIdentifier=",".join(net["subnets"][z] for z in ZONES[:2]))
    assert zone_counts(net) == {"us-east-1a": 3, "us-east-1b": 1}
    before = {i["InstanceId"]: i["AvailabilityZone"] for i in instances(net)}
    set_desired(net, 3)
    assert zone_counts(net) == {"us-east-1a": 2, "us-east-1b": 1}
    gone = set(before) - {i["InstanceId"] for i in instances(net)}
    assert [before[g] for g in gone] == ["us-east-1a"]
    state = net["ec2"].describe_instances(InstanceIds=list(gone))
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    net["asg"].update_auto_scaling_group(AutoScalingGroupName="ecs", DesiredCapacity=2)
    assert zone_counts(net) == {"us-east-1a": 1, "us-east-1b": 1}


def test_protected_instances_are_never_chosen(net):
    make_group(net, ZONES[:2], 4)
    in_a = [i["InstanceId"] for i in instances(net) if i["AvailabilityZone"] == "us-east-1a"]
    net["asg"].set_instance_protection(AutoScalingGroupName="ecs", InstanceIds=in_a,
                                       ProtectedFromScaleIn=True)
    set_desired(net, 2)
    remaining = {i["InstanceId"]: i["ProtectedFromScaleIn"] for i in instances(net)}
    assert remaining == {iid: True for iid in in_a}
    set_desired(net, 1)  # nothing unprotected is left: moto keeps both, desired says 1
    assert set(i["InstanceId"] for i in instances(net)) == set(in_a)


def test_oldest_launch_template_version_goes_first(net):
    make_group(net, ZONES[:2], 2)
    old = {i["InstanceId"] for i in instances(net)}
    net["ec2"].create_launch_template_version(
        LaunchTemplateName="ecs", SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.small"})
    net["asg"].update_auto_scaling_group(
        AutoScalingGroupName="ecs", DesiredCapacity=4,
        LaunchTemplate={"LaunchTemplateName": "ecs", "Version": "2"})
    assert zone_counts(net) == {"us-east-1a": 2, "us-east-1b": 2}
    set_desired(net, 2)
    remaining = {i["InstanceId"] for i in instances(net)}
    assert not remaining & old
    assert zone_counts(net) == {"us-east-1a": 1, "us-east-1b": 1}


def _victim_position(seed: int) -> int:
    """Launch 2+2 instances in a fresh sandbox with ``seed``, scale 4 -> 3, return the
    launch-order position of the terminated one (all four tie on AZ and launch template)."""
    import boto3

    from sandbox.server import Sandbox

    with Sandbox(speed=None, port=0, seed=seed) as sb:
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing",
                                        region_name="us-east-1")
        clients = {name: session.client(name, endpoint_url=sb.endpoint)
                   for name in ("ec2", "autoscaling", "elbv2")}
        net = _build_net(clients.__getitem__)
        make_group(net, ZONES[:2], 4)
        order = [i["InstanceId"] for i in instances(net)]
        set_desired(net, 3)
        survivors = {i["InstanceId"] for i in instances(net)}
        victims = [n for n, iid in enumerate(order) if iid not in survivors]
    assert len(victims) == 1
    return victims[0]


def test_random_tie_break_is_seeded():
    positions = {seed: _victim_position(seed) for seed in (1, 2, 3, 4)}
    assert _victim_position(3) == positions[3]
    assert len(set(positions.values())) > 1, positions  # random, not always the first


def test_terminate_instance_in_group_launches_replacement_in_same_az(net):
    make_group(net, ZONES[:2], 4)
    victim = next(i for i in instances(net) if i["AvailabilityZone"] == "us-east-1b")
    net["asg"].terminate_instance_in_auto_scaling_group(
        InstanceId=victim["InstanceId"], ShouldDecrementDesiredCapacity=False)
    assert zone_counts(net) == {"us-east-1a": 2, "us-east-1b": 2}
    assert victim["InstanceId"] not in {i["InstanceId"] for i in instances(net)}


def test_terminate_with_decrement_shrinks_the_group(net):
    make_group(net, ZONES[:2], 4)
    victim = next(i for i in instances(net) if i["AvailabilityZone"] == "us-east-1a")
    net["asg"].terminate_instance_in_auto_scaling_group(
        InstanceId=victim["InstanceId"], ShouldDecrementDesiredCapacity=True)
    assert zone_counts(net) == {"us-east-1a": 1, "us-east-1b": 2}


def test_ec2_termination_is_replaced_in_the_emptier_az(net):
    make_group(net, ZONES[:2], 4)
    victim = next(i for i in instances(net) if i["AvailabilityZone"] == "us-east-1a")
    net["ec2"].terminate_instances(InstanceIds=[victim["InstanceId"]])
    assert zone_counts(net) == {"us-east-1a": 2, "us-east-1b": 2}


def test_scale_in_deregisters_from_attached_target_groups(sandbox, net, aws):
    elb = aws("elbv2")
    tg = elb.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=net["vpc"]
                                 )["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="lb", Subnets=list(net["subnets"].values()))[
        "LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    make_group(net, ZONES[:2], 2, TargetGroupARNs=[tg])
    sandbox.advance(30)
    ids = {i["InstanceId"] for i in instances(net)}
    set_desired(net, 1)
    gone = ids - {i["InstanceId"] for i in instances(net)}
    states = {d["Target"]["Id"]: d["TargetHealth"]["State"]
              for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
    assert states == {**{iid: "healthy" for iid in ids - gone}, **{g: "draining" for g in gone}}
    sandbox.advance(300)
    remaining = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {d["Target"]["Id"] for d in remaining} == ids - gone


def test_disable_metrics_collection(net):
    make_group(net, ZONES[:2], 1)
    asg = net["asg"]
    asg.enable_metrics_collection(AutoScalingGroupName="ecs", Granularity="1Minute",
                                  Metrics=["GroupMinSize", "GroupMaxSize"])
    asg.disable_metrics_collection(AutoScalingGroupName="ecs", Metrics=["GroupMinSize"])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["ecs"])["AutoScalingGroups"][0]
    assert [m["Metric"] for m in group["EnabledMetrics"]] == ["GroupMaxSize"]
    asg.disable_metrics_collection(AutoScalingGroupName="ecs")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["ecs"])["AutoScalingGroups"][0]
    assert group.get("EnabledMetrics", []) == []


def test_instances_get_the_launch_templates_metadata_options(sandbox):
    """EC2 applies the template's MetadataOptions (IMDSv2 required) to what the group launches."""
    import boto3

    kw = dict(endpoint_url=sandbox.endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2, asg = boto3.client("ec2", **kw), boto3.client("autoscaling", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="imds", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t3.micro",
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}})
    asg.create_auto_scaling_group(AutoScalingGroupName="imds", MinSize=1, MaxSize=1,
                                  DesiredCapacity=1, VPCZoneIdentifier=subnet,
                                  LaunchTemplate={"LaunchTemplateName": "imds",
                                                  "Version": "$Latest"})
    ids = [i["InstanceId"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["imds"])["AutoScalingGroups"][0]["Instances"]]
    options = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0][
        "MetadataOptions"]
    assert options["HttpTokens"] == "required" and options["HttpPutResponseHopLimit"] == 2


# ------------------------------------------------------------------ scaling activities
def _activities(net):
    return net["asg"].describe_scaling_activities(AutoScalingGroupName="ecs")["Activities"]


def test_scaling_activities_record_launches_and_terminations(sandbox, net):
    """AWS CLI example of describe-scaling-activities: "Launching a new EC2 instance: i-..."
    with Cause "At <t> a user request created an AutoScalingGroup changing the desired capacity
    from 0 to 1.  At <t> an instance was started in response to a difference between desired
    and actual capacity, increasing the capacity from 0 to 1.", StatusCode Successful,
    Progress 100; scale-in records "Terminating EC2 instance: i-..." (newest first)."""
    make_group(net, ZONES[:2], 2)
    launched = sorted(i["InstanceId"] for i in instances(net))
    activities = _activities(net)
    assert sorted(a["Description"] for a in activities) == [
        f"Launching a new EC2 instance: {iid}" for iid in launched]
    created = sandbox.now()
    stamp = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
    at = f"{stamp:%Y-%m-%dT%H:%M:%SZ}"
    assert activities[0]["Cause"] == (
        f"At {at} a user request created an AutoScalingGroup changing the desired capacity from "
        f"0 to 2.  At {at} an instance was started in response to a difference between desired "
        "and actual capacity, increasing the capacity from 0 to 2.")
    assert {(a["StatusCode"], a["Progress"]) for a in activities} == {("Successful", 100)}
    sandbox.advance(600)
    set_desired(net, 1)
    [victim] = set(launched) - {i["InstanceId"] for i in instances(net)}
    newest = _activities(net)[0]
    later = f"{datetime.datetime.fromtimestamp(created + 600, datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    assert newest["Description"] == f"Terminating EC2 instance: {victim}"
    assert newest["Cause"] == (
        f"At {later} a user request explicitly set group desired capacity changing the desired "
        f"capacity from 2 to 1.  At {later} an instance was taken out of service in response to "
        "a difference between desired and actual capacity, shrinking the capacity from 2 to 1.  "
        f"At {later} instance {victim} was selected for termination.")
    assert newest["StatusCode"] == "Successful"
    assert abs(newest["StartTime"].timestamp() - (created + 600)) < 1
    assert len(_activities(net)) == 3


def test_activities_of_replacements_and_explicit_terminations(net):
    """DescribeScalingActivities also lists TerminateInstanceInAutoScalingGroup ("instance ...
    was taken out of service in response to a user request") and the launch that replaces an
    instance EC2 terminated ("in response to an EC2 health check indicating it has been
    terminated or stopped")."""
    make_group(net, ZONES[:2], 2)
    first, second = (i["InstanceId"] for i in instances(net))
    net["asg"].terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=True)
    newest = _activities(net)[0]
    assert newest["Description"] == f"Terminating EC2 instance: {first}"
    assert "was taken out of service in response to a user request, shrinking the capacity " \
           "from 2 to 1." in newest["Cause"]
    net["ec2"].terminate_instances(InstanceIds=[second])
    [replacement] = [i["InstanceId"] for i in instances(net)]
    newest = _activities(net)[0]
    assert newest["Description"] == f"Launching a new EC2 instance: {replacement}"
    assert "in response to an EC2 health check indicating it has been terminated or stopped." \
           in newest["Cause"]
    assert len(_activities(net)) == 4
    page = net["asg"].describe_scaling_activities(AutoScalingGroupName="ecs", MaxRecords=3)
    assert len(page["Activities"]) == 3 and page["NextToken"]


def test_group_from_a_launch_configuration_launches(sandbox, net):
    """Launch configurations used to fail every launch with HTTP 500 (an attribute moto does
    not have), reported by boto3 as invalid XML."""
    asg = net["asg"]
    asg.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12345678",
                                    InstanceType="t3.micro")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="ecs", LaunchConfigurationName="lc", MinSize=0, MaxSize=4,
        DesiredCapacity=2, VPCZoneIdentifier=",".join(net["subnets"][z] for z in ZONES[:2]))
    assert zone_counts(net) == {"us-east-1a": 1, "us-east-1b": 1}
    assert {i["LaunchConfigurationName"] for i in instances(net)} == {"lc"}
    set_desired(net, 1)
    assert len(instances(net)) == 1


def test_describe_auto_scaling_instances_reports_health_in_capitals(net):
    make_group(net, ZONES[:1], 1)
    described = net["asg"].describe_auto_scaling_instances()["AutoScalingInstances"]
    assert [i["HealthStatus"] for i in described] == ["HEALTHY"]
    assert [i["HealthStatus"] for i in instances(net)] == ["Healthy"]
    net["asg"].set_instance_health(InstanceId=described[0]["InstanceId"],
                                   HealthStatus="Unhealthy")
    described = net["asg"].describe_auto_scaling_instances()["AutoScalingInstances"]
    assert [i["HealthStatus"] for i in described] == ["UNHEALTHY"]


def test_group_lists_its_target_groups_as_traffic_sources(aws, net):
    tg = aws("elbv2").create_target_group(Name="tg", Protocol="HTTP", Port=80,
                                          VpcId=net["vpc"])["TargetGroups"][0]["TargetGroupArn"]
    make_group(net, ZONES[:1], 0, TargetGroupARNs=[tg])
    group = net["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=["ecs"])[
        "AutoScalingGroups"][0]
    assert group["TrafficSources"] == [{"Identifier": tg, "Type": "elbv2"}]


def test_lifecycle_hooks_carry_only_the_arns_they_were_given(net):
    make_group(net, ZONES[:1], 0)
    asg = net["asg"]
    asg.put_lifecycle_hook(AutoScalingGroupName="ecs", LifecycleHookName="plain",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING")
    role = "arn:aws:iam::123456789012:role/hooks"
    queue = "arn:aws:sqs:us-east-1:123456789012:hooks"
    asg.put_lifecycle_hook(AutoScalingGroupName="ecs", LifecycleHookName="notified",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
                           RoleARN=role, NotificationTargetARN=queue)
    hooks = {h["LifecycleHookName"]: h for h in asg.describe_lifecycle_hooks(
        AutoScalingGroupName="ecs")["LifecycleHooks"]}
    assert "RoleARN" not in hooks["plain"] and "NotificationTargetARN" not in hooks["plain"]
    assert (hooks["notified"]["RoleARN"], hooks["notified"]["NotificationTargetARN"]) == (
        role, queue)


def test_internal_error_on_an_xml_api_comes_back_as_xml(net, monkeypatch):
    """A crash inside a query-protocol API answers 500 InternalFailure in XML, so the client
    reports the error instead of "invalid XML received"."""
    from botocore.exceptions import ClientError
    from moto.autoscaling.models import AutoScalingBackend

    def broken(self, *args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr(AutoScalingBackend, "describe_tags", broken)
    with pytest.raises(ClientError) as err:
        net["asg"].describe_tags()
    assert err.value.response["Error"]["Code"] == "InternalFailure"
    assert err.value.response["Error"]["Message"] == "something broke"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
