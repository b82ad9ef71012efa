"""The simulation's scenarios: small worlds explored exhaustively, large ones at random.

Each is built through boto3 on a fresh in-process sandbox (manual clock, moto's identifiers
seeded so a schedule repeats exactly), with the ECS test world's instances
(``tests/sandbox/ecs_world.py``: run_instances with UserData, agents register) and, for the
load-balanced one, the seed scenario's ALB (``sandbox.scenario.build_alb``). The service
starts steady and healthy, then empty instances join: the engine has moves to make.

``World`` is also how "others" act during a schedule: a person's UpdateService, Service Auto
Scaling's scheduled action (the sandbox's Application Auto Scaling emulation), a tool that
deletes the service's tags, a target failing its ELB health checks (the ELBv2 emulation's
``set_unhealthy``), a container failing its health checks (the ECS emulation's
``fail_health_checks``). Every such act also tells the floor watch what others set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sandbox.scenario import Driver, Seed, build_alb, schedule_desired_count
from tests.chaos.observer import FloorWatch
from tests.sandbox.ecs_world import World as EcsWorld

from .calls import HEALTH_FLAP, TARGET_UNHEALTHY
from .invariants import healthy

CLUSTER, SERVICE = "sim", "app"
AZ_A, AZ_B, AZ_C = "us-east-1a", "us-east-1b", "us-east-1c"


@dataclass(frozen=True)
class Scenario:
    """``layout``: instances per AZ holding the service's tasks at the start, then ``empty``
    instances per AZ that join once it is steady."""

    name: str
    tasks: int
    min_healthy: int
    layout: tuple[str, ...]
    empty: tuple[str, ...]
    alb: bool = False
    health_check: bool = False
    large: bool = False
    wait_timeout: float = 600.0
    max_percent: int = 200
    about: str = ""

    def fault_kinds_here(self, kinds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in kinds if (k != TARGET_UNHEALTHY or self.alb)
                     and (k != HEALTH_FLAP or self.health_check))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("surge", 4, 100, (AZ_A, AZ_B), (AZ_A,),
             about="4 tasks on 2+1 instances, one empty; minimumHealthyPercent 100: a surge"),
    Scenario("surge_alb", 4, 100, (AZ_A, AZ_B), (AZ_A,), alb=True,
             about="the surge behind an ALB target group"),
    Scenario("surge_healthcheck", 4, 100, (AZ_A, AZ_B), (AZ_A,), health_check=True,
             about="the surge with a container health check and no load balancer"),
    Scenario("stop", 4, 50, (AZ_A, AZ_B), (AZ_A,),
             about="minimumHealthyPercent 50: spare above the floor, stop mode"),
    Scenario("large", 12, 100, (AZ_A, AZ_B, AZ_C), (AZ_A, AZ_B, AZ_C), alb=True,
             health_check=True, large=True, wait_timeout=900.0,
             about="12 tasks on 3+3 instances in 3 AZs behind an ALB with a container "
                   "health check"),
)}


@dataclass
class World:
    sandbox: Any
    scenario: Scenario
    aws: Any
    watch: FloorWatch
    target_group: str | None = None
    original: int = 0
    t0: float = 0.0
    cluster: str = CLUSTER
    service: str = SERVICE
    poll_interval: float = 5.0

    @property
    def wait_timeout(self) -> float:
        return self.scenario.wait_timeout

    def fresh_clients(self) -> "SharedClients":
        """A run's own boto3 clients (not shared with the observers or other runs)."""
        return SharedClients(self.sandbox.endpoint)

    @property
    def ecs(self):
        return self.aws("ecs")

    def service_doc(self, tags: bool = False) -> dict:
        kw = {"include": ["TAGS"]} if tags else {}
        return self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE], **kw)[
            "services"][0]

    def live_tasks(self) -> list:
        """The sandbox's live task models of the service, by ARN."""
        svc = self.sandbox.ecs.services[(CLUSTER, SERVICE)]
        return sorted((t for t in svc.tasks.values() if t.live), key=lambda t: t.arn)

    # -------------------------------------------------------------- others
    def person_sets_desired(self) -> str:
        count = self.watch.intended[SERVICE] + 2
        self.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=count)
        self.watch.others_set(SERVICE, count)
        return f"a person sets desiredCount {count} (UpdateService)"

    def autoscaling_sets_desired(self) -> str:
        """A one-time scheduled action for the next whole second (``at()`` runs strictly
        after it was put, on whole seconds), and the clock moved to it (at most 2 s: the
        call point takes that long), so Application Auto Scaling writes right there."""
        count = self.watch.intended[SERVICE] + 2
        when = float(math.ceil(self.sandbox.now() + 1))
        schedule_desired_count(self.aws, CLUSTER, SERVICE, 1, count)
        self.watch.others_set(SERVICE, count, at=when)
        self.sandbox.advance(max(0.0, when - self.sandbox.now()))
        return f"Service Auto Scaling sets desiredCount {count} (scheduled action)"

    def delete_service_tags(self) -> str:
        arn = self.service_doc()["serviceArn"]
        keys = [t["key"] for t in self.ecs.list_tags_for_resource(resourceArn=arn)["tags"]]
        if keys:
            self.ecs.untag_resource(resourceArn=arn, tagKeys=keys)
        return f"a tool deletes the service's tags {keys}"

    def fail_a_target(self) -> str:
        from sandbox.aws import elbv2

        task = next((t for t in self.live_tasks() if t.targets and healthy(self.sandbox.ecs, t)),
                    None)
        if task is None:
            return "no healthy target to fail"
        tg, instance, port = task.targets[0]
        with self.sandbox.runtime.lock:
            elbv2.set_unhealthy(self.sandbox, tg, instance, port, immediately=True)
        self.watch.excuse(SERVICE, {task.arn})
        self.sandbox.tick()
        return f"target of task {task.id[:8]} fails its ELB health checks"

    def flap_a_container(self, seconds: float) -> str:
        task = next((t for t in self.live_tasks() if healthy(self.sandbox.ecs, t)), None)
        if task is None:
            return "no healthy task to flap"
        self.watch.excuse(SERVICE, {task.arn})
        self.sandbox.ecs.fail_health_checks(task.arn, seconds)
        return f"container health of task {task.id[:8]} UNHEALTHY for {seconds:.0f}s"


class SharedClients:
    """``sandbox.scenario.Clients`` from one boto3 session for the whole process: each run
    gets clients (and connections) of its own, but the service models are loaded once (a new
    session per run would reload them: most of a short schedule's CPU)."""

    _session: Any = None

    def __init__(self, endpoint: str):
        import boto3

        if SharedClients._session is None:
            SharedClients._session = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing",
                region_name="us-east-1")
        self._endpoint = endpoint
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str):
        if service not in self._cache:
            self._cache[service] = self._session.client(service, endpoint_url=self._endpoint)
        return self._cache[service]


def start_sandbox(seed: int):
    """An in-process sandbox on the manual clock with moto's identifiers seeded (the chaos
    suite's: EC2 instance ids decide placement ties, so they must repeat)."""
    from tests.chaos.harness import _seed_moto
    from sandbox.server import Sandbox

    sandbox = Sandbox(speed=None, port=0, seed=seed)
    _seed_moto(seed)
    return sandbox.start()


def _task_definition(ecs, scenario: Scenario) -> str:
    container: dict = {"name": SERVICE, "image": "nginx:1.27", "cpu": 256, "memory": 512,
                       "essential": True,
                       "portMappings": [{"containerPort": 80, "hostPort": 0}]}
    if scenario.health_check:
        container["healthCheck"] = {"command": ["CMD-SHELL", "curl -f http://localhost/"],
                                    "interval": 10, "retries": 2, "startPeriod": 10}
    td = ecs.register_task_definition(family=SERVICE, containerDefinitions=[container])
    return f"{SERVICE}:{td['taskDefinition']['revision']}"


def build(sandbox, scenario: Scenario) -> World:
    """The scenario's cluster, steady and healthy, with its empty instances joined."""
    aws = SharedClients(sandbox.endpoint)
    base = EcsWorld(sandbox, aws, cluster=CLUSTER)
    for az in scenario.layout:
        base.launch(az)
    base.boot()
    target_group = None
    extra: dict = {}
    if scenario.alb:
        seed = Seed(cluster=CLUSTER, subnets=[base.subnets[az] for az in (AZ_A, AZ_B, AZ_C)])
        target_group = build_alb(aws, seed)[0]
        extra["loadBalancers"] = [{"targetGroupArn": target_group, "containerName": SERVICE,
                                   "containerPort": 80}]
    aws("ecs").create_service(
        cluster=CLUSTER, serviceName=SERVICE, taskDefinition=_task_definition(aws("ecs"), scenario),
        desiredCount=scenario.tasks, launchType="EC2",
        deploymentConfiguration={"minimumHealthyPercent": scenario.min_healthy,
                                 "maximumPercent": scenario.max_percent},
        availabilityZoneRebalancing="DISABLED", **extra)
    watch = FloorWatch(sandbox, CLUSTER, {SERVICE: scenario.min_healthy},
                       up=lambda task: healthy(sandbox.ecs, task))
    world = World(sandbox, scenario, aws, watch, target_group, original=scenario.tasks)
    settle(world, "the service steady and healthy")
    for az in scenario.empty:
        base.launch(az)
    base.boot()
    settle(world, "the empty instances registered")
    world.t0 = sandbox.now()
    sandbox.runtime.on_tick(watch)
    watch.arm({SERVICE: scenario.tasks})
    return world


def settle(world: World, what: str) -> None:
    def steady() -> bool:
        doc = world.service_doc()
        live = world.live_tasks()
        return (doc["runningCount"] == doc["desiredCount"] == len(live)
                and len(doc["deployments"]) == 1
                and doc["deployments"][0].get("rolloutState") == "COMPLETED"
                and all(healthy(world.sandbox.ecs, t) for t in live))
    Driver(advance=world.sandbox.advance).wait_for(steady, 600, what=what)


