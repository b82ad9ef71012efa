"""Build a generated scenario on a sandbox through boto3, the way a user would, and read it back.

Only public surfaces: boto3 clients bound to the sandbox endpoint, and ``sandbox.advance`` to
move the manual clock. The optional dimensions (capacity providers, Application Auto Scaling
scheduled actions) are probed by calling them: a dimension is used only when it works.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import DEFAULT_TABLE
from sandbox.scenario import Clients, Driver, schedule_desired_count
from .generator import (FEATURE_CAPACITY_PROVIDERS, FEATURE_SCHEDULED_ACTIONS, GroupSpec,
                        Scenario, ServiceSpec)

CLUSTER = "chaos"
ECS_AMI = "ami-0d75e18107f482a72"   # an ECS-optimized AMI in moto's catalogue
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
SETTLE_TIMEOUT = 900.0


@dataclass
class World:
    """The built cluster: clients, names, and what the "user" did (protected tasks)."""

    sandbox: Any
    aws: Clients
    scenario: Scenario
    subnets: list[str] = field(default_factory=list)
    user_protected: set[str] = field(default_factory=set)

    @property
    def ecs(self):
        return self.aws("ecs")

    def advance(self, seconds: float) -> None:
        self.sandbox.advance(seconds)

    def wait_for(self, predicate: Callable[[], bool], what: str,
                 timeout: float = SETTLE_TIMEOUT) -> None:
        Driver(advance=self.sandbox.advance).wait_for(predicate, timeout, what=what)

    # ------------------------------------------------------------------ reading
    def instances(self, status: str | None = "ACTIVE") -> list[dict]:
        kw = {"status": status} if status else {}
        arns = self.ecs.list_container_instances(cluster=CLUSTER, **kw)["containerInstanceArns"]
        if not arns:
            return []
        docs = self.ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)
        return sorted(docs["containerInstances"], key=lambda ci: ci["ec2InstanceId"])

    def services(self, include_tags: bool = False) -> dict[str, dict]:
        names = [s.name for s in self.scenario.services]
        out: dict[str, dict] = {}
        for start in range(0, len(names), 10):
            kw = {"include": ["TAGS"]} if include_tags else {}
            for doc in self.ecs.describe_services(cluster=CLUSTER, services=names[start:start + 10],
                                                  **kw)["services"]:
                out[doc["serviceName"]] = doc
        return out

    def pending_surges(self) -> dict[str, str]:
        """Service name -> the surge state a run left in its lease item (phase, delta, the
        count it writes): a surge begun and not yet lowered or healed. Since the lease (issue
        16) this is where a surge lives; ECS tags hold none. Empty before any run has made the
        table."""
        ddb = self.aws("dynamodb")
        try:
            pages = ddb.get_paginator("scan").paginate(TableName=DEFAULT_TABLE)
            items = [item for page in pages for item in page.get("Items", [])]
        except ddb.exceptions.ResourceNotFoundException:
            return {}
        out = {}
        for item in items:
            surge = item.get("surge", {}).get("M")
            if surge is not None:
                name = item["service"]["S"].rsplit("/", 1)[-1]
                out[name] = " ".join(f"{key}={surge.get(key, {}).get(kind, '?')}"
                                     for key, kind in (("phase", "S"), ("delta", "N"),
                                                       ("set", "N")))
        return out

    def task_arns(self, service: str | None = None, **kw: Any) -> list[str]:
        if service:
            kw["serviceName"] = service
        arns: list[str] = []
        for page in self.ecs.get_paginator("list_tasks").paginate(cluster=CLUSTER, **kw):
            arns += page["taskArns"]
        return arns

    def describe_tasks(self, arns: list[str]) -> list[dict]:
        out: list[dict] = []
        for start in range(0, len(arns), 100):
            out += self.ecs.describe_tasks(cluster=CLUSTER, tasks=arns[start:start + 100])["tasks"]
        return out

    def protected(self, arns: list[str]) -> set[str]:
        out: set[str] = set()
        for start in range(0, len(arns), 100):
            resp = self.ecs.get_task_protection(cluster=CLUSTER, tasks=arns[start:start + 100])
            out |= {p["taskArn"] for p in resp["protectedTasks"] if p["protectionEnabled"]}
        return out

    def group_instances(self, group: str) -> list[str]:
        doc = self.aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        return sorted(i["InstanceId"] for i in doc["Instances"]
                      if i["LifecycleState"] == "InService")

    def desired_capacity(self, group: str) -> int:
        return self.aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["DesiredCapacity"]

    def all_settled(self) -> bool:
        """Every service has one COMPLETED deployment and runs what it wants."""
        return all(len(d["deployments"]) == 1 and d["runningCount"] == d["desiredCount"]
                   and d["deployments"][0].get("rolloutState") == "COMPLETED"
                   for d in self.services().values())

    # -------------------------------------------------------------- the "others"
    def set_desired(self, service: str, count: int, via: str, delay: int) -> None:
        """Someone else changes desiredCount: a scheduled action or a person's UpdateService."""
        if via == "aas":
            schedule_desired_count(self.aws, CLUSTER, service, delay, count)
        else:
            self.ecs.update_service(cluster=CLUSTER, service=service, desiredCount=count)


# ---------------------------------------------------------------------- probing
def probe_features(sandbox: Any, aws: Clients) -> frozenset[str]:
    """Which optional dimensions the sandbox supports right now (others are adding them)."""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    found = set()
    if _capacity_providers_work(aws):
        found.add(FEATURE_CAPACITY_PROVIDERS)
    if _scheduled_actions_work(sandbox, aws):
        found.add(FEATURE_SCHEDULED_ACTIONS)
    return frozenset(found)


def _capacity_providers_work(aws: Clients) -> bool:
    """CreateCapacityProvider on an empty probe group, then delete both."""
    subnet = _vpc_subnets(aws, 1)[0]
    _launch_template(aws, "chaos-probe", "t3.medium")
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="chaos-probe", MinSize=0, MaxSize=1, DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
        LaunchTemplate={"LaunchTemplateName": "chaos-probe", "Version": "$Latest"})
    arn = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["chaos-probe"])[
        "AutoScalingGroups"][0]["AutoScalingGroupARN"]
    try:
        aws("ecs").create_capacity_provider(name="chaos-probe",
                                            autoScalingGroupProvider={"autoScalingGroupArn": arn})
        aws("ecs").delete_capacity_provider(capacityProvider="chaos-probe")
        return True
    except ClientError:
        return False
    finally:
        aws("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="chaos-probe",
                                                     ForceDelete=True)


def _scheduled_actions_work(sandbox: Any, aws: Clients) -> bool:
    """A one-time scheduled action on a probe service must change its desiredCount."""
    ecs = aws("ecs")
    ecs.register_task_definition(family="chaos-probe", containerDefinitions=[
        {"name": "probe", "image": "busybox", "cpu": 8, "memory": 8}])
    ecs.create_service(cluster=CLUSTER, serviceName="chaos-probe", taskDefinition="chaos-probe",
                       desiredCount=0, launchType="EC2")
    try:
        schedule_desired_count(aws, CLUSTER, "chaos-probe", 1, 1)
        sandbox.advance(3)
        doc = ecs.describe_services(cluster=CLUSTER, services=["chaos-probe"])["services"][0]
        return doc["desiredCount"] == 1
    except ClientError:
        return False
    finally:
        ecs.delete_service(cluster=CLUSTER, service="chaos-probe", force=True)


# ---------------------------------------------------------------------- building
def build(sandbox: Any, aws: Clients, scenario: Scenario) -> World:
    """Network, ASGs (and capacity providers), services; settle; user protection; then grow
    every group, which leaves the new instances empty: the skew."""
    world = World(sandbox=sandbox, aws=aws, scenario=scenario)
    world.subnets = _vpc_subnets(aws, scenario.azs)
    for group in scenario.groups:
        _group(aws, group, world.subnets)
    if FEATURE_CAPACITY_PROVIDERS in scenario.features:
        _capacity_providers(aws, scenario.groups)
    initial = sum(g.initial for g in scenario.groups)
    world.wait_for(lambda: len(world.instances()) == initial, f"{initial} instances registered")
    for spec in scenario.services:
        _service(aws, spec, FEATURE_CAPACITY_PROVIDERS in scenario.features, world.subnets)
    world.wait_for(world.all_settled, "services settled")
    _protect_user_tasks(world, random.Random(scenario.seed))
    for group in scenario.groups:
        aws("autoscaling").set_desired_capacity(AutoScalingGroupName=group.name,
                                                DesiredCapacity=group.grown)
    grown = sum(g.grown for g in scenario.groups)
    world.wait_for(lambda: len(world.instances()) == grown, f"{grown} instances registered")
    _start_blue_green(world)
    return world


def _start_blue_green(world: World) -> None:
    """The blue/green services start a deployment and are met mid-bake: both revisions run
    (docs/ecs-facts.md §1.11). Bounded wait for each to reach BAKE_TIME."""
    baking = [s for s in world.scenario.services if s.bake_minutes]
    for spec in baking:
        world.ecs.update_service(cluster=CLUSTER, service=spec.name, deploymentConfiguration={
            "strategy": "BLUE_GREEN", "bakeTimeInMinutes": spec.bake_minutes})
        world.ecs.update_service(cluster=CLUSTER, service=spec.name, forceNewDeployment=True)

    def stage(name: str) -> str:
        arn = world.ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0][
            "currentServiceDeployment"]
        return world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"][0].get("lifecycleStage", "")

    if baking:
        world.wait_for(lambda: all(stage(s.name) == "BAKE_TIME" for s in baking),
                       "blue/green services baking")


def _vpc_subnets(aws: Clients, azs: int) -> list[str]:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                              AvailabilityZone=zone)["Subnet"]["SubnetId"]
            for i, zone in enumerate(ZONES[:azs])]


def _launch_template(aws: Clients, name: str, instance_type: str) -> None:
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={CLUSTER} >> /etc/ecs/ecs.config\n"
    aws("ec2").create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": ECS_AMI, "InstanceType": instance_type,
        "UserData": base64.b64encode(user_data.encode()).decode()})


def _group(aws: Clients, group: GroupSpec, subnets: list[str]) -> None:
    _launch_template(aws, group.name, group.instance_type)
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=group.name, MinSize=0, MaxSize=group.grown + 3,
        DesiredCapacity=group.initial, VPCZoneIdentifier=",".join(subnets),
        LaunchTemplate={"LaunchTemplateName": group.name, "Version": "$Latest"})


def _capacity_providers(aws: Clients, groups: tuple[GroupSpec, ...]) -> None:
    """One provider per group, no managed scaling (the sequence resizes the groups itself);
    managed draining is left at its default (ENABLED), so a scale-in drains first. The
    cluster's default strategy spreads over all of them with equal weights."""
    asg = aws("autoscaling")
    for group in groups:
        arn = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group.name])[
            "AutoScalingGroups"][0]["AutoScalingGroupARN"]
        aws("ecs").create_capacity_provider(name=group.name, autoScalingGroupProvider={
            "autoScalingGroupArn": arn, "managedScaling": {"status": "DISABLED"}})
    aws("ecs").put_cluster_capacity_providers(
        cluster=CLUSTER, capacityProviders=[g.name for g in groups],
        defaultCapacityProviderStrategy=[{"capacityProvider": g.name, "weight": 1}
                                         for g in groups])


def _service(aws: Clients, spec: ServiceSpec, providers: bool, subnets: list[str]) -> None:
    """``providers``: the cluster has capacity providers; a service that names none then uses
    the cluster's default strategy ("If no capacityProviderStrategy or launchType is
    specified, the defaultCapacityProviderStrategy for the cluster is used", API). An awsvpc
    service runs in every subnet of the cluster (one per AZ) with its container port only."""
    port = {"containerPort": 80, "hostPort": spec.host_port or 0, "protocol": "tcp"}
    network: dict[str, Any] = {}
    if spec.awsvpc:
        port = {"containerPort": 80, "protocol": "tcp"}
        network = {"networkConfiguration": {"awsvpcConfiguration": {"subnets": subnets}}}
    aws("ecs").register_task_definition(family=spec.name,
                                        networkMode="awsvpc" if spec.awsvpc else "bridge",
                                        containerDefinitions=[{
                                            "name": "app", "image": "nginx:1.27",
                                            "cpu": spec.cpu, "memory": spec.memory,
                                            "essential": True, "portMappings": [port]}])
    where: dict[str, Any] = {} if providers else {"launchType": "EC2"}
    if spec.providers:
        where = {"capacityProviderStrategy": spec.strategy_items}
    aws("ecs").create_service(
        cluster=CLUSTER, serviceName=spec.name, taskDefinition=spec.name,
        desiredCount=spec.desired, placementStrategy=spec.placement,
        deploymentConfiguration={"minimumHealthyPercent": spec.min_healthy,
                                 "maximumPercent": spec.max_percent},
        availabilityZoneRebalancing=spec.az_rebalancing, **where, **network)


def _protect_user_tasks(world: World, rng: random.Random) -> None:
    """The "user" protects some tasks (as a task does through the agent endpoint)."""
    for spec in world.scenario.services:
        if not spec.protect:
            continue
        arns = sorted(world.task_arns(spec.name, desiredStatus="RUNNING"))
        chosen = rng.sample(arns, min(spec.protect, len(arns)))
        world.ecs.update_task_protection(cluster=CLUSTER, tasks=chosen, protectionEnabled=True,
                                         expiresInMinutes=world.scenario.user_protection_minutes)
        world.user_protected |= set(chosen)
