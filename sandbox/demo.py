"""``python -m sandbox demo``: the reference walkthrough (scale down, scale up) on a live sandbox.

It serves the sandbox on the given port (so you can look with the AWS CLI while it runs), builds
the seed scenario through boto3 and prints the task distribution at each stage.
"""

from __future__ import annotations

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


def main(port: int, speed: float) -> int:
    from .server import Sandbox

    with Sandbox(speed=speed, port=port) as sandbox:
        print(f"sandbox on {sandbox.endpoint} (speed x{speed:g})\n")
        run(sandbox.endpoint, speed)
    return 0
