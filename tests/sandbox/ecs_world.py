"""A small world for the ECS tests: a VPC with one subnet per AZ, ECS instances launched the
way a user does it (run_instances with UserData ECS_CLUSTER=...), and views of the result.

Everything goes through boto3 against the in-process sandbox; time moves only through
``sandbox.advance``.
"""

from __future__ import annotations

from collections import Counter

ECS_AMI = "ami-0d75e18107f482a72"  # amzn2-ami-ecs-kernel-5.10-hvm (in moto's catalogue)
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")


def user_data(cluster: str, *extra: str) -> str:
    lines = ["#!/bin/bash", f"echo ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config"]
    lines += [f"echo '{line}' >> /etc/ecs/ecs.config" for line in extra]
    return "\n".join(lines) + "\n"


class World:
    def __init__(self, sandbox, aws, cluster: str = "demo", azs=AZS[:2]):
        self.sb = sandbox
        self.ec2 = aws("ec2")
        self.ecs = aws("ecs")
        self.cluster = cluster
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.vpc = vpc
        self.subnets = {}
        for i, az in enumerate(AZS):
            self.subnets[az] = self.ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
        self.ecs.create_cluster(clusterName=cluster)

    # ------------------------------------------------------------- instances
    def launch(self, az: str, instance_type: str = "m5.large", *extra: str,
               cluster: str | None = None) -> str:
        r = self.ec2.run_instances(ImageId=ECS_AMI, MinCount=1, MaxCount=1,
                                   InstanceType=instance_type, SubnetId=self.subnets[az],
                                   UserData=user_data(cluster or self.cluster, *extra))
        return r["Instances"][0]["InstanceId"]

    def boot(self) -> None:
        """Let every launched instance's agent register."""
        self.sb.advance(self.sb.config.agent_boot_seconds + 1)

    def instances(self, status: str | None = None) -> list[dict]:
        kw = {"status": status} if status else {}
        arns = self.ecs.list_container_instances(cluster=self.cluster, **kw)[
            "containerInstanceArns"]
        if not arns:
            return []
        return self.ecs.describe_container_instances(cluster=self.cluster,
                                                     containerInstances=arns)[
            "containerInstances"]

    def instance(self, ec2_id: str) -> dict:
        return next(ci for ci in self.instances() if ci["ec2InstanceId"] == ec2_id)

    # ------------------------------------------------------- task definitions
    def task_definition(self, family: str = "web", cpu: int = 256, memory: int = 512,
                        ports=({"containerPort": 80},), **extra) -> str:
        td = self.ecs.register_task_definition(
            family=family, containerDefinitions=[{
                "name": family, "image": "nginx:1.27", "cpu": cpu, "memory": memory,
                "portMappings": [dict(p) for p in ports]}], **extra)["taskDefinition"]
        return f"{td['family']}:{td['revision']}"

    def service(self, name: str, count: int, td: str | None = None, **kw) -> dict:
        td = td or self.task_definition()
        return self.ecs.create_service(cluster=self.cluster, serviceName=name,
                                       taskDefinition=td, desiredCount=count, **kw)["service"]

    def describe_service(self, name: str) -> dict:
        return self.ecs.describe_services(cluster=self.cluster, services=[name])["services"][0]

    # -------------------------------------------------------------- views
    def tasks(self, service: str | None = None, desired: str = "RUNNING", **kw) -> list[dict]:
        if service:
            kw["serviceName"] = service
        arns = []
        token = None
        while True:
            page = self.ecs.list_tasks(cluster=self.cluster, desiredStatus=desired,
                                       **kw, **({"nextToken": token} if token else {}))
            arns += page["taskArns"]
            token = page.get("nextToken")
            if not token:
                break
        out = []
        for i in range(0, len(arns), 100):
            out += self.ecs.describe_tasks(cluster=self.cluster, tasks=arns[i:i + 100])["tasks"]
        return out

    def by_instance(self, service: str) -> Counter:
        """Live tasks of the service per EC2 instance id."""
        tasks = self.tasks(service)
        arns = sorted({t["containerInstanceArn"] for t in tasks})
        ec2_of = {ci["containerInstanceArn"]: ci["ec2InstanceId"] for ci in (
            self.ecs.describe_container_instances(cluster=self.cluster, containerInstances=arns)[
                "containerInstances"] if arns else [])}
        return Counter(ec2_of[t["containerInstanceArn"]] for t in tasks)

    def by_az(self, service: str) -> Counter:
        return Counter(t["availabilityZone"] for t in self.tasks(service))

    def messages(self, service: str) -> list[str]:
        return [e["message"] for e in self.describe_service(service)["events"]]

    def settle(self, seconds: float = 120) -> None:
        self.sb.advance(seconds)

    def events(self, detail_type: str | None = None) -> list[dict]:
        return [e for e in self.sb.ecs.emitted
                if detail_type is None or e["detail-type"] == detail_type]
