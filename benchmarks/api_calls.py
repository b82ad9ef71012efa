"""Part 3: ECS API calls per rebalance decision (snapshot + plan + one executor step, stop
mode), for the engine and for the reference architecture's Lambda.

A fake ECS client serves a synthetic cluster (the planner benchmark's scale-out snapshots) with
AWS's page and batch sizes: ListContainerInstances and ListTasks 100 per page, ListServices 10
per page unless the caller asks for up to 100 (``PaginationConfig.PageSize``, as the engine's
snapshot does), DescribeContainerInstances and DescribeTasks up to 100, DescribeServices up to 10. Every
request counts one call; the engine's own count (``ClusterSnapshot.api_calls`` + the
executor's counting client) is cross-checked against the fake's.

The reference behaviour (the AWS "Rebalancing Amazon ECS Tasks using AWS Lambda" function):
list the services, then per service DescribeServices, DescribeTaskDefinition,
RegisterTaskDefinition and UpdateService.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import replace

from .common import ENGINE, table
from tests.unit.engine.snapshot_ecs import FakeEcs  # noqa: E402  (after .common sets sys.path)


def engine_decision(snap, max_moves: int | None) -> dict:
    """snapshot + plan + the evictor's decision + one executor step in stop mode; calls by
    kind (the evictor reads task protection of the tasks it would stop). Each service the step
    acts on is held under its lease, in moto's in-process DynamoDB: the lease's calls go to
    DynamoDB, not to ECS's buckets, and are counted apart (``lease_calls``)."""
    import boto3
    from moto import mock_aws
    eng = importlib.import_module(ENGINE)
    evictor = importlib.import_module(f"{ENGINE}.evictor")
    executor = importlib.import_module(f"{ENGINE}.executor")
    aws_client = importlib.import_module(f"{ENGINE}.aws_client")
    deadline_mod = importlib.import_module(f"{ENGINE}.deadline")
    lease_mod = importlib.import_module(f"{ENGINE}.lease")
    fake = FakeEcs(snap)
    read = eng.take_snapshot(fake, snap.cluster_name)
    plan = eng.plan(read)
    api = aws_client.CountingClient(fake)
    deadline = deadline_mod.Deadline(lambda: 0.0, 900)
    with mock_aws():
        dynamodb = aws_client.CountingClient(boto3.client("dynamodb", region_name="us-east-1"))
        leases = lease_mod.LeaseStore(dynamodb, run_id="bench", clock=lambda: 0.0,
                                      sleep=lambda s: None)
        leases.ensure_table(create=True)
        before = dynamodb.calls
        decision = evictor.Evictor(api, read.cluster_arn, evictor.Limits(
            strategy="stop", max_moves=max_moves), deadline, leases=leases).decide(read, plan)
        step = executor.Executor(api, read.cluster_arn, deadline, "bench",
                                 sleep=lambda s: None, leases=leases).execute(decision)
        lease_calls = dynamodb.calls - before
    total = sum(fake.calls.values())
    assert total == read.api_calls + api.calls, (total, read.api_calls, api.calls)
    return {"read": read.api_calls, "step": api.calls, "total": total,
            "stopped": len(step.moves), "by_operation": dict(sorted(fake.calls.items())),
            "lease_calls": lease_calls}


def reference_decision(snap) -> dict:
    """The reference Lambda: list services, then 4 calls per service."""
    fake = FakeEcs(snap)
    arns = [a for page in fake.get_paginator("list_services").paginate(cluster="c")
            for a in page["serviceArns"]]
    for arn in arns:
        svc = fake.describe_services(cluster="c", services=[arn])["services"][0]
        fake.describe_task_definition(taskDefinition=svc["taskDefinition"])
        fake.register_task_definition(family=svc["serviceName"])
        fake.update_service(cluster="c", service=arn, taskDefinition="new")
    return {"total": sum(fake.calls.values()), "restarted": snap.task_count(),
            "by_operation": dict(sorted(fake.calls.items()))}


# Sustained request rates per account and region, shared with every other caller
# (docs/ecs-facts.md §1.7, request-throttling.html): ListTasks and DescribeTasks share one
# bucket; StopTask and UpdateService have their own.
READ_BUCKET_PER_S = 20.0
STOP_TASK_PER_S = 40.0
UPDATE_SERVICE_PER_S = 5.0


def budget(engine_ops: dict, reference_ops: dict) -> dict:
    """Seconds of ECS's shared request buckets one decision spends (issue 12.2)."""
    read = engine_ops.get("list_tasks", 0) + engine_ops.get("describe_tasks", 0)
    return {"engine_read_bucket_calls": read,
            "engine_read_bucket_s": round(read / READ_BUCKET_PER_S, 1),
            "engine_stop_task_s": round(engine_ops.get("stop_task", 0) / STOP_TASK_PER_S, 1),
            "reference_read_bucket_calls": reference_ops.get("list_tasks", 0)
            + reference_ops.get("describe_tasks", 0),
            "reference_update_service_s": round(
                reference_ops.get("update_service", 0) / UPDATE_SERVICE_PER_S, 1)}


# (instances, services, tasks): the scale series, then one dimension varied at a time.
GRID = [(10, 10, 200), (100, 50, 2_000), (1_000, 200, 20_000), (5_000, 500, 100_000),
        (1_000, 10, 2_000), (1_000, 100, 2_000), (1_000, 500, 2_000),
        (100, 50, 500), (100, 50, 10_000)]


def run(quick: bool = False) -> dict:
    from tests.unit.engine.factories import synthetic_cluster
    rows = []
    for instances, services, tasks in (GRID[:3] + GRID[4:] if quick else GRID):
        snap = synthetic_cluster(instances, 3, services, tasks, skew="scale-out", seed=0)
        # minimumHealthyPercent 50 so that stop mode has spare tasks to stop.
        snap = replace(snap, services={n: replace(s, min_healthy_percent=50)
                                       for n, s in snap.services.items()})
        formula = (instances + tasks) / 100 + services / 10
        row = {"instances": instances, "services": services, "tasks": tasks,
               "formula_(I+T)/100+S/10": round(formula, 1)}
        for label, max_moves in (("engine_budget10", None), ("engine_budget1", 1)):
            e = engine_decision(snap, max_moves)
            row[f"{label}_read"], row[f"{label}_step"] = e["read"], e["step"]
            row[f"{label}_total"], row[f"{label}_stopped"] = e["total"], e["stopped"]
            row[f"{label}_by_operation"] = e["by_operation"]
            row[f"{label}_lease_calls"] = e["lease_calls"]
        batched = 1 + 2 * math.ceil(instances / 100) + math.ceil(services / 100) \
            + math.ceil(services / 10) + 2 * math.ceil(tasks / 100)
        row["engine_read_batched_part"] = batched
        row["engine_read_task_definitions"] = row["engine_budget1_by_operation"].get(
            "describe_task_definition", 0)
        ref = reference_decision(snap)
        row["reference_total"], row["reference_restarted"] = ref["total"], ref["restarted"]
        row["reference_by_operation"] = ref["by_operation"]
        row["budget"] = budget(row["engine_budget10_by_operation"], ref["by_operation"])
        rows.append(row)
    return {"command": "make bench  (python -m benchmarks.run --only api)", "rows": rows,
            "notes": (
                "read = DescribeClusters + List/Describe ContainerInstances + List/Describe "
                "Services + one DescribeTaskDefinition per distinct task definition + "
                "List/Describe Tasks; step = GetTaskProtection of the tasks on the moves' source "
                "instances (100 a call) + StopTask calls (one per task: StopTask takes one "
                "task) + one DescribeServices per service stopped from (its counts re-read right "
                "before its first stop: tasks lost since the read send it back to be "
                "re-planned). Not ECS calls, so not in these counts: the lease of each service acted on "
                "(DynamoDB GetItem/PutItem/UpdateItem, in moto here; the step's record is written "
                "with the lease's release), engine_budget*_lease_calls. engine_budget10 = default "
                "max_moves (10% of tasks); engine_budget1 = "
                "max_moves 1. The batched part of the read is 1 + 2*ceil(I/100) + ceil(S/100) "
                "(ListServices, pages of 100) + ceil(S/10) + 2*ceil(T/100) ~ 2x the formula; DescribeTaskDefinition has no batch form, "
                "so distinct task definitions add one call each (here every service has its "
                "own).")}


def render_budget(res: dict) -> str:
    """Issue 12.2: seconds of the shared buckets per decision, engine vs reference."""
    rows = [[r["instances"], r["services"], r["tasks"], r["budget"]["engine_read_bucket_calls"],
             r["budget"]["engine_read_bucket_s"], r["engine_budget10_stopped"],
             r["budget"]["engine_stop_task_s"], r["budget"]["reference_read_bucket_calls"],
             r["reference_by_operation"].get("update_service", 0),
             r["budget"]["reference_update_service_s"]] for r in res["rows"] if "budget" in r]
    return ("API budget per decision (default budget, stop mode): seconds of ECS's shared "
            f"ListTasks+DescribeTasks bucket at ~{READ_BUCKET_PER_S:g} requests/s sustained, "
            f"StopTask at ~{STOP_TASK_PER_S:g}/s, UpdateService at ~{UPDATE_SERVICE_PER_S:g}/s "
            "(docs/ecs-facts.md §1.7; shared per account and region with every other caller).\n\n"
            + table(["inst", "svcs", "tasks", "engine List+DescribeTasks calls",
                     "engine read-bucket s", "engine stops", "engine StopTask s",
                     "reference List+DescribeTasks calls", "reference UpdateService calls",
                     "reference UpdateService s"], rows))


def render(res: dict) -> str:
    rows = [[r["instances"], r["services"], r["tasks"], r["formula_(I+T)/100+S/10"],
             r["engine_read_batched_part"], r["engine_read_task_definitions"],
             r["engine_budget1_total"], r["engine_budget10_step"], r["engine_budget10_total"],
             r["reference_total"], r["reference_restarted"]] for r in res["rows"]]
    return (table(["inst", "svcs", "tasks", "(I+T)/100+S/10", "engine read: batched",
                   "+ task defs", "engine total (max_moves 1)", "stops (default budget)",
                   "engine total (default budget)", "reference calls",
                   "reference tasks restarted"], rows) + "\n\n" + res["notes"]
            + "\n\n" + render_budget(res))
