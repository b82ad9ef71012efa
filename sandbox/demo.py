"""The two demos on a live sandbox.

``python -m sandbox demo`` (what ``make demo`` runs): serves the sandbox, then runs the
collection's own playbooks against it, exactly as a user would against AWS: ``deploy.yml``
(cluster, ALB, sample app, rebalancer Lambda) and ``validate.yml`` (scale in, scale out, the
rebalancer moves tasks back; tables at every stage and PASS/FAIL). ``--keep`` keeps serving
afterwards so you can explore with the AWS CLI or ansible; Ctrl-C stops it.

``python -m sandbox walkthrough``: the problem without taskspread: the seed scenario built
through boto3, scaled down and up, showing the empty new instance ECS leaves behind.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from .process import ROOT, ansible_env

from .scenario import (Clients, Driver, Seed, build_seed, counts, create_service, distribution,
                       format_table, running_count)


def active_instances(aws: Clients, cluster: str) -> int:
    return len(aws("ecs").list_container_instances(cluster=cluster,
                                                   status="ACTIVE")["containerInstanceArns"])


def run(endpoint: str, speed: float, seed: Seed | None = None, out=print) -> dict:
    aws = Clients(endpoint)
    driver = Driver(speed=speed)
    seed = build_seed(aws, seed)
    stages = {}

    def settled(instances: int) -> bool:
        return (active_instances(aws, seed.cluster) == instances
                and running_count(aws, seed.cluster, seed.service) == seed.tasks)

    def stage(name: str, title: str) -> None:
        stages[name] = distribution(aws, seed.cluster, seed.service)
        out(format_table(title, stages[name]) + "\n")

    driver.wait_for(lambda: active_instances(aws, seed.cluster) == seed.instances, 300,
                    what="container instances registered")
    create_service(aws, seed)
    driver.wait_for(lambda: settled(seed.instances), 300, what="service running")
    stage("baseline", f"1. Baseline: {seed.instances} instances, {seed.tasks} tasks")

    asg = aws("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances - 1)
    driver.wait_for(lambda: settled(seed.instances - 1), 600, what="scale-down settled")
    stage("scaled_down", f"2. Auto Scaling group to {seed.instances - 1}: ECS replaced the lost "
                         "tasks on the survivors")

    asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances)
    driver.wait_for(lambda: settled(seed.instances), 600, what="scale-up settled")
    stage("scaled_up", f"3. Auto Scaling group back to {seed.instances}: the new instance stays "
                       "empty; ECS never moves running tasks")
    skew = counts(stages["scaled_up"])
    out(f"Skew after scale-up: {max(skew) - min(skew)} (max {max(skew)}, min {min(skew)} tasks "
        "per instance). This is what taskspread.ecs rebalances.")
    return stages


def walkthrough(port: int, speed: float) -> int:
    from .server import Sandbox

    with Sandbox(speed=speed, port=port) as sandbox:
        print(f"sandbox on {sandbox.endpoint} (speed x{speed:g})\n")
        run(sandbox.endpoint, speed)
    return 0


def run_playbook(name: str, endpoint: str, *args: str) -> int:
    command = [str(Path(sys.executable).parent / "ansible-playbook"),
               str(ROOT / "playbooks" / f"{name}.yml"), *args]
    print(f"\n$ AWS_ENDPOINT_URL={endpoint} ansible-playbook playbooks/{name}.yml "
          f"{' '.join(args)}".rstrip(), flush=True)
    return subprocess.run(command, cwd=ROOT, env=ansible_env(endpoint, color=True),
                          check=False).returncode


def main(port: int, speed: float, keep: bool = False) -> int:
    from .config import SandboxConfig
    from .server import Sandbox

    with Sandbox(config=SandboxConfig(data_plane=True), speed=speed, port=port) as sandbox:
        print(f"sandbox on {sandbox.endpoint} (speed x{speed:g})", flush=True)
        code = run_playbook("deploy", sandbox.endpoint)
        if code == 0:
            code = run_playbook("validate", sandbox.endpoint)
        print(f"\ndemo {'PASSED' if code == 0 else 'FAILED'} (deploy + validate on the sandbox)",
              flush=True)
        if keep:
            print(f"sandbox still serving on {sandbox.endpoint}; Ctrl-C stops it", flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass
    return code
