"""Availability through the walkthrough (issue 6.2): the seed scenario behind an ALB in the
sandbox with its data plane on, a request every 10 ms on the load balancer while the Auto
Scaling group goes 2 -> 1 -> 2 and the cluster is rebalanced, by the engine (``auto``) or the
reference architecture's "redeploy every service". Requests sent, failed, longest gap, for the
whole walkthrough and for the rebalancing alone.

Emulated time advances one second per 10 ms of wall time, so the probe sees every state.
"""

from __future__ import annotations

import importlib
import threading
import time

from .common import ENGINE, table

TICK_WALL_SECONDS = 0.01
PROBE_INTERVAL = 0.01


class Walk:
    def __init__(self, strategy: str, seed: int = 1234):
        from sandbox.config import SandboxConfig
        from sandbox.scenario import Clients, Seed
        from sandbox.server import Sandbox

        self.strategy = strategy
        self.sb = Sandbox(config=SandboxConfig(data_plane=True), speed=None, port=0,
                          seed=seed).start()
        self.aws = Clients(self.sb.endpoint)
        self.seed = Seed(tasks=2, min_healthy_percent=100, max_percent=200)

    def tick(self, seconds: float = 1.0) -> None:
        for _ in range(max(1, int(seconds))):
            self.sb.advance(1)
            time.sleep(TICK_WALL_SECONDS)

    def wait(self, predicate, what: str, limit: int = 900) -> None:
        for _ in range(limit):
            if predicate():
                return
            self.tick()
        raise TimeoutError(what)

    def steady(self) -> bool:
        from sandbox.scenario import healthy_targets, steady
        return (steady(self.aws, self.seed.cluster, self.seed.service)
                and healthy_targets(self.aws, self.tg) == self.seed.tasks)

    def active(self) -> int:
        return len(self.aws("ecs").list_container_instances(
            cluster=self.seed.cluster, status="ACTIVE")["containerInstanceArns"])

    def prepare(self) -> str:
        from sandbox.scenario import build_alb, build_seed, create_service

        build_seed(self.aws, self.seed)
        self.tg, lb = build_alb(self.aws, self.seed, deregistration_delay=30)
        self.wait(lambda: self.active() == self.seed.instances, "instances")
        create_service(self.aws, self.seed, target_group_arn=self.tg)
        self.wait(self.steady, "baseline")
        return self.sb.traffic.describe()["load_balancers"][lb["DNSName"]]

    def walk_and_rebalance(self, probe_url: str) -> dict:
        from ansible_collections.taskspread.ecs.plugins.module_utils.probe import Probe

        def probing():
            stop = threading.Event()
            box: dict = {}
            thread = threading.Thread(target=lambda: box.update(
                report=Probe(probe_url, interval=PROBE_INTERVAL, timeout=2).run(stop.is_set)))
            thread.start()
            return stop, thread, box

        whole_stop, whole_thread, whole = probing()
        asg = self.aws("autoscaling")
        asg.set_desired_capacity(AutoScalingGroupName=self.seed.asg, DesiredCapacity=1)
        self.wait(lambda: self.active() == 1 and self.steady(), "scale-in settled")
        asg.set_desired_capacity(AutoScalingGroupName=self.seed.asg, DesiredCapacity=2)
        self.wait(lambda: self.active() == 2, "scale-out registered")
        phase_stop, phase_thread, phase = probing()
        start = self.sb.now()
        if self.strategy == "auto":
            runner = importlib.import_module(f"{ENGINE}.runner")
            result = runner.rebalance(self.aws("ecs"), runner.RebalanceRequest(
                cluster=self.seed.cluster, poll_interval=5, wait_timeout=900),
                sleep=self.tick, clock=self.sb.now, elb_client=self.aws("elbv2"))
            moved = len(result.moves)
        else:
            self.reference()
            moved = None
        self.wait(self.steady, "rebalanced and steady")
        seconds = self.sb.now() - start
        from sandbox.scenario import counts, distribution
        per_instance = counts(distribution(self.aws, self.seed.cluster, self.seed.service))
        for stop, thread in ((phase_stop, phase_thread), (whole_stop, whole_thread)):
            stop.set()
            thread.join(timeout=30)
        return {"strategy": self.strategy, "moved": moved, "emulated_seconds": round(seconds, 1),
                "tasks_per_instance": per_instance,
                "whole": whole["report"].to_dict(), "rebalance": phase["report"].to_dict()}

    def reference(self) -> None:
        """The reference Lambda: a new task-definition revision and an update, every service."""
        ecs = self.aws("ecs")
        svc = ecs.describe_services(cluster=self.seed.cluster,
                                    services=[self.seed.service])["services"][0]
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        keep = ("family", "containerDefinitions", "volumes", "networkMode")
        new = ecs.register_task_definition(**{k: td[k] for k in keep if td.get(k)})
        ecs.update_service(cluster=self.seed.cluster, service=self.seed.service,
                           taskDefinition=new["taskDefinition"]["taskDefinitionArn"])

    def close(self) -> None:
        self.sb.stop()


def run(quick: bool = False) -> dict:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows = []
    for strategy in ("auto", "reference"):
        walk = Walk(strategy)
        try:
            rows.append(walk.walk_and_rebalance(walk.prepare()))
        except Exception as exc:  # report, do not hide
            rows.append({"strategy": strategy, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            walk.close()
    return {"command": "make bench  (python -m benchmarks.run --only availability)",
            "rows": rows}


def render(res: dict) -> str:
    rows = []
    for r in res["rows"]:
        name = "auto (engine)" if r["strategy"] == "auto" else "reference (redeploy every service)"
        if "error" in r:
            rows.append([name, "error: " + r["error"], "", "", "", "", "", "", ""])
            continue
        w, p = r["whole"], r["rebalance"]
        rows.append([name, w["sent"], w["failed"], w["longest_gap_seconds"], p["sent"],
                     p["failed"], p["longest_gap_seconds"], r["emulated_seconds"],
                     " / ".join(map(str, r["tasks_per_instance"]))])
    return table(["strategy", "walkthrough: requests", "failed", "longest gap s",
                  "rebalancing: requests", "failed", "longest gap s",
                  "emulated s to steady", "tasks per instance after"], rows)
