"""awsvpc network mode on EC2 in the sandbox (sandbox/ecs/network.py).

Every test drives the in-process sandbox through boto3 on the manual clock.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

from ecs_world import World
from sandbox.ecs import resources
from sandbox.scenario import Clients

A, B = "us-east-1a", "us-east-1b"
MISSING = "Network Configuration must be provided when networkMode 'awsvpc' is specified."
NOT_VALID = ("Network Configuration is not valid for the given networkMode of this task "
             "definition.")
TAIL = "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."


def vpc_config(world: World, *azs: str, **extra) -> dict:
    subnets = [world.subnets[az] for az in (azs or (A, B))]
    return {"awsvpcConfiguration": {"subnets": subnets, **extra}}


def awsvpc_td(world: World, family: str = "vpcweb") -> str:
    return world.task_definition(family, networkMode="awsvpc")


def fails(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def detail(task: dict, name: str) -> str:
    return next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == name)


@pytest.fixture
def world(sandbox, aws):
    w = World(sandbox, aws)
    w.a, w.b = w.launch(A), w.launch(B)        # m5.large: 3 ENIs, 2 awsvpc tasks each
    w.boot()
    return w


# ------------------------------------------------------------------ validation
def test_network_configuration_is_required_for_awsvpc_and_refused_otherwise(world):
    """ECS API CreateService/UpdateService/RunTask/StartTask networkConfiguration: "required
    for task definitions that use the awsvpc network mode"; other modes are refused with
    InvalidParameterException (messages as ECS returns them, seen in public error reports)."""
    ecs = world.ecs
    vpc_td, bridge_td = awsvpc_td(world), world.task_definition("bridgeweb")
    net = vpc_config(world)
    ci = world.instance(world.a)["containerInstanceArn"]
    cases = [
        (ecs.create_service, dict(serviceName="s1", taskDefinition=vpc_td, desiredCount=1),
         MISSING),
        (ecs.create_service, dict(serviceName="s2", taskDefinition=bridge_td, desiredCount=1,
                                  networkConfiguration=net), NOT_VALID),
        (ecs.run_task, dict(taskDefinition=vpc_td), MISSING),
        (ecs.run_task, dict(taskDefinition=bridge_td, networkConfiguration=net), NOT_VALID),
        (ecs.start_task, dict(taskDefinition=vpc_td, containerInstances=[ci]), MISSING),
        (ecs.start_task, dict(taskDefinition=bridge_td, containerInstances=[ci],
                              networkConfiguration=net), NOT_VALID),
        (ecs.run_task, dict(taskDefinition=vpc_td, networkConfiguration=vpc_config(
            world, assignPublicIp="ENABLED")),
         "Assign public IP is not supported for this launch type."),
        (ecs.run_task, dict(taskDefinition=vpc_td, networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}),
         "Error retrieving subnet information for [subnet-0123456789abcdef0]: The subnet ID "
         "'subnet-0123456789abcdef0' does not exist (ErrorCode: InvalidSubnetID.NotFound)"),
    ]
    for call, kwargs, message in cases:
        assert fails(call, cluster=world.cluster, **kwargs) == (
            "InvalidParameterException", message), kwargs
    # UpdateService: a bridge service refuses a network configuration; moving it to an
    # awsvpc task definition needs one.
    world.service("bridge", 1, bridge_td)
    assert fails(ecs.update_service, cluster=world.cluster, service="bridge",
                 networkConfiguration=net) == ("InvalidParameterException", NOT_VALID)
    assert fails(ecs.update_service, cluster=world.cluster, service="bridge",
                 taskDefinition=vpc_td) == ("InvalidParameterException", MISSING)
    svc = ecs.update_service(cluster=world.cluster, service="bridge", taskDefinition=vpc_td,
                             networkConfiguration=net)["service"]
    expected = {"awsvpcConfiguration": {"subnets": net["awsvpcConfiguration"]["subnets"],
                                        "assignPublicIp": "DISABLED"}}
    assert svc["networkConfiguration"] == expected
    assert svc["deployments"][0]["networkConfiguration"] == expected
    assert len(svc["deployments"]) == 2
    assert [s["serviceName"] for s in ecs.describe_services(
        cluster=world.cluster, services=["s1", "s2"])["services"]] == []


# ------------------------------------------------------------ ENI attachments
def test_each_task_gets_an_eni_in_its_instance_subnet_unique_and_released(world):
    """DG task-networking-awsvpc.html: "Each task ENI is assigned a private IPv4 address";
    the attachment is visible "with the DescribeTasks API operation" (API Task.attachments,
    Container.networkInterfaces); "When the task stops ... the task ENI is detached and
    deleted". awsvpc has no host port mapping, so no networkBindings."""
    world.service("web", 4, awsvpc_td(world), networkConfiguration=vpc_config(world))
    world.settle(30)
    tasks = world.tasks("web")
    assert len(tasks) == 4 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
    subnet_of = {ci["containerInstanceArn"]: next(a["value"] for a in ci["attributes"]
                                                  if a["name"] == "ecs.subnet-id")
                 for ci in world.instances()}
    cidr = {s["SubnetId"]: ipaddress.ip_network(s["CidrBlock"]) for s in world.ec2.describe_subnets(
        SubnetIds=list(world.subnets.values()))["Subnets"]}
    instance_ips = {i["PrivateIpAddress"] for r in world.ec2.describe_instances()["Reservations"]
                    for i in r["Instances"]}
    ips = []
    for t in tasks:
        (att,) = t["attachments"]
        assert att["type"] == "ElasticNetworkInterface" and att["status"] == "ATTACHED"
        assert [d["name"] for d in att["details"]] == [
            "subnetId", "networkInterfaceId", "macAddress", "privateDnsName",
            "privateIPv4Address"]
        ip = detail(t, "privateIPv4Address")
        assert detail(t, "subnetId") == subnet_of[t["containerInstanceArn"]]
        assert ipaddress.ip_address(ip) in cidr[detail(t, "subnetId")]
        assert detail(t, "privateDnsName") == "ip-" + ip.replace(".", "-") + ".ec2.internal"
        assert re.fullmatch(r"eni-[0-9a-f]{17}", detail(t, "networkInterfaceId"))
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", detail(t, "macAddress"))
        for c in t["containers"]:
            assert c["networkInterfaces"] == [{"attachmentId": att["id"],
                                               "privateIpv4Address": ip}]
            assert c["networkBindings"] == []
        ips.append(ip)
    assert len(set(ips)) == 4 and not set(ips) & instance_ips
    # Stop one: its attachment reads DELETED once STOPPED, and its IP is free again (the
    # replacement, on the same full instance, takes the lowest free address: the same one).
    victim = tasks[0]
    world.ecs.stop_task(cluster=world.cluster, task=victim["taskArn"])
    world.settle(30)
    stopped = world.ecs.describe_tasks(cluster=world.cluster, tasks=[victim["taskArn"]])[
        "tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["attachments"][0]["status"] == "DELETED"
    now = world.tasks("web")
    assert len(now) == 4
    assert sorted(detail(t, "privateIPv4Address") for t in now) == sorted(ips)


def test_placement_only_uses_instances_in_the_configured_subnets(world):
    """DG task-networking.html: a network configuration "includes the subnets in which to
    place your tasks ... The tasks are placed on valid container instances in those
    subnets"."""
    world.service("web", 2, awsvpc_td(world), networkConfiguration=vpc_config(world, A))
    world.settle(30)
    assert world.by_instance("web") == {world.a: 2}
    assert {detail(t, "subnetId") for t in world.tasks("web")} == {world.subnets[A]}


# ------------------------------------------------------------------- ENI limit
def test_eni_limit_stops_placement_with_resource_eni(world, aws):
    """DG container-instance-eni.html: "the primary network interface counts as one" (a
    c5.large with 3 ENIs runs two awsvpc tasks); the EC2 per-type maximum decides the rest.
    A service beyond it logs the "closest matching ... encountered error" message with
    RESOURCE:ENI (observed) and sends SERVICE_TASK_PLACEMENT_FAILURE (DG ecs_cwe_events)."""
    assert {t: resources.max_enis(t) for t in ("t3.micro", "t3.medium", "m5.large",
                                                "m5.xlarge", "c5.large", "r5.4xlarge")} == {
        "t3.micro": 2, "t3.medium": 3, "m5.large": 3, "m5.xlarge": 4, "c5.large": 3,
        "r5.4xlarge": 8}
    world.service("web", 5, awsvpc_td(world), networkConfiguration=vpc_config(world))
    world.settle(30)
    assert sorted(world.by_instance("web").values()) == [2, 2]
    ids = {ci["containerInstanceArn"].rsplit("/", 1)[1] for ci in world.instances()}
    expected = {(f"(service web) was unable to place a task because no container instance met "
                 f"all of its requirements. The closest matching (container-instance {i}) "
                 f'encountered error "RESOURCE:ENI". {TAIL}') for i in ids}
    assert len(expected & set(world.messages("web"))) == 1
    failures = [e["detail"] for e in world.events("ECS Service Action")
                if e["detail"]["eventName"] == "SERVICE_TASK_PLACEMENT_FAILURE"]
    assert failures and failures[0]["reason"] == "RESOURCE:ENI"
    # RunTask reports it per instance; bridge tasks do not use task ENIs and still fit.
    out = world.ecs.run_task(cluster=world.cluster, taskDefinition=awsvpc_td(world, "one"),
                             networkConfiguration=vpc_config(world))
    assert out["tasks"] == [] and {f["reason"] for f in out["failures"]} == {"RESOURCE:ENI"}
    out = world.ecs.run_task(cluster=world.cluster, taskDefinition=world.task_definition("br"))
    assert len(out["tasks"]) == 1 and out["failures"] == []


def test_eni_trunking_raises_the_limit_of_instances_registered_after_opting_in(sandbox, aws):
    """DG container-instance-eni.html: with awsvpcTrunking enabled, "additional ENIs are
    available on newly launched container instances" of supported types, which carry the
    ``ecs.awsvpc-trunk-id`` attribute; "Previously launched instances do not receive these
    features". The table's m5.large row: 2 tasks without trunking, 10 with; t3 types are not
    in the table and keep max ENIs - 1 (t3.medium: 2)."""
    world = World(sandbox, aws)
    before = world.launch(A)                          # m5.large, registered before opting in
    world.boot()
    world.ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
    trunked, small = world.launch(A), world.launch(A, "t3.medium")
    world.boot()
    attrs = {ec2: {a["name"]: a.get("value") for a in world.instance(ec2)["attributes"]}
             for ec2 in (before, trunked, small)}
    assert resources.TRUNK_ATTRIBUTE == "ecs.awsvpc-trunk-id"
    assert [resources.TRUNK_ATTRIBUTE in attrs[e] for e in (before, trunked, small)] == \
        [False, True, False]
    assert attrs[trunked][resources.TRUNK_ATTRIBUTE].startswith("eni-")
    small_td = world.task_definition("tiny", cpu=64, memory=128, networkMode="awsvpc")
    world.service("web", 16, small_td, networkConfiguration=vpc_config(world, A))
    world.settle(60)                                  # 2 of the 16 find no ENI
    assert world.by_instance("web") == {before: 2, trunked: 10, small: 2}


# ------------------------------------------------------------ ip target groups
def _target_group(world: World, kind: str, delay: int = 20) -> str:
    elbv2 = Clients(world.sb.endpoint)("elbv2")
    tg = elbv2.create_target_group(Name=f"tg-{kind}", Protocol="HTTP", Port=80, VpcId=world.vpc,
                                   TargetType=kind, HealthCheckIntervalSeconds=10)[
        "TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    # A group no listener forwards to reports every target unused (Target.NotInUse).
    lb = elbv2.create_load_balancer(Name=f"lb-{kind}", Subnets=list(world.subnets.values()))[
        "LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    return tg


def _health(world: World, tg: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    out = Clients(world.sb.endpoint)("elbv2").describe_target_health(TargetGroupArn=tg)
    return {(d["Target"]["Id"], d["Target"]["Port"]): (d["TargetHealth"]["State"],
                                                       d["TargetHealth"].get("Reason"))
            for d in out["TargetHealthDescriptions"]}


def test_ip_target_group_registers_ip_and_container_port_and_drains_on_stop(world):
    """DG load-balancer-types.md: awsvpc tasks need target type ip, registered by IP and
    container port; ECS deregisters first and waits the deregistration delay (semantics §7);
    ALB: a new target is initial until it passes a check, a deregistered one draining. The
    deployment completes and the service reaches a steady state only with healthy targets."""
    tg = _target_group(world, "ip")
    lbs = [{"targetGroupArn": tg, "containerName": "vpcweb", "containerPort": 80}]
    world.service("web", 2, awsvpc_td(world), networkConfiguration=vpc_config(world),
                  loadBalancers=lbs, deploymentConfiguration={"minimumHealthyPercent": 50})
    world.settle(6)    # RUNNING (5 s), targets registered, first health check not yet due
    tasks = world.tasks("web")
    ips = {detail(t, "privateIPv4Address") for t in tasks}
    assert _health(world, tg) == {(ip, 80): ("initial", "Elb.RegistrationInProgress")
                                  for ip in ips}
    svc = world.describe_service("web")
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert not any("steady state" in m for m in world.messages("web"))
    world.settle(15)
    assert _health(world, tg) == {(ip, 80): ("healthy", None) for ip in ips}
    messages = world.messages("web")
    assert "(service web) has reached a steady state." in messages
    assert any(m.endswith("deployment completed.") for m in messages)
    # Scale in: the stopped task's (ip, 80) drains for the delay, then is gone.
    world.ecs.update_service(cluster=world.cluster, service="web", desiredCount=1)
    world.settle(1)
    stopping = next(t for t in world.tasks("web", desired="STOPPED"))
    gone = detail(stopping, "privateIPv4Address")
    assert stopping["lastStatus"] == "DEACTIVATING"
    assert _health(world, tg)[(gone, 80)] == ("draining", "Target.DeregistrationInProgress")
    world.settle(25)
    assert set(_health(world, tg)) == {(ip, 80) for ip in ips - {gone}}
    stopped = world.ecs.describe_tasks(cluster=world.cluster, tasks=[stopping["taskArn"]])[
        "tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"


def test_target_type_must_match_the_network_mode(world):
    """ECS refuses an instance target group for awsvpc tasks and an ip one for bridge tasks
    (InvalidParameterException, message seen in public error reports)."""
    instance_tg, ip_tg = _target_group(world, "instance"), _target_group(world, "ip")
    vpc_td, bridge_td = awsvpc_td(world), world.task_definition("bridgeweb")
    code, message = fails(world.ecs.create_service, cluster=world.cluster, serviceName="v",
                          taskDefinition=vpc_td, desiredCount=1,
                          networkConfiguration=vpc_config(world), loadBalancers=[{
                              "targetGroupArn": instance_tg, "containerName": "vpcweb",
                              "containerPort": 80}])
    assert (code, message) == ("InvalidParameterException", (
        f"The provided target group {instance_tg} has target type instance, which is "
        "incompatible with the awsvpc network mode specified in the task definition."))
    code, message = fails(world.ecs.create_service, cluster=world.cluster, serviceName="b",
                          taskDefinition=bridge_td, desiredCount=1, loadBalancers=[{
                              "targetGroupArn": ip_tg, "containerName": "bridgeweb",
                              "containerPort": 80}])
    assert (code, message) == ("InvalidParameterException", (
        f"The provided target group {ip_tg} has target type ip, which is incompatible with "
        "the bridge network mode specified in the task definition."))


# ------------------------------------------------------------------ data plane


def test_alb_routes_to_awsvpc_tasks_by_ip_and_port(live):
    """An ALB forwards to an ip target group's healthy (IP, port) targets (ALB
    load-balancer-target-groups.md); the sandbox maps each awsvpc task's (private IP,
    container port) to its loopback server."""
    aws = Clients(live.endpoint)
    world = World(live, aws)
    world.launch(A), world.launch(B)
    world.boot()
    tg = _target_group(world, "ip")
    elb = aws("elbv2")
    lb = elb.create_load_balancer(Name="vpc", Subnets=[world.subnets[A], world.subnets[B]])[
        "LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    world.service("web", 2, awsvpc_td(world), networkConfiguration=vpc_config(world),
                  loadBalancers=[{"targetGroupArn": tg, "containerName": "vpcweb",
                                  "containerPort": 80}])
    world.settle(30)
    expected = {t["taskArn"].rsplit("/", 1)[1] for t in world.tasks("web")}
    assert len(expected) == 2
    with urllib.request.urlopen(f"{live.endpoint}/_sandbox/dataplane", timeout=5) as resp:
        url = json.load(resp)["load_balancers"][lb["DNSName"]]
    seen = set()
    for _ in range(4):
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
            seen.add(resp.headers["X-Sandbox-Task"])
    assert seen == expected


def test_unknown_security_group_is_refused_like_an_unknown_subnet(world):
    """CreateService and RunTask used to accept a security group EC2 does not have."""
    td = awsvpc_td(world)
    bad = vpc_config(world, securityGroups=["sg-123456"])
    message = ("Error retrieving security group information for [sg-123456]: The security group "
               "'sg-123456' does not exist (ErrorCode: InvalidGroup.NotFound)")
    assert fails(world.ecs.create_service, cluster=world.cluster, serviceName="web",
                 taskDefinition=td, desiredCount=1, networkConfiguration=bad) == (
        "InvalidParameterException", message)
    assert fails(world.ecs.run_task, cluster=world.cluster, taskDefinition=td,
                 networkConfiguration=bad) == ("InvalidParameterException", message)
    vpc = world.ec2.describe_subnets(SubnetIds=[world.subnets[A]])["Subnets"][0]["VpcId"]
    group = world.ec2.create_security_group(GroupName="tasks", Description="tasks",
                                            VpcId=vpc)["GroupId"]
    svc = world.ecs.create_service(cluster=world.cluster, serviceName="web", taskDefinition=td,
                                   desiredCount=1,
                                   networkConfiguration=vpc_config(world, securityGroups=[group]))
    assert svc["service"]["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [
        group]
