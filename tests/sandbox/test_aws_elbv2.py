"""ELBv2 target groups in the sandbox: (Id, Port) targets, health timeline, draining."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import elbv2


@pytest.fixture
def world(sandbox, aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24",
                              AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    instances = ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2,
                                  SubnetId=subnet)["Instances"]
    elb = aws("elbv2")
    tg = elb.create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckIntervalSeconds=10,
        HealthCheckProtocol="HTTP", HealthCheckPath="/")["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="web", Subnets=[subnet, other])[
        "LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    return {"tg": tg, "ids": [i["InstanceId"] for i in instances], "ec2": ec2, "elb": elb,
            "vpc": vpc, "lb": lb, "listener": listener}


def health(elb, tg, targets=None):
    kwargs = {"TargetGroupArn": tg}
    if targets:
        kwargs["Targets"] = targets
    found = elb.describe_target_health(**kwargs)["TargetHealthDescriptions"]
    return {(d["Target"]["Id"], d["Target"]["Port"]): (d["TargetHealth"]["State"],
                                                       d["TargetHealth"].get("Reason"))
            for d in found}


def test_two_tasks_on_one_instance_are_two_targets(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768},
                                                     {"Id": iid, "Port": 32769}])
    assert health(elb, tg) == {(iid, 32768): ("initial", "Elb.RegistrationInProgress"),
                               (iid, 32769): ("initial", "Elb.RegistrationInProgress")}
    sandbox.advance(10)
    assert health(elb, tg) == {(iid, 32768): ("healthy", None),
                               (iid, 32769): ("healthy", None)}


def test_initial_becomes_healthy_after_one_interval(sandbox, world):
    tg, iid = world["tg"], world["ids"][0]
    elbv2.register_target(sandbox, tg, iid, 32768)
    sandbox.advance(9.5)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "initial"
    sandbox.advance(0.5)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "healthy"


def test_deregistration_drains_for_the_configured_delay(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768},
                                                     {"Id": iid, "Port": 32769}])
    sandbox.advance(10)
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768}])
    assert health(elb, tg) == {(iid, 32768): ("draining", "Target.DeregistrationInProgress"),
                               (iid, 32769): ("healthy", None)}
    sandbox.advance(59)
    assert health(elb, tg)[(iid, 32768)][0] == "draining"
    sandbox.advance(1)
    assert health(elb, tg) == {(iid, 32769): ("healthy", None)}
    assert health(elb, tg, [{"Id": iid, "Port": 32768}]) == {
        (iid, 32768): ("unused", "Target.NotRegistered")}


def test_public_deregister_returns_default_delay_and_drains(sandbox, world):
    tg, iid = world["tg"], world["ids"][0]
    elbv2.register_target(sandbox, tg, iid, 32770)
    assert elbv2.deregister_target(sandbox, tg, iid, 32770) == 300.0
    sandbox.advance(100)
    assert elbv2.target_health(sandbox, tg, iid, 32770) == "draining"
    assert elbv2.deregister_target(sandbox, tg, iid, 32770) == pytest.approx(200.0)
    sandbox.advance(200)
    assert elbv2.target_health(sandbox, tg, iid, 32770) == "unused"
    assert elbv2.deregister_target(sandbox, tg, iid, 32770) == 0.0


def test_reregistering_a_draining_target_cancels_its_removal(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elbv2.register_target(sandbox, tg, iid, 32768)
    sandbox.advance(10)
    elbv2.deregister_target(sandbox, tg, iid, 32768)
    sandbox.advance(100)
    elbv2.register_target(sandbox, tg, iid, 32768)
    assert health(elb, tg) == {(iid, 32768): ("initial", "Elb.RegistrationInProgress")}
    sandbox.advance(300)
    assert health(elb, tg) == {(iid, 32768): ("healthy", None)}


def test_stopped_instance_is_unused_terminated_one_deregistered(sandbox, world):
    """Stopped: still registered, unused/InvalidState. Terminated: gone from the list at once,
    draining when asked for by Id until the deregistration delay ends (moto's aws_verified
    test_register_targets; the sandbox used to keep it registered forever)."""
    elb, tg, ec2 = world["elb"], world["tg"], world["ec2"]
    first, second = world["ids"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": first, "Port": 32768},
                                                     {"Id": second, "Port": 32768}])
    sandbox.advance(10)
    ec2.stop_instances(InstanceIds=[first])
    ec2.terminate_instances(InstanceIds=[second])
    assert health(elb, tg) == {(first, 32768): ("unused", "Target.InvalidState")}
    asked = [{"Id": second, "Port": 32768}]
    assert health(elb, tg, asked) == {
        (second, 32768): ("draining", "Target.DeregistrationInProgress")}
    sandbox.advance(300)
    assert health(elb, tg, asked) == {(second, 32768): ("unused", "Target.NotRegistered")}
    assert health(elb, tg) == {(first, 32768): ("unused", "Target.InvalidState")}


def test_targets_of_a_group_no_load_balancer_uses_are_unused(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768}])
    sandbox.advance(10)
    assert health(elb, tg) == {(iid, 32768): ("healthy", None)}
    elb.delete_listener(ListenerArn=world["listener"])
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [d["TargetHealth"] for d in found] == [{
        "State": "unused", "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load "
                       "balancer"}]


def test_forward_action_is_described_with_its_forward_config(world):
    elb, tg = world["elb"], world["tg"]
    action = elb.describe_listeners(LoadBalancerArn=world["lb"])["Listeners"][0][
        "DefaultActions"][0]
    assert action["TargetGroupArn"] == tg
    assert action["ForwardConfig"] == {
        "TargetGroups": [{"TargetGroupArn": tg, "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": False}}


def test_registering_a_stopped_instance_fails(sandbox, world):
    elb, tg, ec2, iid = world["elb"], world["tg"], world["ec2"], world["ids"][0]
    ec2.stop_instances(InstanceIds=[iid])
    with pytest.raises(ClientError) as err:
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768}])
    assert "not in a running state" in str(err.value)


def test_deregistering_an_unknown_target_fails(world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    with pytest.raises(ClientError) as err:
        elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 1234}])
    assert err.value.response["Error"]["Code"] == "InvalidTarget"


def test_deregister_without_port_drains_every_port_of_the_instance(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 32768},
                                                     {"Id": iid, "Port": 32769}])
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": iid}])
    assert {state for state, _ in health(elb, tg).values()} == {"draining"}


def test_set_unhealthy_hook(sandbox, world):
    elb, tg, iid = world["elb"], world["tg"], world["ids"][0]
    elbv2.register_target(sandbox, tg, iid, 32768)
    elbv2.register_target(sandbox, tg, iid, 32769)
    sandbox.advance(10)
    elbv2.set_unhealthy(sandbox, tg, iid, 32768)  # threshold 2 x interval 10
    sandbox.advance(19)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "healthy"
    sandbox.advance(1)
    assert health(elb, tg)[(iid, 32768)] == ("unhealthy", "Target.ResponseCodeMismatch")
    assert health(elb, tg)[(iid, 32769)] == ("healthy", None)
    elbv2.set_unhealthy(sandbox, tg, iid, 32769, immediately=True)
    assert elbv2.target_health(sandbox, tg, iid, 32769) == "unhealthy"
    elbv2.set_healthy(sandbox, tg, iid, 32768)  # healthy threshold 5 x 10
    sandbox.advance(50)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "healthy"


def test_new_target_that_fails_checks_never_becomes_healthy(sandbox, world):
    tg, iid = world["tg"], world["ids"][0]
    elbv2.register_target(sandbox, tg, iid, 32768)
    elbv2.set_unhealthy(sandbox, tg, iid, 32768)
    sandbox.advance(10)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "initial"
    sandbox.advance(10)
    assert elbv2.target_health(sandbox, tg, iid, 32768) == "unhealthy"
