"""Rebalancing under ECS API throttling (issue 6): the seed-like scenario (2 AZs, 2 instances,
4 tasks after a scale-in and scale-out), the engine's client throttled at a seeded rate on every
ECS API. Reports whether it balanced, moves, calls, the retries botocore absorbed, throttles
injected, emulated seconds, the lowest running/desired seen, and wall seconds (adaptive retry
backoff sleeps on the wall clock).
"""

from __future__ import annotations

import importlib
import time

from .common import ENGINE, table
from .time_to_balance import Run

RATES = (0.0, 0.1, 0.3)   # 50% is absorbed too (159 s of wall backoff): kept out of make bench
ENGINE_KEY = "AKIABENCHENGINE"


def one(rate: float, min_healthy: int) -> dict:
    import boto3

    runner = importlib.import_module(f"{ENGINE}.runner")
    snapshot = importlib.import_module(f"{ENGINE}.snapshot")
    run = Run({"azs": 2, "instances": 2, "tasks": 4, "services": 1}, "auto")
    try:
        run.seed.min_healthy_percent = min_healthy
        run.prepare()
        run.desired = {s["serviceName"]: s["desiredCount"] for s in run._services()}
        kw = dict(endpoint_url=run.sb.endpoint, region_name="us-east-1",
                  aws_access_key_id=ENGINE_KEY, aws_secret_access_key="testing",
                  config=snapshot.client_config())
        ecs, elb = boto3.client("ecs", **kw), boto3.client("elbv2", **kw)
        run.sb.faults.configure(throttle_rate=rate, seed=11, throttle_access_key=ENGINE_KEY,
                                throttle_apis=["ecs:*"])
        start, wall0 = run.sb.now(), time.perf_counter()
        request = runner.RebalanceRequest(cluster=run.seed.cluster, poll_interval=5,
                                          wait_timeout=900)
        result = runner.rebalance(ecs, request, sleep=run.advance, clock=run.sb.now,
                                  elb_client=elb)
        injected = sum(run.sb.faults.describe()["injected"].values())
        run.sb.faults.configure()
        return {"rate": rate, "min_healthy_percent": min_healthy, "balanced": result.balanced,
                "moves": len(result.moves), "api_calls": result.api_calls,
                "api_retries": result.api_retries, "injected": injected,
                "emulated_seconds": round(run.sb.now() - start, 1),
                "min_running_fraction": round(run.min_fraction, 3),
                "wall_seconds": round(time.perf_counter() - wall0, 1),
                "message": result.message()}
    finally:
        run.close()


def run(quick: bool = False) -> dict:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows = []
    for min_healthy in (50, 100):
        for rate in (RATES[:2] if quick else RATES):
            try:
                rows.append(one(rate, min_healthy))
            except Exception as exc:  # report, do not hide
                rows.append({"rate": rate, "min_healthy_percent": min_healthy,
                             "error": f"{type(exc).__name__}: {exc}"})
    return {"command": "make bench  (python -m benchmarks.run --only faults)", "rows": rows}


def render(res: dict) -> str:
    rows = [[f"{r['rate']:.0%}", r["min_healthy_percent"],
             "error: " + r["error"] if "error" in r else ("yes" if r["balanced"] else "no"),
             r.get("moves", ""), r.get("api_calls", ""), r.get("api_retries", ""),
             r.get("injected", ""), r.get("emulated_seconds", ""),
             r.get("min_running_fraction", ""), r.get("wall_seconds", "")]
            for r in res["rows"]]
    return table(["ECS throttled", "minHealthy %", "balanced", "moves", "API calls",
                  "retries absorbed", "throttles injected", "emulated s",
                  "lowest running/desired", "wall s"], rows)
