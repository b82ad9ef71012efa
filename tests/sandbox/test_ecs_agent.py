"""The emulated ECS agent: EC2 instances with ECS_CLUSTER in their UserData register as
container instances after the boot delay, with the resources and attributes the real agent
reports."""

from __future__ import annotations

import base64
import gzip

import pytest

from sandbox.ecs.controllers import agent

from ecs_world import ECS_AMI, World


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def test_registration_after_boot_delay(world, sandbox):
    a = world.launch("us-east-1a", "m5.large")
    sandbox.advance(sandbox.config.agent_boot_seconds - 1)
    assert world.instances() == []
    sandbox.advance(2)
    ci = world.instance(a)
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is True
    res = {r["name"]: r for r in ci["registeredResources"]}
    assert res["CPU"]["integerValue"] == 2048           # 2 vCPUs x 1024
    assert res["MEMORY"]["integerValue"] == 7680
    assert res["PORTS"]["stringSetValue"] == ["22", "2375", "2376", "51678", "51679"]
    assert res["PORTS_UDP"]["stringSetValue"] == []
    attrs = {x["name"]: x.get("value") for x in ci["attributes"]}
    inst = world.ec2.describe_instances(InstanceIds=[a])["Reservations"][0]["Instances"][0]
    assert attrs["ecs.availability-zone"] == "us-east-1a"
    assert attrs["ecs.instance-type"] == "m5.large"
    assert attrs["ecs.ami-id"] == ECS_AMI
    assert attrs["ecs.os-type"] == "linux" and attrs["ecs.os-family"] == "LINUX"
    assert attrs["ecs.cpu-architecture"] == "x86_64"
    assert attrs["ecs.vpc-id"] == inst["VpcId"] == world.vpc
    assert attrs["ecs.subnet-id"] == world.subnets["us-east-1a"]
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.44" in attrs
    assert ci["versionInfo"]["agentVersion"] == sandbox.config.agent_version
    assert ci["containerInstanceArn"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:container-instance/demo/")
    cluster = world.ecs.describe_clusters(clusters=["demo"])["clusters"][0]
    assert cluster["registeredContainerInstancesCount"] == 1


@pytest.mark.parametrize("itype,cpu,memory", [
    ("m3.medium", 1024, 3768), ("t3.medium", 2048, 3884), ("m5.xlarge", 4096, 15576),
    ("t3.small", 2048, int(2048 * 0.95)),
])
def test_resources_by_instance_type(world, itype, cpu, memory):
    i = world.launch("us-east-1a", itype)
    world.boot()
    res = {r["name"]: r["integerValue"] for r in world.instance(i)["registeredResources"]
           if r["type"] == "INTEGER"}
    assert (res["CPU"], res["MEMORY"]) == (cpu, memory)


def test_ecs_config_variables(world):
    i = world.launch("us-east-1b", "m5.large", "ECS_RESERVED_MEMORY=256",
                     "ECS_RESERVED_PORTS=[22, 8080]",
                     'ECS_INSTANCE_ATTRIBUTES={"stack": "prod", "team": "core"}')
    world.boot()
    ci = world.instance(i)
    res = {r["name"]: r for r in ci["registeredResources"]}
    assert res["MEMORY"]["integerValue"] == 7680 - 256
    assert res["PORTS"]["stringSetValue"] == ["22", "8080"]
    attrs = {x["name"]: x.get("value") for x in ci["attributes"]}
    assert (attrs["stack"], attrs["team"]) == ("prod", "core")


def test_instances_without_ecs_cluster_or_for_other_clusters(world):
    world.ec2.run_instances(ImageId=ECS_AMI, MinCount=1, MaxCount=1, InstanceType="m5.large",
                            SubnetId=world.subnets["us-east-1a"], UserData="#!/bin/bash\n")
    world.launch("us-east-1a", cluster="elsewhere")
    world.boot()
    assert world.instances() == []
    # the agent retries until its cluster exists
    world.ecs.create_cluster(clusterName="elsewhere")
    world.sb.advance(world.sb.config.agent_retry_seconds + 1)
    arns = world.ecs.list_container_instances(cluster="elsewhere")["containerInstanceArns"]
    assert len(arns) == 1


def test_terminated_before_boot_never_registers(world):
    i = world.launch("us-east-1a")
    world.sb.advance(5)
    world.ec2.terminate_instances(InstanceIds=[i])
    world.boot()
    assert world.instances() == []


def test_container_instance_events(world):
    a = world.launch("us-east-1a")
    world.boot()
    (registered,) = world.events("ECS Container Instance State Change")
    assert registered["source"] == "aws.ecs" and registered["account"] == "123456789012"
    detail = registered["detail"]
    assert detail["status"] == "ACTIVE" and detail["agentConnected"] is True
    assert detail["ec2InstanceId"] == a and detail["version"] == 1
    assert detail["clusterArn"].endswith(":cluster/demo")
    assert registered["resources"] == [detail["containerInstanceArn"]]
    assert registered["time"].endswith("Z") and len(registered["time"]) == 20
    world.ec2.terminate_instances(InstanceIds=[a])
    world.sb.advance(1)
    last = world.events("ECS Container Instance State Change")[-1]["detail"]
    assert (last["status"], last["agentConnected"], last["version"]) == ("INACTIVE", False, 2)


# ------------------------------------------------------------------ user data forms
SCRIPT = "#!/bin/bash\necho ECS_CLUSTER=prod-1 >> /etc/ecs/ecs.config\n"


@pytest.mark.parametrize("raw", [
    SCRIPT,
    base64.b64encode(SCRIPT.encode()).decode(),
    base64.b64encode(SCRIPT.encode()),
    [base64.b64encode(SCRIPT.encode())],
    base64.b64encode(gzip.compress(SCRIPT.encode())).decode(),
    base64.b64encode((
        'Content-Type: multipart/mixed; boundary="XX"\nMIME-Version: 1.0\n\n--XX\n'
        'Content-Type: text/x-shellscript; charset="us-ascii"\n'
        "Content-Transfer-Encoding: base64\n\n"
        + base64.b64encode(SCRIPT.encode()).decode() + "\n--XX--\n").encode()).decode(),
    "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\n"
    "ECS_CLUSTER=prod-1\nECS_LOGLEVEL=debug\nEOF\n",
    "#!/bin/bash\necho \"ECS_CLUSTER=prod-1\" >> /etc/ecs/ecs.config",
])
def test_user_data_forms(raw):
    class Instance:
        user_data = raw
    assert agent.agent_config(Instance())["ECS_CLUSTER"] == "prod-1"


def test_user_data_attributes_escaped():
    text = 'echo ECS_INSTANCE_ATTRIBUTES={\\"zone\\":\\"x\\"} >> /etc/ecs/ecs.config'
    conf = agent.parse_ecs_config(text)
    assert agent._json_value(conf["ECS_INSTANCE_ATTRIBUTES"]) == {"zone": "x"}
