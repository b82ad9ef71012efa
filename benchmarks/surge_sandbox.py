"""Surge moves measured in the sandbox (issue 13.1), not assumed from the plan.

Each scenario builds a cluster in a fresh in-process sandbox on the manual clock, the way a
user would (EC2 instances whose UserData joins the cluster, services through CreateService),
lets it settle, then adds empty instances: the scale-out skew. Every service has
minimumHealthyPercent 100 and maximumPercent 200, so the engine's ``auto`` strategy can only
surge. The engine (``runner.rebalance``) runs the way a schedule would run it: again after
each run until it has nothing left to grant, at most ``MAX_RUNS`` runs.

Measured, from the ``RebalanceResult`` actions: tasks the surges actually stopped
(``stopped_tasks``: restarts of tasks that ran before the step), the new tasks they scaled in
again (``surge_overhead``), surge actions (one per service per step), steps, and how many surges'
new tasks landed where the evictor predicted (``landing``). The lower bound is the brute-force
``tests.unit.engine.oracle.lower_bound`` on the snapshot read just before the engine starts (it does not call the
planner), next to the planner's own ``moves_needed``.

The sandbox places ties on the lowest ec2InstanceId (its ``stable`` mode), and so does the
engine's surge prediction; which instance that is depends on moto's random IDs. Each scenario
therefore runs once per ID seed (moto's ``mock_random`` seeded before the world is built):
different, reproducible layouts of the same shape.

Every service is created with ``availabilityZoneRebalancing="DISABLED"``: the sandbox, like
AWS since 2025-09-05, enables ECS's own AZ rebalancing for new eligible services, and these
figures are the engine's alone.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from .common import ENGINE

ECS_AMI = "ami-0d75e18107f482a72"   # amzn2-ami-ecs-kernel-5.10-hvm (in moto's catalogue)
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
SPREAD = [{"type": "spread", "field": "attribute:ecs.availability-zone"},
          {"type": "spread", "field": "instanceId"}]
MAX_RUNS = 8
SETTLE_LIMIT = 1800       # emulated seconds for the cluster to reach steady state


@dataclass(frozen=True)
class Scenario:
    """``before``: instances per AZ while the services are placed; ``joining``: empty
    instances per AZ that join afterwards, or (``to_fullest``) that many join the AZ holding
    most of the first service's tasks; ``services``: desiredCount per service."""

    name: str
    before: tuple[int, ...]
    joining: tuple[int, ...]
    services: tuple[int, ...]
    to_fullest: bool = False
    max_moves: int | None = None
    instance_type: str = "m5.large"

    @property
    def instances(self) -> int:
        return sum(self.before) + sum(self.joining)

    @property
    def tasks(self) -> int:
        return sum(self.services)


SCENARIOS = [
    # test_surge_landing.py: AZ counts 3/2, an empty instance joins the 3-task AZ. One surge,
    # at the default budget (one move: 10% of 5 tasks) as well: it counts restarts.
    Scenario("3/2 plus an empty instance in the fuller AZ", (2, 2), (1,), (5,), to_fullest=True),
    Scenario("3/2 plus an empty instance in the fuller AZ, max_moves 5", (2, 2), (1,), (5,),
             to_fullest=True, max_moves=5),
    # moves.py's "scale-out, minHealthy 100": 2 AZs, 1 old + 1 new instance each.
    Scenario("scale-out 2 -> 4 instances, 2 services", (1, 1), (1, 1), (8, 6)),
    # Issue 13.1's size: 30 instances / 20 services / 300 tasks; the services were placed on
    # 15 instances, 15 more joined. Ten services of 20 tasks (5 moves each), ten of 10.
    Scenario("30 instances / 20 services / 300 tasks (15 joined)", (5, 5, 5), (5, 5, 5),
             (20,) * 10 + (10,) * 10),
]
QUICK = SCENARIOS[:3]
ID_SEEDS = (1, 2, 3, 4, 5)
QUICK_ID_SEEDS = (1,)


class World:
    """One sandbox with a VPC (a subnet per AZ), a cluster and the scenario's services."""

    def __init__(self, scenario: Scenario, id_seed: int, seed: int = 1234):
        from moto.moto_api._internal import mock_random
        from sandbox.scenario import Clients
        from sandbox.server import Sandbox

        self.scenario = scenario
        self.sb = Sandbox(speed=None, port=0, seed=seed).start()
        self.aws = Clients(self.sb.endpoint)
        self.ecs, self.ec2 = self.aws("ecs"), self.aws("ec2")
        self.ec2.describe_vpcs()      # moto builds its default VPC on first use, randomly
        mock_random.seed(id_seed)     # then moto's resource IDs, hence ECS's tie-breaks
        self.cluster = "bench"
        self.names = [f"svc-{k:02d}" for k in range(len(scenario.services))]
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                               AvailabilityZone=az)["Subnet"]["SubnetId"]
                        for i, az in enumerate(AZS)]
        self.ecs.create_cluster(clusterName=self.cluster)

    def launch(self, per_az: tuple[int, ...]) -> None:
        """Start ``per_az[i]`` instances in AZ i and let their agents register."""
        data = f"#!/bin/bash\necho ECS_CLUSTER={self.cluster} >> /etc/ecs/ecs.config\n"
        for subnet, count in zip(self.subnets, per_az):
            if count:
                self.ec2.run_instances(ImageId=ECS_AMI, MinCount=count, MaxCount=count,
                                       InstanceType=self.scenario.instance_type,
                                       SubnetId=subnet, UserData=data)
        self.sb.advance(self.sb.config.agent_boot_seconds + 1)

    def create_services(self) -> None:
        td = self.ecs.register_task_definition(
            family="bench", containerDefinitions=[{"name": "app", "image": "nginx:1.27",
                                                   "cpu": 64, "memory": 128}])
        arn = td["taskDefinition"]["taskDefinitionArn"]
        for name, count in zip(self.names, self.scenario.services):
            self.ecs.create_service(
                cluster=self.cluster, serviceName=name, taskDefinition=arn,
                desiredCount=count, launchType="EC2", placementStrategy=SPREAD,
                deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
                availabilityZoneRebalancing="DISABLED")

    def steady(self) -> bool:
        for k in range(0, len(self.names), 10):
            for s in self.ecs.describe_services(cluster=self.cluster,
                                                services=self.names[k:k + 10])["services"]:
                deployments = s["deployments"]
                if len(deployments) != 1 or s["runningCount"] != s["desiredCount"] \
                        or s.get("pendingCount", 0) \
                        or deployments[0].get("rolloutState", "COMPLETED") != "COMPLETED":
                    return False
        return True

    def settle(self) -> None:
        for _ in range(SETTLE_LIMIT // 5):
            if self.steady():
                return
            self.sb.advance(5)
        raise TimeoutError(f"{self.scenario.name}: not steady after {SETTLE_LIMIT} s")

    def prepare(self) -> None:
        self.launch(self.scenario.before)
        self.create_services()
        self.settle()
        joining = self.scenario.joining
        if self.scenario.to_fullest:
            fullest = AZS.index(max(self.tasks_per_az(self.names[0]).items(),
                                    key=lambda kv: (kv[1], kv[0]))[0])
            joining = tuple(sum(joining) if i == fullest else 0 for i in range(len(AZS)))
        self.launch(joining)

    def tasks_per_az(self, service: str) -> dict[str, int]:
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName=service,
                                   desiredStatus="RUNNING")["taskArns"]
        out: dict[str, int] = {}
        for k in range(0, len(arns), 100):
            for task in self.ecs.describe_tasks(cluster=self.cluster,
                                                tasks=arns[k:k + 100])["tasks"]:
                out[task["availabilityZone"]] = out.get(task["availabilityZone"], 0) + 1
        return out

    def sleep(self, seconds: float) -> None:
        self.sb.advance(max(1.0, float(int(seconds))))

    def close(self) -> None:
        self.sb.stop()


def measure(scenario: Scenario, id_seed: int) -> dict:
    """Build, skew, run the engine until it grants nothing more; what its surges did."""
    from tests.unit.engine.oracle import lower_bound

    eng = importlib.import_module(ENGINE)
    runner = importlib.import_module(f"{ENGINE}.runner")
    planner = importlib.import_module(f"{ENGINE}.planner")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    world = World(scenario, id_seed)
    try:
        world.prepare()
        snap = eng.take_snapshot(world.ecs, world.cluster)
        bound = sum(lower_bound(snap, name) for name in snap.services)
        needed = planner.plan(snap).moves_needed
        start = world.sb.now()
        request = runner.RebalanceRequest(cluster=world.cluster, strategy="auto",
                                          max_moves=scenario.max_moves, poll_interval=5,
                                          wait_timeout=3600)
        actions, runs, steps, balanced = [], 0, 0, False
        while runs < MAX_RUNS:
            result = runner.rebalance(world.ecs, request, sleep=world.sleep,
                                      clock=world.sb.now, elb_client=world.aws("elbv2"))
            runs += 1
            steps += sum(1 for s in result.steps if s.actions)
            actions += [a for s in result.steps for a in s.actions]
            balanced = result.balanced
            if balanced or not result.changed:
                break
        refused = sorted({r["code"] for r in result.skipped()})
        surges = [a for a in actions if a.mode == "surge"]
        landed = [a for a in surges if a.landing is not None]
        return {"scenario": scenario.name, "id_seed": id_seed, "instances": scenario.instances,
                "services": len(scenario.services), "tasks": scenario.tasks,
                "lower_bound": bound, "planner_moves_needed": needed,
                "surge_stopped": sum(len(a.stopped_tasks) for a in surges),
                "surge_overhead": sum(len(a.surge_overhead) for a in surges),
                "other_stopped": sum(len(a.stopped_tasks) for a in actions
                                     if a.mode != "surge"),
                "surge_actions": len(surges),
                "surges_per_service_max": max((sum(1 for a in surges if a.service == n)
                                               for n in world.names), default=0),
                "steps": steps, "runs": runs,
                "landed_as_predicted": sum(1 for a in landed if a.landing["as_predicted"]),
                "landings_reported": len(landed),
                "errors": [a.error for a in actions if a.error],
                "balanced_after": balanced, "refused_at_end": refused,
                "emulated_seconds": round(world.sb.now() - start, 1),
                "wall_seconds": round(time.perf_counter() - wall0, 1),
                "cpu_seconds": round(time.process_time() - cpu0, 1)}
    finally:
        world.close()


def run(quick: bool = False) -> list[dict]:
    """One row per scenario: every ID seed's run under ``runs``, and the summary."""
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows = []
    for scenario in (QUICK if quick else SCENARIOS):
        runs = []
        for id_seed in (QUICK_ID_SEEDS if quick else ID_SEEDS):
            try:
                runs.append(measure(scenario, id_seed))
            except (TimeoutError, RuntimeError, KeyError, ValueError) as exc:  # report it
                runs.append({"id_seed": id_seed, "error": f"{type(exc).__name__}: {exc}"})
        rows.append(summarise(scenario, runs))
    return rows


def summarise(scenario: Scenario, runs: list[dict]) -> dict:
    """The figures over the ID seeds: lower bound and surge cost per run, how many balanced."""
    ok = [r for r in runs if "error" not in r]
    return {"scenario": scenario.name, "instances": scenario.instances,
            "services": len(scenario.services), "tasks": scenario.tasks,
            "max_moves": scenario.max_moves, "id_seeds": [r["id_seed"] for r in runs],
            "lower_bound": sorted({r["lower_bound"] for r in ok}),
            "surge_stopped": [r["surge_stopped"] for r in ok],
            "surge_overhead": [r.get("surge_overhead", 0) for r in ok],
            "surge_actions": [r["surge_actions"] for r in ok],
            "steps": [r["steps"] for r in ok],
            "balanced": sum(1 for r in ok if r["balanced_after"]), "measured": len(ok),
            "cost_equals_bound": sum(1 for r in ok if r["balanced_after"]
                                     and r["surge_stopped"] + r["other_stopped"]
                                     == r["lower_bound"]),
            "landed_as_predicted": sum(r["landed_as_predicted"] for r in ok),
            "landings_reported": sum(r["landings_reported"] for r in ok),
            "refused_at_end": sorted({c for r in ok for c in r["refused_at_end"]}),
            "wall_seconds": round(sum(r.get("wall_seconds", 0) for r in ok), 1),
            "runs": runs}
