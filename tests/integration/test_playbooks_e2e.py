"""The four playbooks end to end against one fresh sandbox subprocess.

deploy -> validate (stage 1: scale in, scale out, the rebalancer moves tasks back, the site stays up;
stage 2: ECS's AZ rebalancing and the rebalancer together; PASS 17 of 17; a PNG picture of
every observation in .sandbox/e2e-pictures/) ->
rebalance (check mode, then for real: nothing to move) -> boto3 checks of the final spread ->
teardown twice (the second changes nothing) -> boto3 checks that nothing is left behind.

The tests of this module share one sandbox and run in file order; each stage depends on the
one before it, so a failed deploy skips what needs the stack (teardown and the leftover checks
still run). Every ansible-playbook output goes to .sandbox/e2e-<step>.log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from sandbox.process import BIN, ROOT, ansible_env, sandbox_server

pytestmark = pytest.mark.e2e

CLUSTER = "taskspread-demo"
SERVICE = "sample-app"
PLAYBOOK_TIMEOUT = 900
STAGES = ("baseline", "after scale-in", "after scale-out", "stage 2, one instance",
          "stage 2, after scale-out")
PICTURES = ROOT / ".sandbox" / "e2e-pictures"
RECAP = re.compile(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class Stack:
    """The sandbox endpoint, the playbook environment and what the earlier stages left."""

    def __init__(self, endpoint: str, env: dict[str, str], build_dir: Path):
        self.endpoint = endpoint
        self.env = env
        self.build_dir = build_dir
        self.deployed = False
        self.validated = False

    def playbook(self, step: str, name: str, *args: str) -> tuple[int, str]:
        """Run playbooks/<name>.yml; write the whole output to .sandbox/e2e-<step>.log."""
        command = [str(BIN / "ansible-playbook"), f"playbooks/{name}.yml",
                   "-e", f"rebalancer_build_dir={self.build_dir}", *args]
        try:
            result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True,
                                    text=True, timeout=PLAYBOOK_TIMEOUT)
            returncode, output = result.returncode, result.stdout + result.stderr
        except subprocess.TimeoutExpired as exc:
            returncode = None
            output = "".join(part.decode() if isinstance(part, bytes) else (part or "")
                             for part in (exc.stdout, exc.stderr))
            output += f"\n[timed out after {PLAYBOOK_TIMEOUT} s]"
        (ROOT / ".sandbox" / f"e2e-{step}.log").write_text(f"$ {' '.join(command)}\n{output}")
        return returncode, output

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


def tail(output: str, chars: int = 4000) -> str:
    return output[-chars:]


def recap(output: str) -> dict[str, int]:
    matches = RECAP.findall(output)
    assert matches, f"no PLAY RECAP for localhost in the output:\n{tail(output)}"
    ok, changed, unreachable, failed = map(int, matches[-1])
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def assert_succeeded(step: str, returncode: int | None, output: str) -> dict[str, int]:
    assert returncode == 0, f"{step}: ansible-playbook exited with {returncode}:\n{tail(output)}"
    counts = recap(output)
    assert counts["failed"] == 0 and counts["unreachable"] == 0, \
        f"{step}: recap {counts}:\n{tail(output)}"
    return counts


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # A build directory of its own: the rebalancer role's package would otherwise sit in
    # ~/.cache, shared with other runs on this machine (and teardown must remove it).
    build_dir = tmp_path_factory.mktemp("build")
    with sandbox_server(speed=50) as endpoint:
        yield Stack(endpoint, ansible_env(endpoint), build_dir)


def test_deploy(stack):
    code, out = stack.playbook("deploy", "deploy")
    assert_succeeded("deploy", code, out)
    assert "app URL:" in out, tail(out)
    assert f"cluster: {CLUSTER}" in out, tail(out)
    stack.deployed = True


def test_validate(stack):
    if not stack.deployed:
        pytest.skip("deploy failed")
    shutil.rmtree(PICTURES, ignore_errors=True)
    code, out = stack.playbook("validate", "validate", "-e", f"validate_pictures_dir={PICTURES}")
    assert_succeeded("validate", code, out)
    assert "PASS: 17 of 17 checks passed" in out, tail(out)
    # Stage 2: ECS's own AZ rebalancing and the rebalancer, each on its own level.
    assert re.search(r"ok\s+stage 2: ECS rebalanced the AZs itself", out), tail(out)
    assert re.search(r"ok\s+stage 2: every move of the rebalancer stayed inside its AZ \(\d+ "
                     r"move\(s\), 0 across", out), tail(out)
    assert re.search(r"Stage 1 \(the seed\): ECS'?'s own Availability Zone rebalancing is\s+DISABLED",
                     out), tail(out)
    # The summary repeats the stage tables: each title line, then the service's rows.
    for stage in STAGES:
        assert re.search(rf"^\s*-\s+'?{re.escape(stage)}'?\s*\n\s*-\s+'?service {SERVICE}:'?\s*$",
                         out, re.MULTILINE), f"no table for stage {stage!r}:\n{tail(out)}"
    # A picture per observation, in order, each a PNG of a sane size showing its stage; the
    # summary lists their paths.
    names = [f"{n:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', stage)}.png"
             for n, stage in enumerate(STAGES, start=1)]
    assert sorted(p.name for p in PICTURES.iterdir()) == names
    for stage, name in zip(STAGES, names):
        with Image.open(PICTURES / name) as image:
            assert image.format == "PNG", name
            assert 700 <= image.width <= 2000 and 350 <= image.height <= 2000, (name, image.size)
            text = image.text["Description"].splitlines()
        assert text[:2] == [f"ECS cluster {CLUSTER}", f"validate.yml: {stage}"], (name, text)
        assert f"service {SERVICE}:" in text, (name, text)
        assert re.search(rf"picture {re.escape(stage)}: {re.escape(str(PICTURES / name))}'?$",
                         out, re.MULTILINE), f"no path of {name} in the summary:\n{tail(out)}"
    stack.validated = True


def test_rebalance_finds_nothing_to_move(stack):
    if not stack.validated:
        pytest.skip("deploy or validate failed")
    code, out = stack.playbook("rebalance-check", "rebalance", "--check", "-e", f"cluster={CLUSTER}")
    counts = assert_succeeded("rebalance --check", code, out)
    assert counts["changed"] == 0, f"rebalance --check: recap {counts}:\n{tail(out)}"

    code, out = stack.playbook("rebalance", "rebalance", "-e", f"cluster={CLUSTER}")
    counts = assert_succeeded("rebalance", code, out)
    assert "nothing to move" in out, tail(out)
    assert counts["changed"] == 0, f"rebalance: recap {counts}:\n{tail(out)}"


def test_final_distribution(stack):
    if not stack.validated:
        pytest.skip("deploy or validate failed")
    ecs = stack.client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE,
                          desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
    running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
    assert len(running) == 2, [(t["taskArn"], t["lastStatus"]) for t in tasks]

    instance_arns = sorted({t["containerInstanceArn"] for t in running})
    assert len(instance_arns) == 2, f"both tasks on {instance_arns}"
    instances = ecs.describe_container_instances(cluster=CLUSTER,
                                                 containerInstances=instance_arns)
    assert not instances["failures"], instances["failures"]
    zones = {ci["containerInstanceArn"]: next(a["value"] for a in ci["attributes"]
                                              if a["name"] == "ecs.availability-zone")
             for ci in instances["containerInstances"]}
    assert len(set(zones.values())) == 2, f"tasks' instances are in {zones}"


def test_deployed_stack_passes_the_security_checks(stack):
    """Issue 6.5: no wildcard actions or PassRole on *, no open ingress but the ALB's
    listener, no public artifact bucket, no IMDSv1 (read back after validate, so the
    instance launched at scale-out is checked too)."""
    if not stack.deployed:
        pytest.skip("deploy failed")
    from security_checks import findings

    assert findings(stack.client) == []


def test_teardown_twice(stack):
    code, out = stack.playbook("teardown-1", "teardown")
    assert_succeeded("teardown (first)", code, out)

    code, out = stack.playbook("teardown-2", "teardown")
    counts = assert_succeeded("teardown (second)", code, out)
    assert counts["changed"] == 0, f"teardown (second): recap {counts}:\n{tail(out)}"


def _missing(call, *codes: str) -> bool:
    try:
        call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in codes:
            return True
        raise
    return False


def test_nothing_left_behind(stack):
    left: list[str] = []

    functions = [f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]]
    if functions:
        left.append(f"Lambda functions {functions}")

    rules = [r["Name"] for r in stack.client("events").list_rules(NamePrefix=CLUSTER)["Rules"]]
    if rules:
        left.append(f"EventBridge rules {rules}")

    iam = stack.client("iam")
    for role in (f"{CLUSTER}-rebalancer", f"{CLUSTER}-ecs-instance"):
        if not _missing(lambda: iam.get_role(RoleName=role), "NoSuchEntity"):
            left.append(f"IAM role {role}")
    profile = f"{CLUSTER}-ecs-instance"
    if not _missing(lambda: iam.get_instance_profile(InstanceProfileName=profile), "NoSuchEntity"):
        left.append(f"IAM instance profile {profile}")

    buckets = [b["Name"] for b in stack.client("s3").list_buckets().get("Buckets", [])
               if b["Name"].startswith("taskspread-")]
    if buckets:
        left.append(f"S3 buckets {buckets}")

    logs = stack.client("logs")
    for prefix in (f"/aws/lambda/{CLUSTER}", f"/ecs/{SERVICE}"):
        groups = [g["logGroupName"]
                  for g in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]
        if groups:
            left.append(f"log groups {groups}")

    ecs = stack.client("ecs")
    clusters = [c for c in ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
                if c["status"] != "INACTIVE"]
    if clusters:
        left.append(f"ECS cluster {CLUSTER} ({clusters[0]['status']})")
        services = ecs.list_services(cluster=CLUSTER)["serviceArns"]
        active = [s["serviceName"] for s in
                  (ecs.describe_services(cluster=CLUSTER, services=services)["services"]
                   if services else []) if s["status"] == "ACTIVE"]
        if active:
            left.append(f"ACTIVE ECS services {active}")
    families = ecs.list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")["taskDefinitionArns"]
    if families:
        left.append(f"ACTIVE task definitions {families}")

    elb = stack.client("elbv2")
    lbs = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    if lbs:
        left.append(f"load balancers {lbs}")
    tgs = [tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"]]
    if tgs:
        left.append(f"target groups {tgs}")

    asgs = [g["AutoScalingGroupName"] for g in
            stack.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]]
    if asgs:
        left.append(f"Auto Scaling groups {asgs}")

    ec2 = stack.client("ec2")
    templates = ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [CLUSTER]}])["LaunchTemplates"]
    if templates:
        left.append(f"launch template {CLUSTER}")
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.42.0.0/16"]}])["Vpcs"] if not v.get("IsDefault")]
    if vpcs:
        left.append(f"VPCs with CIDR 10.42.0.0/16 {vpcs}")
    instances = [i["InstanceId"]
                 for r in ec2.describe_instances(Filters=[{"Name": "instance-state-name",
                                                           "Values": ["running", "pending"]}])
                 ["Reservations"] for i in r["Instances"]]
    if instances:
        left.append(f"EC2 instances running or pending {instances}")

    package = stack.build_dir / f"{CLUSTER}-rebalancer.zip"
    if package.exists():
        left.append(f"local package {package}")

    assert not left, "left behind after teardown:\n" + "\n".join(left)
