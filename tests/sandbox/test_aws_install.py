"""install/uninstall of the moto patches, and IAM's AWS managed policies."""

from __future__ import annotations

import json

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.awslambda.models import LambdaFunction
from moto.cloudwatch.models import CloudWatchBackend
from moto.elbv2.models import FakeTargetGroup
from moto.events.models import Rule
from moto.iam.models import IAMBackend
from moto.logs.models import LogsBackend

import sandbox.aws as sandbox_aws

ORIGINALS = {
    (FakeTargetGroup, "register"): FakeTargetGroup.__dict__.get("register"),
    (Rule, "send_to_targets"): Rule.__dict__.get("send_to_targets"),
    (LambdaFunction, "invoke"): LambdaFunction.__dict__.get("invoke"),
    (FakeAutoScalingGroup, "set_desired_capacity"):
        FakeAutoScalingGroup.__dict__.get("set_desired_capacity"),
    (IAMBackend, "_init_aws_policies"): IAMBackend.__dict__.get("_init_aws_policies"),
    (LogsBackend, "put_log_events"): LogsBackend.__dict__.get("put_log_events"),
    (CloudWatchBackend, "put_metric_alarm"): CloudWatchBackend.__dict__.get("put_metric_alarm"),
}


def current():
    return {key: key[0].__dict__.get(key[1]) for key in ORIGINALS}


def test_install_is_idempotent_and_uninstall_restores_moto():
    from sandbox.server import Sandbox

    assert sandbox_aws.active() is None
    sb = Sandbox(speed=None, port=0)  # __init__ installs
    try:
        patched = current()
        assert all(patched[key] is not ORIGINALS[key] for key in ORIGINALS)
        assert "disable_metrics_collection" in AutoScalingResponse.__dict__
        sandbox_aws.install(sb)
        assert current() == patched and sandbox_aws.active() is sb
    finally:
        sb.stop()
    assert sandbox_aws.active() is None
    assert current() == ORIGINALS
    assert "disable_metrics_collection" not in AutoScalingResponse.__dict__


def test_aws_managed_policy_can_be_attached(aws):
    iam = aws("iam")
    iam.create_role(RoleName="ecs-instance", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}))
    arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
    iam.attach_role_policy(RoleName="ecs-instance", PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName="ecs-instance")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonEC2ContainerServiceforEC2Role", "PolicyArn": arn}]
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["AttachmentCount"] == 1
