"""Part 4: time to balance in the sandbox (emulated seconds), engine ``auto`` vs the reference
architecture's "redeploy every service", and the lowest running count seen during the move as a
fraction of desired.

Each run gets a fresh in-process sandbox on a manual clock (``Sandbox(speed=None, port=0)``),
walks the seed scenario (``sandbox/scenario.py``: build, scale the Auto Scaling group in by one,
out by one), and starts the clock when the new container instance registers. The engine runs
``runner.rebalance(..., sleep=<advance 1 s at a time and sample>, clock=sandbox.now)``; the
reference does, per service, DescribeServices, DescribeTaskDefinition, RegisterTaskDefinition and
UpdateService(taskDefinition=new revision), as the AWS reference Lambda does. Both end when
every service is steady (one deployment, running == desired) and the engine's own distribution
says every service is balanced (skew <= 1 at every level).

Every service is created with ``availabilityZoneRebalancing="DISABLED"`` (the seed's own
``create_service`` does so too): the sandbox, like AWS since 2025-09-05, enables ECS's AZ
rebalancing for new eligible services, and this part measures the engine alone, and the
reference architecture in the world it was written for.
"""

from __future__ import annotations

import importlib
import inspect
import os
import time

from .common import ENGINE, table

SCENARIOS = {
    "seed (2 AZs, 2 instances, 1 service x 2 tasks)":
        {"azs": 2, "instances": 2, "services": 1, "tasks": 2},
    "20 instances (m5.large), 3 AZs, 10 services x 21 tasks":
        {"azs": 3, "instances": 20, "services": 10, "tasks": 21, "type": "m5.large"},
}
LIMIT = 900.0      # emulated seconds before a run is declared unbalanced
RETRY = 5.0        # the engine is re-run this often while a service is not steady yet


class Run:
    def __init__(self, spec: dict, strategy: str, seed: int = 1234):
        from sandbox.scenario import Clients, Driver, Seed
        from sandbox.server import Sandbox

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        self.spec, self.strategy = spec, strategy
        self.sb = Sandbox(speed=None, port=0, seed=seed).start()
        self.aws = Clients(self.sb.endpoint)
        self.ecs = self.aws("ecs")
        self.driver = Driver(advance=self.sb.advance)
        self.seed = Seed(azs=spec["azs"], instances=spec["instances"], tasks=spec["tasks"],
                         instance_type=spec.get("type", "m3.medium"))
        self.desired: dict[str, int] = {}   # the user's desiredCount (a surge raises ECS's)
        self.names = [self.seed.service] + [f"app-{k:02d}" for k in range(1, spec["services"])]
        self.samples: list[tuple[int, int]] = []   # (running, desired) summed over services
        self.min_fraction = 1.0

    # ------------------------------------------------------------------ the world
    def _active(self) -> int:
        return len(self.ecs.list_container_instances(cluster=self.seed.cluster,
                                                     status="ACTIVE")["containerInstanceArns"])

    def _services(self) -> list[dict]:
        out = []
        for k in range(0, len(self.names), 10):
            out += self.ecs.describe_services(cluster=self.seed.cluster,
                                              services=self.names[k:k + 10])["services"]
        return out

    def _steady(self) -> bool:
        return all(len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"]
                   and s.get("pendingCount", 0) == 0
                   and s["deployments"][0].get("rolloutState", "COMPLETED") == "COMPLETED"
                   for s in self._services())

    def _settle(self, instances: int) -> None:
        self.driver.wait_for(lambda: self._active() == instances and self._steady(), 1800,
                             what=f"{instances} instances settled")

    def balanced(self) -> bool:
        eng = importlib.import_module(ENGINE)
        snap = eng.take_snapshot(self.ecs, self.seed.cluster)
        return all(eng.distribution(snap, n).balanced for n in self.names)

    def sample(self) -> None:
        docs = self._services()
        for s in docs:
            want = self.desired.get(s["serviceName"], s["desiredCount"])
            if want:
                self.min_fraction = min(self.min_fraction, s["runningCount"] / want)
        self.samples.append((sum(s["runningCount"] for s in docs),
                             sum(self.desired.get(s["serviceName"], s["desiredCount"])
                                 for s in docs)))

    def advance(self, seconds: float) -> None:
        for _ in range(max(1, int(round(seconds)))):
            self.sb.advance(1)
            self.sample()

    # ------------------------------------------------------------------ the walk
    def prepare(self) -> None:
        from sandbox.scenario import build_seed, create_service
        build_seed(self.aws, self.seed)
        self.driver.wait_for(lambda: self._active() == self.seed.instances, 300)
        create_service(self.aws, self.seed)
        for name in self.names[1:]:
            self.ecs.create_service(
                cluster=self.seed.cluster, serviceName=name, taskDefinition=self.seed.service,
                desiredCount=self.seed.tasks, launchType="EC2",
                deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
                availabilityZoneRebalancing="DISABLED")
        self._settle(self.seed.instances)
        asg = self.aws("autoscaling")
        asg.set_desired_capacity(AutoScalingGroupName=self.seed.asg,
                                 DesiredCapacity=self.seed.instances - 1)
        self._settle(self.seed.instances - 1)
        asg.set_desired_capacity(AutoScalingGroupName=self.seed.asg,
                                 DesiredCapacity=self.seed.instances)
        self.driver.wait_for(lambda: self._active() == self.seed.instances, 600, step=1.0)

    def rebalance(self) -> dict:
        start, wall0 = self.sb.now(), time.perf_counter()
        balanced_before = self.balanced()
        self.desired = {s["serviceName"]: s["desiredCount"] for s in self._services()}
        moved = api_calls = None
        if self.strategy == "auto":
            runner = importlib.import_module(f"{ENGINE}.runner")
            request = runner.RebalanceRequest(cluster=self.seed.cluster, strategy="auto",
                                              poll_interval=5, wait_timeout=LIMIT)
            kwargs = {"sleep": self.advance, "clock": self.sb.now}
            if "elb_client" in inspect.signature(runner.rebalance).parameters:
                kwargs["elb_client"] = self.aws("elbv2")
            moved = api_calls = 0
            while True:   # as a schedule/event trigger would: re-run until nothing is skipped
                result = runner.rebalance(self.ecs, request, **kwargs)
                moved, api_calls = moved + len(result.moves), api_calls + result.api_calls
                waiting = [s for s in result.skipped() if s["code"] in (
                    "deployment_in_progress", "not_steady")]
                if not waiting or self.sb.now() - start > LIMIT:
                    break
                self.advance(RETRY)
        else:
            api_calls = self.reference()
        # Done when every service is steady again: nothing else will move a task afterwards
        # (the reference Lambda runs again only on the next instance state change).
        while not self._steady() and self.sb.now() - start <= LIMIT:
            self.advance(1)
        settled = self._steady()
        done = settled and self.balanced()
        return {"balanced_before": balanced_before, "balanced": done,
                "seconds_to_balance": round(self.sb.now() - start, 1) if done else None,
                "seconds_to_settle": round(self.sb.now() - start, 1) if settled else None,
                "min_running_fraction_per_service": round(self.min_fraction, 3),
                "min_running_fraction_total": round(min((r / d for r, d in self.samples if d),
                                                        default=1.0), 3),
                "tasks_moved": moved, "api_calls": api_calls,
                "final_counts": self.counts(),
                "wall_seconds": round(time.perf_counter() - wall0, 1)}

    def counts(self) -> dict:
        from sandbox.scenario import distribution
        return {n: distribution(self.aws, self.seed.cluster, n) for n in self.names[:3]}

    def reference(self) -> int:
        """What the AWS reference Lambda does on an instance state change. Returns calls."""
        calls = 0
        for name in self.names:
            svc = self.ecs.describe_services(cluster=self.seed.cluster,
                                             services=[name])["services"][0]
            td = self.ecs.describe_task_definition(
                taskDefinition=svc["taskDefinition"])["taskDefinition"]
            keep = ("family", "containerDefinitions", "volumes", "networkMode",
                    "placementConstraints", "requiresCompatibilities", "cpu", "memory")
            new = self.ecs.register_task_definition(
                **{k: td[k] for k in keep if td.get(k)})["taskDefinition"]["taskDefinitionArn"]
            self.ecs.update_service(cluster=self.seed.cluster, service=name,
                                    taskDefinition=new)
            calls += 4
        return calls

    def close(self) -> None:
        self.sb.stop()


def run(quick: bool = False) -> dict:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows, error = [], None
    for scenario, spec in SCENARIOS.items():
        if quick and spec["instances"] > 2:
            continue
        for strategy in ("auto", "reference"):
            r = None
            try:
                r = Run(spec, strategy)
                r.prepare()
                rows.append({"scenario": scenario, "strategy": strategy, **r.rebalance()})
            except Exception as exc:   # the sandbox is young: report, do not hide
                error = f"{scenario} / {strategy}: {type(exc).__name__}: {exc}"
                rows.append({"scenario": scenario, "strategy": strategy, "error": error})
            finally:
                if r is not None:
                    r.close()
    return {"command": "make bench  (python -m benchmarks.run --only sandbox)", "rows": rows,
            "status": "measured" if error is None else "pending sandbox (errors below)"}


def render(res: dict) -> str:
    rows = []
    for r in res["rows"]:
        if "error" in r:
            rows.append([r["scenario"], r["strategy"], "pending sandbox", "", "", "", ""])
            continue
        rows.append([r["scenario"], "auto (engine)" if r["strategy"] == "auto"
                     else "reference (redeploy every service)",
                     r["seconds_to_balance"] if r["balanced"] else
                     (f"never: settled unbalanced at {r['seconds_to_settle']:.0f}"
                      if r.get("seconds_to_settle") is not None else f"> {LIMIT:.0f}"),
                     r["min_running_fraction_per_service"], r["min_running_fraction_total"],
                     "" if r["tasks_moved"] is None else r["tasks_moved"], r["api_calls"]])
    out = table(["scenario", "strategy", "emulated s to balance", "lowest running/desired "
                 "(worst service)", "lowest running/desired (cluster)", "tasks moved",
                 "write+read API calls"], rows)
    errors = [r["error"] for r in res["rows"] if "error" in r]
    return out + ("\n\nErrors:\n" + "\n".join(errors) if errors else "")
