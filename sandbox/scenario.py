"""The seed scenario of the reference architecture, built through boto3 exactly as a user would.

Two (or three) public subnets in distinct AZs, a launch template whose UserData joins the ECS
cluster, an Auto Scaling group of m3.medium-sized instances, and the sample app (httpd 10 CPU /
300 MiB plus its busybox sidecar, bridge mode, dynamic host port) as a REPLICA service.

Used by ``python -m sandbox demo`` and by the sandbox tests; nothing here touches sandbox internals,
so the same code would build the scenario on AWS (apart from the AMI lookup fallback).
"""

from __future__ import annotations

import base64
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

ECS_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id"


@dataclass
class Seed:
    cluster: str = "demo"
    service: str = "sample-app"
    asg: str = "demo-asg"
    azs: int = 2
    instances: int = 2
    tasks: int = 2
    instance_type: str = "m3.medium"
    min_healthy_percent: int = 100
    max_percent: int = 200
    placement_strategy: list = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)


class Clients:
    """boto3 clients for one endpoint (the sandbox, or AWS when endpoint is None)."""

    def __init__(self, endpoint: str | None, region: str = "us-east-1"):
        import boto3

        self._session = boto3.session.Session(
            aws_access_key_id="testing" if endpoint else None,
            aws_secret_access_key="testing" if endpoint else None,
            region_name=region)
        self._endpoint = endpoint
        self._cache: dict = {}

    def __call__(self, service: str):
        if service not in self._cache:
            self._cache[service] = self._session.client(service, endpoint_url=self._endpoint)
        return self._cache[service]


def sample_task_definition(family: str = "sample-app") -> dict:
    """The reference architecture's sample app: httpd serving a page a busybox sidecar writes."""
    page = ("<html><head><title>Amazon ECS Sample App</title></head><body><h1>Amazon ECS Sample "
            "App</h1><h2>Congratulations!</h2><p>Your application is now running on a container "
            "in Amazon ECS.</p></body></html>")
    return {
        "family": family,
        "networkMode": "bridge",
        "volumes": [{"name": "my-vol", "host": {}}],
        "containerDefinitions": [
            {"name": "simple-app", "image": "httpd:2.4", "cpu": 10, "memory": 300,
             "essential": True, "portMappings": [{"containerPort": 80, "hostPort": 0,
                                                  "protocol": "tcp"}],
             "mountPoints": [{"sourceVolume": "my-vol",
                              "containerPath": "/usr/local/apache2/htdocs"}]},
            {"name": "busybox", "image": "busybox", "cpu": 10, "memory": 200,
             "essential": False, "entryPoint": ["sh", "-c"],
             "command": [f"echo '{page}' > /usr/local/apache2/htdocs/index.html && "
                         "while true; do sleep 3600; done"],
             "volumesFrom": [{"sourceContainer": "simple-app"}]},
        ],
    }


def ecs_ami(aws: Clients) -> str:
    try:
        return aws("ssm").get_parameter(Name=ECS_AMI_PARAMETER)["Parameter"]["Value"]
    except aws("ssm").exceptions.ParameterNotFound:
        return aws("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def build_network(aws: Clients, seed: Seed) -> list[str]:
    ec2 = aws("ec2")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = []
    for index, zone in enumerate(zones[: seed.azs]):
        subnets.append(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24",
                                         AvailabilityZone=zone)["Subnet"]["SubnetId"])
    return subnets


def build_seed(aws: Clients, seed: Seed | None = None) -> Seed:
    """Create network, cluster, launch template, ASG and the sample service."""
    seed = seed or Seed()
    seed.subnets = build_network(aws, seed)
    ecs = aws("ecs")
    ecs.create_cluster(clusterName=seed.cluster)
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={seed.cluster} >> /etc/ecs/ecs.config\n"
    aws("ec2").create_launch_template(
        LaunchTemplateName=f"{seed.cluster}-lt",
        LaunchTemplateData={"ImageId": ecs_ami(aws), "InstanceType": seed.instance_type,
                            "UserData": base64.b64encode(user_data.encode()).decode(),
                            "MetadataOptions": {"HttpTokens": "required"}})
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=seed.asg, MinSize=0, MaxSize=max(3, seed.instances + 1),
        DesiredCapacity=seed.instances, VPCZoneIdentifier=",".join(seed.subnets),
        LaunchTemplate={"LaunchTemplateName": f"{seed.cluster}-lt", "Version": "$Latest"})
    ecs.register_task_definition(**sample_task_definition(seed.service))
    return seed


def create_service(aws: Clients, seed: Seed, target_group_arn: str | None = None) -> None:
    extra = {"loadBalancers": [{"targetGroupArn": target_group_arn, "containerName": "simple-app",
                                "containerPort": 80}]} if target_group_arn else {}
    aws("ecs").create_service(
        cluster=seed.cluster, serviceName=seed.service, taskDefinition=seed.service,
        desiredCount=seed.tasks, launchType="EC2", placementStrategy=seed.placement_strategy,
        deploymentConfiguration={"minimumHealthyPercent": seed.min_healthy_percent,
                                 "maximumPercent": seed.max_percent},
        # the seed reproduces the pre-2025 world: ECS never moves a placed task (AWS has
        # enabled AZ rebalancing for new eligible services since 2025-09-05)
        availabilityZoneRebalancing="DISABLED", **extra)


def build_alb(aws: Clients, seed: Seed, deregistration_delay: int = 30,
              health_check_interval: int = 10) -> tuple[str, dict]:
    """An ALB with an HTTP listener forwarding to an instance target group in the seed's VPC:
    (target group arn, load balancer)."""
    elb = aws("elbv2")
    vpc = aws("ec2").describe_subnets(SubnetIds=seed.subnets)["Subnets"][0]["VpcId"]
    tg = elb.create_target_group(Name=f"{seed.cluster}-app", Protocol="HTTP", Port=80, VpcId=vpc,
                                 TargetType="instance",
                                 HealthCheckIntervalSeconds=health_check_interval)[
        "TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}])
    lb = elb.create_load_balancer(Name=seed.cluster, Subnets=seed.subnets)["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return tg, lb


def healthy_targets(aws: Clients, target_group_arn: str) -> int:
    return sum(d["TargetHealth"]["State"] == "healthy" for d in aws("elbv2").describe_target_health(
        TargetGroupArn=target_group_arn)["TargetHealthDescriptions"])


# --------------------------------------------------------------------- observing the cluster
def distribution(aws: Clients, cluster: str, service: str) -> dict[str, dict[str, int]]:
    """{az: {ec2 instance id: running+pending tasks of the service}} over ACTIVE instances."""
    ecs = aws("ecs")
    arns = ecs.list_container_instances(cluster=cluster, status="ACTIVE")["containerInstanceArns"]
    table: dict[str, dict[str, int]] = defaultdict(dict)
    by_arn = {}
    if arns:
        for ci in ecs.describe_container_instances(cluster=cluster,
                                                   containerInstances=arns)["containerInstances"]:
            az = next(a["value"] for a in ci["attributes"] if a["name"] == "ecs.availability-zone")
            table[az][ci["ec2InstanceId"]] = 0
            by_arn[ci["containerInstanceArn"]] = (az, ci["ec2InstanceId"])
    counts = Counter(by_arn.get(t["containerInstanceArn"]) for t in service_tasks(aws, cluster, service))
    for (az, instance), count in ((k, v) for k, v in counts.items() if k):
        table[az][instance] = count
    return {az: dict(sorted(v.items())) for az, v in sorted(table.items())}


def service_tasks(aws: Clients, cluster: str, service: str) -> list[dict]:
    ecs = aws("ecs")
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def running_count(aws: Clients, cluster: str, service: str) -> int:
    svc = aws("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    return svc["runningCount"]


def steady(aws: Clients, cluster: str, service: str) -> bool:
    """One COMPLETED deployment with every desired task running (ECS's own notion of settled)."""
    svc = aws("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    deployments = svc["deployments"]
    return (len(deployments) == 1 and deployments[0].get("rolloutState") == "COMPLETED"
            and svc["runningCount"] == svc["desiredCount"])


def format_table(title: str, dist: dict[str, dict[str, int]]) -> str:
    lines = [title, f"  {'AZ':<12} {'instance':<21} tasks"]
    for az, instances in dist.items():
        for instance, count in instances.items():
            lines.append(f"  {az:<12} {instance:<21} {count:>3}  {'#' * count}")
    return "\n".join(lines)


def counts(dist: dict[str, dict[str, int]]) -> list[int]:
    """Per-instance counts, sorted high to low: a compact form for assertions."""
    return sorted((c for az in dist.values() for c in az.values()), reverse=True)


# ------------------------------------------------------------------------------ waiting
class Driver:
    """Waits for a condition on emulated time: advances a manual clock, or polls a scaled one."""

    def __init__(self, advance: Callable[[float], object] | None = None, speed: float = 1.0):
        self._advance, self._speed = advance, speed

    def wait_for(self, predicate: Callable[[], bool], timeout: float, step: float = 5.0,
                 what: str = "condition") -> float:
        """Return the emulated seconds it took; raise TimeoutError after ``timeout``."""
        waited = 0.0
        while not predicate():
            if waited >= timeout:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} emulated seconds")
            if self._advance:
                self._advance(step)
            else:
                time.sleep(step / self._speed)
            waited += step
        return waited


# ------------------------------------------------------------ Service Auto Scaling
ECS_DESIRED_COUNT = "ecs:service:DesiredCount"


def endpoint_now(aws) -> float:
    """The endpoint's clock in epoch seconds: the sandbox's emulated clock (its control API
    ``/_sandbox/status``) when the clients point at a sandbox, the wall clock on AWS."""
    import json
    import urllib.request

    endpoint = aws("ecs").meta.endpoint_url
    if "amazonaws.com" in endpoint:
        return time.time()
    with urllib.request.urlopen(f"{endpoint}/_sandbox/status", timeout=10) as response:
        return float(json.load(response)["now"])


def schedule_desired_count(aws, cluster: str, service: str, at_seconds: float, count: int,
                           name: str | None = None) -> str:
    """Have Service Auto Scaling set ``service``'s desiredCount to ``count`` ``at_seconds``
    emulated seconds from now, the way an autoscaler changes it under a running rebalance.

    Registers the service as a scalable target if it is not one yet (bounds around its current
    desiredCount and ``count``), then puts a one-time ``at(...)`` scheduled action whose
    MinCapacity and MaxCapacity are both ``count``: at that time Application Auto Scaling
    raises or lowers desiredCount to ``count`` through ECS UpdateService and records a scaling
    activity. Works against AWS as well (there ``at`` is wall-clock UTC). Returns the action name.
    """
    import datetime
    import math

    scaling = aws("application-autoscaling")
    resource = f"service/{cluster}/{service}"
    registered = scaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource],
        ScalableDimension=ECS_DESIRED_COUNT)["ScalableTargets"]
    if not registered:
        current = aws("ecs").describe_services(cluster=cluster, services=[service])[
            "services"][0]["desiredCount"]
        scaling.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=ECS_DESIRED_COUNT,
            MinCapacity=min(current, count), MaxCapacity=max(current, count))
    # at(...) has whole seconds: round up so the action never runs early.
    when = datetime.datetime.fromtimestamp(math.ceil(endpoint_now(aws) + at_seconds),
                                           datetime.timezone.utc)
    name = name or f"desired-{count}-at-{when:%Y%m%dT%H%M%S}"
    scaling.put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName=name, ResourceId=resource,
        ScalableDimension=ECS_DESIRED_COUNT, Schedule=f"at({when:%Y-%m-%dT%H:%M:%S})",
        ScalableTargetAction={"MinCapacity": count, "MaxCapacity": count})
    return name
