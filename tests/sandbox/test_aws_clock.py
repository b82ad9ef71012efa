"""One clock: ECS, EC2, Auto Scaling, CloudWatch Logs and the Lambda runner share Runtime.now()."""

from __future__ import annotations

import base64
import calendar
import io
import json
import time
import zipfile

from sandbox.aws import clock, lambda_runner
from sandbox.runtime import Runtime

HOUR = 3600
HANDLER = ("import json\n"
           "def handler(event, context):\n"
           "    print('EVENT ' + json.dumps(event.get('detail', event), sort_keys=True))\n"
           "    return 'ok'\n")
USER_DATA = "#!/bin/bash\necho ECS_CLUSTER=demo >> /etc/ecs/ecs.config\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buf.getvalue()


def _function(aws) -> str:
    role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return aws("lambda").create_function(FunctionName="gate", Runtime="python3.11", Role=role,
                                         Handler="app.handler",
                                         Code={"ZipFile": _zip()})["FunctionArn"]


def _group(aws) -> None:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ec2.create_launch_template(LaunchTemplateName="ecs", LaunchTemplateData={
        "ImageId": "ami-0d75e18107f482a72", "InstanceType": "m5.large",
        "UserData": base64.b64encode(USER_DATA.encode()).decode()})
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="asg", MinSize=0, MaxSize=2, DesiredCapacity=1,
        VPCZoneIdentifier=subnet, LaunchTemplate={"LaunchTemplateName": "ecs",
                                                  "Version": "$Latest"})


def _log_events(aws, **kwargs) -> list[dict]:
    return aws("logs").filter_log_events(logGroupName="/aws/lambda/gate", **kwargs)["events"]


def test_runtime_starts_at_the_wall_clock_unless_given_an_epoch():
    """One clock starting at the wall-clock time the sandbox starts (whole seconds); tests may
    pin a fixed epoch."""
    assert abs(Runtime().now() - time.time()) < 2
    assert Runtime().now() == int(Runtime().now())
    fixed = Runtime(epoch=1740823200)
    assert fixed.now() == 1740823200
    assert fixed.advance(60) == 1740823260


def test_every_service_stamps_with_the_sandbox_clock(sandbox, aws):
    """AWS stamps EC2 LaunchTime, Auto Scaling activity StartTime, ECS task startedAt and
    CloudWatch Logs event timestamps from one time line: an hour advanced on the emulated clock
    shows in all of them alike (within a second), not on the wall clock."""
    aws("ecs").create_cluster(clusterName="demo")
    sandbox.advance(HOUR)
    launched_at = sandbox.now()
    assert launched_at - time.time() > HOUR - 60         # the emulated clock is an hour ahead
    _group(aws)
    instance = aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["asg"])["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    launch_time = aws("ec2").describe_instances(InstanceIds=[instance])[
        "Reservations"][0]["Instances"][0]["LaunchTime"].timestamp()
    [activity] = aws("autoscaling").describe_scaling_activities(
        AutoScalingGroupName="asg")["Activities"]
    assert abs(launch_time - launched_at) < 1
    assert abs(activity["StartTime"].timestamp() - launched_at) < 1

    sandbox.advance(sandbox.config.agent_boot_seconds + 1)
    ecs = aws("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx", "cpu": 128, "memory": 128}])
    arn = ecs.run_task(cluster="demo", taskDefinition="web")["tasks"][0]["taskArn"]
    submitted = sandbox.now()
    sandbox.advance(30)
    task = ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING"
    assert abs(task["startedAt"].timestamp()
               - (submitted + sandbox.config.task_pending_seconds)) < 1

    _function(aws)
    invoked_at = sandbox.now()
    aws("lambda").invoke(FunctionName="gate", Payload=json.dumps({"x": 1}))
    stamps = [e["timestamp"] / 1000 for e in _log_events(aws)]
    assert len(stamps) >= 4 and all(abs(s - invoked_at) < 1 for s in stamps)


def test_log_of_the_invocation_an_ecs_event_triggered_starts_at_the_event_time(sandbox, aws):
    """EventBridge delivers the ECS Task State Change to the rebalancer Lambda; `filter_log_events
    --start-time <event time>` finds that invocation's lines and not an earlier invocation's."""
    arn = _function(aws)
    aws("lambda").invoke(FunctionName="gate", Payload=json.dumps({"x": "earlier"}))
    events = aws("events")
    events.put_rule(Name="tasks", EventPattern=json.dumps({
        "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
        "detail": {"lastStatus": ["RUNNING"]}}))
    events.put_targets(Rule="tasks", Targets=[{"Id": "1", "Arn": arn}])
    aws("ecs").create_cluster(clusterName="demo")
    sandbox.advance(600)
    _group(aws)
    sandbox.advance(sandbox.config.agent_boot_seconds + 1)
    ecs = aws("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx", "cpu": 128, "memory": 128}])
    task_arn = ecs.run_task(cluster="demo", taskDefinition="web")["tasks"][0]["taskArn"]
    sandbox.advance(30)
    assert lambda_runner.wait_idle(sandbox, timeout=60) is True
    running = next(e for e in sandbox.ecs.emitted
                   if e["detail-type"] == "ECS Task State Change"
                   and e["detail"]["lastStatus"] == "RUNNING")
    event_ms = calendar.timegm(time.strptime(running["time"], "%Y-%m-%dT%H:%M:%SZ")) * 1000
    found = [e["message"] for e in _log_events(aws, startTime=event_ms)]
    assert any(m.startswith("EVENT ") and task_arn in m for m in found)
    assert any(m.startswith("START RequestId: ") for m in found)
    assert not any("earlier" in m for m in found)
    assert any("earlier" in e["message"] for e in _log_events(aws))


def test_uninstall_restores_moto_time():
    """While no sandbox is installed moto keeps its own clock (the patches are undone)."""
    from moto.core import utils
    from moto.ec2.models import instances

    from sandbox.server import Sandbox

    sb = Sandbox(speed=None, port=0).start()
    try:
        assert instances.utcnow is clock.utcnow and utils.utcnow is clock.utcnow
    finally:
        sb.stop()
    assert instances.utcnow is clock._ORIGINAL_UTCNOW
    assert utils.utcnow is clock._ORIGINAL_UTCNOW
