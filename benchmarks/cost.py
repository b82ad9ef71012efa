"""Part 7: cost per trigger (issue 17). What one trigger of the rebalancer Lambda costs, by
kind, at 1,000 / 200 / 20,000 and 5,000 / 500 / 100,000 (instances / services / tasks): ECS
calls, seconds of ECS's shared ListTasks/DescribeTasks bucket (about 20 requests per second
per account and Region), the time the run waited on its own pacing (``api_read_rate``,
default 5/s), CPU seconds on one core, and the handler's peak resident memory.

The handler (``files/rebalancer/handler.handler``, dry run) runs against the in-memory fake ECS
(``tests/unit/engine/snapshot_ecs.py``) serving a balanced synthetic cluster, on a manual
clock (the pacing's sleeps move it; nothing sleeps for real). Trigger kinds:

* steady state: SERVICE_STEADY_STATE of one service (its tasks alone are read);
* new instance: an ACTIVE, empty container instance (the whole cluster);
* schedule: the scheduled event (the whole cluster);
* burst of 50: 50 steady states within a minute. Through the queue (``rebalancer_trigger:
  queue``, batching window 60 s, batch size 100) they arrive as one batch (two when the
  minute straddles a window), and the batch is one decision about the union of its services:
  measured as one handler step scoped to those 50 services, times 2 for the worst case.

Each trigger runs in a child process of its own (fork), so its memory is its own: peak
memory = the resident memory of a fresh interpreter that imported boto3 and the engine
(what a Lambda container holds before the first event) + the growth of the peak (VmHWM,
reset through /proc/self/clear_refs) during the handler call. The fake ECS's own data is
in neither.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

from .common import ROOT, table

SIZES = [(1_000, 200, 20_000), (5_000, 500, 100_000)]
BURST = 50
BURST_DECISIONS_WORST = 2       # a minute straddling one batching window
TARGET_STEADY_CALLS = 40        # issue 17, at 1,000 / 200 / 20,000
MEMORY_HEADROOM = 1.3           # the role's MemorySize must be at least peak x 1.3


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def baseline_mib() -> float:
    """Resident memory of a fresh interpreter holding boto3 and the engine (a Lambda
    container's before its first event)."""
    code = ("import boto3, files.rebalancer.handler as h; boto3.client('ecs', "
            "region_name='us-east-1'); print(open('/proc/self/status').read())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, text=True,
                         capture_output=True,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/.collections"}).stdout
    rss = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("VmRSS:"))
    return rss / 1024


class _Context:
    """A Lambda context with the rebalancer role's default timeout (900 s) ahead of it."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def _trigger(snap, kind: str) -> dict:
    """One trigger through the handler, in this (child) process."""
    from files.rebalancer import handler as h
    from tests.unit.engine.snapshot_ecs import FakeEcs

    fake = FakeEcs(snap)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    os.environ.update({"TASKSPREAD_CLUSTER": snap.cluster_name, "TASKSPREAD_DRY_RUN": "true"})
    h._CONFIG = None
    h.clients = lambda cfg: (fake, None, None, None)
    h.timers = lambda: (sleep, lambda: now[0])
    names = sorted(snap.services)
    if kind == "burst":
        def call():
            return h.step(h.config(), h.remaining_seconds(_Context()), services=names[:BURST],
                          reason=f"a batch of {BURST} steady states")
    else:
        event = {
            "steady": {"source": "aws.ecs", "detail-type": "ECS Service Action",
                       "resources": [snap.services[names[0]].arn],
                       "detail": {"clusterArn": snap.cluster_arn,
                                  "eventName": "SERVICE_STEADY_STATE"}},
            "instance": {"source": "aws.ecs", "detail-type": "ECS Container Instance State Change",
                         "detail": {"clusterArn": snap.cluster_arn, "status": "ACTIVE",
                                    "agentConnected": True, "ec2InstanceId": "i-new",
                                    "runningTasksCount": 0, "pendingTasksCount": 0}},
            "schedule": {"source": "aws.events", "detail-type": "Scheduled Event"},
        }[kind]

        def call():
            return h.handler(event, _Context())
    devnull = open(os.devnull, "w", encoding="utf-8")
    stdout, sys.stdout = sys.stdout, devnull      # the handler's JSON log lines
    rss_before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")                            # reset VmHWM to the current RSS
    c0 = time.process_time()
    try:
        out = call()
    finally:
        sys.stdout = stdout
        devnull.close()
    cpu = time.process_time() - c0
    growth = max(0, _status_kib("VmHWM") - rss_before) / 1024
    calls = sum(fake.calls.values())
    shared = fake.calls["list_tasks"] + fake.calls["describe_tasks"]
    assert out["api_calls"] == calls, (out["api_calls"], calls)
    return {"calls": calls, "shared_calls": shared,
            "shared_bucket_s": round(shared / 20.0, 2),
            "pacing_wait_s": out["reads"]["read_pacing_wait_seconds"],
            "cpu_s": round(cpu, 3), "growth_mib": round(growth, 1),
            "scope": out["scope"]["read"], "status": out["status"],
            "service_tasks": len(snap.tasks[names[0]])}


def _in_child(snap, kind: str) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: measure, report, exit
        os.close(read)
        try:
            payload = json.dumps(_trigger(snap, kind))
        except BaseException as err:               # reported to the parent, which raises
            payload = json.dumps({"error": repr(err)})
        with os.fdopen(write, "w") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = json.loads(pipe.read())
    os.waitpid(pid, 0)
    if "error" in data:
        raise RuntimeError(f"{kind}: {data['error']}")
    return data


def run(quick: bool = False) -> dict:
    from tests.unit.engine.factories import synthetic_cluster
    base = baseline_mib()
    rows = []
    for instances, services, tasks in SIZES[:1] if quick else SIZES:
        snap = synthetic_cluster(instances, 3, services, tasks, skew="balanced", seed=0)
        for kind in ("steady", "instance", "schedule", "burst"):
            row = {"instances": instances, "services": services, "tasks": tasks,
                   "trigger": kind, **_in_child(snap, kind)}
            row["decisions"] = BURST_DECISIONS_WORST if kind == "burst" else 1
            row["peak_mib"] = round(base + row["growth_mib"], 1)
            rows.append(row)
    peak = max(r["peak_mib"] for r in rows)
    # The surge-mode decision (issue 17 item 4) and the rebalance module's default output
    # (item 5), with part 1's whole-run measurement.
    from .scale import measure_whole_run
    surge = [measure_whole_run(i, s, t, "surge") for i, s, t in (SIZES[:1] if quick else SIZES)]
    return {"command": "make bench  (python -m benchmarks.run --only cost)", "rows": rows,
            "baseline_mib": round(base, 1), "peak_mib": peak,
            "memory_size_min_mib": math.ceil(peak * MEMORY_HEADROOM), "surge": surge}


LABELS = {"steady": "steady state of one service", "instance": "a new empty instance",
          "schedule": "the schedule", "burst": f"a burst of {BURST} steady states"}


def render(res: dict) -> str:
    rows = []
    for r in res["rows"]:
        per = r["decisions"]
        rows.append([r["instances"], r["services"], r["tasks"], LABELS[r["trigger"]]
                     + (f" ({r['service_tasks']} tasks)" if r["trigger"] == "steady" else ""),
                     r["scope"], per, r["calls"] * per, r["shared_bucket_s"] * per,
                     round(r["pacing_wait_s"] * per, 1), round(r["cpu_s"] * per, 3),
                     r["peak_mib"]])
    return (table(["inst", "svcs", "tasks", "trigger", "scope read", "decisions", "ECS calls",
                   "shared read bucket s", "pacing wait s (api_read_rate 5)", "CPU s",
                   "peak MiB"], rows)
            + f"\n\nDry run on a balanced cluster (nothing to move), the handler against the "
              f"in-memory fake ECS. A burst counts {BURST_DECISIONS_WORST} decisions (the "
              f"queue's 60 s window straddled), each about the union of the batch's services. "
              f"Peak MiB = {res['baseline_mib']} MiB (a fresh interpreter with boto3 and the "
              f"engine) + the handler's peak growth (VmHWM). Largest peak {res['peak_mib']} "
              f"MiB; with 30% headroom the function needs at least "
              f"{res['memory_size_min_mib']} MiB."
            + ("\n\nSurge mode (every service minimumHealthyPercent 100, maximumPercent 200; "
               "scale-out layout), one check-mode decision, CPU seconds on one core (the "
               "median of 3 runs; every run's total beside it), and the rebalance module's "
               "default output:\n\n"
               + table(["inst", "svcs", "tasks", "read CPU s", "plan CPU s", "decide CPU s",
                        "total CPU s", "runs' totals", "granted moves", "output bytes"],
                       [[w["instances"], w["services"], w["tasks"], w["read_cpu_s"],
                         w["plan_cpu_s"], w["decide_cpu_s"], w["total_cpu_s"],
                         " / ".join(f"{t:g}" for t in w.get("total_cpu_s_runs", [])),
                         w["granted_moves"], w["output_bytes"]]
                        for w in res.get("surge", [])])))
