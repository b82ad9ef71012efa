"""Fixtures for sandbox tests that walk the seed scenario (see sandbox/scenario.py)."""

from __future__ import annotations

import pytest

from sandbox.scenario import (Clients, Driver, build_seed, counts, create_service, distribution,
                              running_count, steady)


def active_instances(aws, cluster):
    return len(aws("ecs").list_container_instances(cluster=cluster,
                                                   status="ACTIVE")["containerInstanceArns"])


@pytest.fixture
def walk(sandbox):
    aws = Clients(sandbox.endpoint)
    driver = Driver(advance=sandbox.advance)

    def settle(seed, instances):
        driver.wait_for(lambda: active_instances(aws, seed.cluster) == instances
                        and running_count(aws, seed.cluster, seed.service) == seed.tasks
                        and sum(counts(distribution(aws, seed.cluster, seed.service)))
                        == seed.tasks
                        and steady(aws, seed.cluster, seed.service), 900, what=f"{instances} instances settled")
        return distribution(aws, seed.cluster, seed.service)

    def run(seed):
        build_seed(aws, seed)
        driver.wait_for(lambda: active_instances(aws, seed.cluster) == seed.instances, 300)
        create_service(aws, seed)
        stages = {"baseline": settle(seed, seed.instances)}
        asg = aws("autoscaling")
        asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances - 1)
        stages["down"] = settle(seed, seed.instances - 1)
        asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances)
        stages["up"] = settle(seed, seed.instances)
        return stages

    return aws, run


@pytest.fixture
def live():
    """An in-process sandbox with the data plane on (tasks serve HTTP, ALBs route), manual
    clock, free port."""
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    sb = Sandbox(config=SandboxConfig(data_plane=True), speed=None, port=0, seed=1234).start()
    try:
        yield sb
    finally:
        sb.stop()
