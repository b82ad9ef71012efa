"""Security checks of a deployed taskspread stack, read back through the AWS APIs (issue 6.5).

``findings(aws, stack)`` returns a list of strings, one per problem, empty when clean:

* IAM: any policy of the stack's roles (inline or customer-managed) that allows an action
  containing ``*``, or ``iam:PassRole`` on ``Resource: "*"``. AWS-managed policies
  (``arn:aws:iam::aws:policy/...``) are the exception the cluster role is specified with
  (AmazonEC2ContainerServiceforEC2Role carries ``ecs:Submit*``, which AWS maintains as the ECS
  agent grows); they are listed by ``aws_managed`` so a report can show them;
* security groups of the stack's VPC: ingress from 0.0.0.0/0 or ::/0 to anything other than
  the load balancer's listener port on the load balancer's group;
* S3: an artifact bucket without a full public access block, or with a public ACL grant;
* EC2: a launch template or a running instance that allows IMDSv1 (HttpTokens != required).

Works against the sandbox or AWS (boto3 only), so it can run after any deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import unquote

PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                 "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Stack:
    name: str = "taskspread-demo"
    roles: tuple[str, ...] = ("taskspread-demo-ecs-instance", "taskspread-demo-rebalancer")
    alb_group: str = "taskspread-demo-alb"
    listener_port: int = 80
    bucket_prefix: str = "taskspread-"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _document(raw) -> dict:
    return json.loads(unquote(raw)) if isinstance(raw, str) else raw


def policy_findings(where: str, document: dict) -> list[str]:
    out = []
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        for action in actions:
            if "*" in action:
                out.append(f"{where}: wildcard action {action!r}")
            if action.lower() in ("iam:passrole", "iam:*", "*") and "*" in resources:
                out.append(f"{where}: {action} on any resource")
        if "NotAction" in statement:
            out.append(f"{where}: Allow with NotAction")
    return out


def aws_managed(arn: str) -> bool:
    return arn.split(":")[4:5] == ["aws"] and ":policy/" in arn


def iam_findings(iam, roles: Iterable[str]) -> list[str]:
    out = []
    for role in roles:
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            out += policy_findings(f"role {role} inline policy {name}", _document(doc))
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            if aws_managed(attached["PolicyArn"]):
                continue
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                             VersionId=policy["DefaultVersionId"])
            out += policy_findings(f"role {role} policy {attached['PolicyName']}",
                                   _document(version["PolicyVersion"]["Document"]))
    return out


def group_findings(groups: list[dict], alb_group: str, listener_port: int) -> list[str]:
    out = []
    for group in groups:
        for rule in group.get("IpPermissions", []):
            open_to = [r["CidrIp"] for r in rule.get("IpRanges", []) if r["CidrIp"] in OPEN_CIDRS]
            open_to += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])
                        if r["CidrIpv6"] in OPEN_CIDRS]
            if not open_to:
                continue
            ports = (rule.get("FromPort"), rule.get("ToPort"))
            allowed = (group["GroupName"] == alb_group and rule.get("IpProtocol") == "tcp"
                       and ports == (listener_port, listener_port))
            if not allowed:
                out.append(f"security group {group['GroupName']}: {rule.get('IpProtocol')} "
                           f"ports {ports[0]}-{ports[1]} open to {', '.join(open_to)}")
    return out


def bucket_findings(s3, prefix: str) -> list[str]:
    out = []
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        if not name.startswith(prefix):
            continue
        try:
            block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        except s3.exceptions.ClientError:
            block = {}
        missing = [k for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                               "RestrictPublicBuckets") if not block.get(k)]
        if missing:
            out.append(f"bucket {name}: public access not blocked ({', '.join(missing)})")
        for grant in s3.get_bucket_acl(Bucket=name).get("Grants", []):
            if grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS:
                out.append(f"bucket {name}: ACL grants {grant['Permission']} to "
                           f"{grant['Grantee']['URI'].rsplit('/', 1)[-1]}")
    return out


def imds_findings(ec2, stack_name: str) -> list[str]:
    out = []
    templates = ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [stack_name]}])["LaunchTemplates"]
    for template in templates:
        versions = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"])["LaunchTemplateVersions"]
        for version in versions:
            tokens = version["LaunchTemplateData"].get("MetadataOptions", {}).get("HttpTokens")
            if tokens != "required":
                out.append(f"launch template {stack_name} v{version['VersionNumber']}: "
                           f"IMDSv1 allowed (HttpTokens={tokens})")
    reservations = ec2.describe_instances(Filters=[
        {"Name": "tag:taskspread:cluster", "Values": [stack_name]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    for instance in (i for r in reservations for i in r["Instances"]):
        tokens = instance.get("MetadataOptions", {}).get("HttpTokens")
        if tokens != "required":
            out.append(f"instance {instance['InstanceId']}: IMDSv1 allowed (HttpTokens={tokens})")
    return out


def findings(aws: Callable[[str], object], stack: Stack = Stack()) -> list[str]:
    """``aws(service)`` returns a boto3 client (e.g. ``sandbox.scenario.Clients``)."""
    ec2 = aws("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [stack.name]}])["Vpcs"]
    groups = []
    for vpc in vpcs:
        groups += ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    return (iam_findings(aws("iam"), stack.roles)
            + group_findings(groups, stack.alb_group, stack.listener_port)
            + bucket_findings(aws("s3"), stack.bucket_prefix)
            + imds_findings(ec2, stack.name))
