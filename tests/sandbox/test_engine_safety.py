"""The engine's safety contract (issue 10): one sandbox test per numbered defect of the engine
before the evictor rewrite (commit c5db65f), each written so it fails on that code.

Every test drives ``runner.rebalance`` against the in-process sandbox on its manual clock (see
``engine_harness``) and asserts outcomes: desiredCount, which tasks were stopped, tags,
protection (GetTaskProtection), task counts per instance, refusal codes and emulated time.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from engine_harness import (CLUSTER, SERVICE, SURGE_TAG, Clock, Killed, Proxy,
                            count_requests, describe_tasks, engine_client, kill_after_the_raise,
                            live_task_arns, protected_tasks, refusals, run_engine, service_doc,
                            skewed_cluster, spread, tags)
from ecs_world import World
from sandbox.scenario import Clients, Driver, Seed, steady

SURGE_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200)
STOP_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=50, max_percent=200)


def stopped_by(result) -> list[str]:
    return [t for a in result.to_dict()["actions"] for t in a["stopped_tasks"]]


def assert_clean(ecs, desired: int, service: str = SERVICE) -> None:
    """desiredCount is the one others set, no surge lock, no protection on any task."""
    doc = service_doc(ecs, service)
    assert doc["desiredCount"] == desired, f"desiredCount {doc['desiredCount']}, want {desired}"
    assert SURGE_TAG not in tags(ecs, service), tags(ecs, service)
    assert protected_tasks(ecs, live_task_arns(ecs, service)) == []


# ---------------------------------------------------------------- 1. surge lock overwritten
def test_1_killed_surge_keeps_its_lease_until_it_expires_then_is_healed(sandbox):
    """Defect 1, surge lock overwritten. Design: "A surge is a lock with an owner, a delta and a
    deadline: others skip it"; "A crash must never leave a service with a raised desired count
    or engine-added scale-in protection that nothing will undo." The lock is now the service's
    lease (a DynamoDB item, not a tag). A run killed right after UpdateService raised
    desiredCount leaves its lease and surge state; a run before the lease expires touches
    nothing (refused lease_held); a run after it restores by delta."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    assert spread(aws) == [4, 0]

    kill_after_the_raise(sandbox, wait_timeout=600, lease_seconds=120)
    killed_at = sandbox.now()
    raised = service_doc(ecs)["desiredCount"]
    assert raised == 5 and SURGE_TAG not in tags(ecs), tags(ecs)

    sandbox.advance(60)                          # a second run, well before the lease expires
    second = Proxy(engine_client(sandbox))
    result = run_engine(sandbox, ecs=second, wait_timeout=300)
    writes = [(n, kw) for n, kw in second.calls
              if n in ("update_service", "tag_resource", "untag_resource", "stop_task",
                       "update_task_protection")]
    assert service_doc(ecs)["desiredCount"] == raised, "the second run changed desiredCount"
    assert writes == [], f"the second run wrote to ECS while another run's lease held: {writes}"
    assert refusals(result) == {SERVICE: "lease_held"}
    assert result.changed is False

    sandbox.advance(killed_at + 120 + 3 - sandbox.now())
    healed = run_engine(sandbox, wait_timeout=900)
    assert SERVICE in healed.to_dict()["healed"]
    assert_clean(ecs, 4)
    assert spread(aws) == [2, 2]


# ---------------------------------------------------------------------- 2. stale restore
def test_2_a_scale_out_made_during_the_surge_stands(sandbox):
    """Defect 2, stale restore: "Service Auto Scaling or a person scaling 4 -> 6 during the
    surge is undone (ends at 4)". While the surge holds desiredCount at 5, a person sets 6 with
    UpdateService (desiredCount is absolute). The run ends at 6: neither the 4 read before
    the surge nor 6 minus the surge's delta."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    user = aws("ecs")
    scaled: list[int] = []

    def scale_out_during_surge() -> None:
        doc = service_doc(user)
        if not scaled and doc["desiredCount"] > 4:
            scaled.append(6)
            user.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=6)

    result = run_engine(sandbox, clock=Clock(sandbox, [scale_out_during_surge]),
                        wait_timeout=1800)
    assert scaled == [6], "the hook did not see the surge"
    assert_clean(user, 6)
    assert result.error == "", result.error
    assert sorted(spread(aws)) == [3, 3]


# ----------------------------------------------------------------- 3. budget starvation
def test_3_an_unmovable_service_spends_none_of_the_step_budget(sandbox):
    """Defect 3, budget starvation. Design: "an unmovable service spends nothing". A
    min100/max100 service that sorts first ("ECS: If both limits are 100%, deployments and
    draining cannot progress", so nothing of it can move) must not take the max_moves budget
    from the skewed 8/0 service after it: that one gets all 4 moves in the first step."""
    seed = Seed(azs=2, instances=2, tasks=8, min_healthy_percent=50, max_percent=200,
                instance_type="m5.xlarge")
    pinned = dict(desiredCount=4, availabilityZoneRebalancing="DISABLED",
                  deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 100})
    aws, _ = skewed_cluster(sandbox, seed, extra={"aaa-pinned": pinned})
    ecs = aws("ecs")
    assert spread(aws) == [8, 0] and spread(aws, "aaa-pinned") == [4, 0]
    pinned_tasks = live_task_arns(ecs, "aaa-pinned")
    loaded = {t["containerInstanceArn"] for t in describe_tasks(ecs, live_task_arns(ecs)).values()}

    result = run_engine(sandbox, max_moves=4, wait=False)
    by_service = {a["service"]: a["stopped_tasks"] for a in result.to_dict()["actions"]}
    assert len(by_service.get(SERVICE, [])) == 4, f"first step moved {by_service}"
    assert {t["containerInstanceArn"] for t in describe_tasks(
        ecs, by_service[SERVICE]).values()} == loaded
    assert "aaa-pinned" not in by_service
    assert live_task_arns(ecs, "aaa-pinned") == pinned_tasks
    assert refusals(result) == {"aaa-pinned": "no_disruption_budget"}
    assert result.decision.spent == 4


# ---------------------------------------------------------------- 6. user task protection
def _protect_planned_and_one_more(sandbox, ecs, **kw) -> tuple[list[str], str]:
    """The user protects the tasks the plan would move plus one more (3 of 4): returns
    (protected, the one left unprotected)."""
    preview = run_engine(sandbox, check_mode=True, **kw)
    planned = [m.task_arn for m in preview.plan.moves]
    others = [a for a in live_task_arns(ecs) if a not in planned]
    assert len(planned) == 2 and len(others) == 2
    chosen = planned + others[:1]
    ecs.update_task_protection(cluster=CLUSTER, tasks=chosen, protectionEnabled=True,
                               expiresInMinutes=120)
    return sorted(chosen), others[1]


def test_6_strategy_stop_never_stops_a_task_the_user_protected(sandbox):
    """Defect 6, user task protection (docs/ecs-facts.md §1.6: "StopTask is not documented to
    honour protection: a rebalancer must check it itself"; protection is set "by anyone with
    the API: nothing records who set it"). With 3 of 4 tasks protected by the user, strategy
    stop moves only the unprotected task, then refuses ("protected"), and removes no user
    protection."""
    aws, _ = skewed_cluster(sandbox, Seed(**STOP_SEED))
    ecs = aws("ecs")
    user_protected, free = _protect_planned_and_one_more(sandbox, ecs, max_moves=2)

    result = run_engine(sandbox, strategy="stop", max_moves=2)
    stopped = stopped_by(result)
    assert not set(stopped) & set(user_protected), f"stopped user-protected tasks {stopped}"
    assert stopped == [free]
    live = live_task_arns(ecs)
    assert set(user_protected) <= set(live)
    assert protected_tasks(ecs, live) == user_protected
    assert {s["code"] for s in result.to_dict()["skipped"]} == {"protected"}


def test_6_user_protection_under_min_healthy_100_does_not_waste_the_deadline(sandbox):
    """Defect 6, user task protection with minimumHealthyPercent 100 (docs/ecs-facts.md §2: "a
    service task with protectionEnabled=true is not stopped by scale-in ... until the
    protection is cleared or expires"). A surge whose leaving tasks are protected by the user
    could never scale in; the run must instead move only the unprotected task, end quickly
    with the reason, and leave the user's protection as it was."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    user_protected, free = _protect_planned_and_one_more(sandbox, ecs, max_moves=2)

    started = sandbox.now()
    result = run_engine(sandbox, max_moves=2, wait_timeout=1800)
    elapsed = sandbox.now() - started
    assert elapsed < 300, f"the run spent {elapsed:.0f} s of its 1800 s deadline"
    assert not result.timed_out, result.message()
    assert set(stopped_by(result)) <= {free}
    live = live_task_arns(ecs)
    assert set(user_protected) <= set(live)
    assert protected_tasks(ecs, live) == user_protected
    assert service_doc(ecs)["desiredCount"] == 4 and SURGE_TAG not in tags(ecs)
    assert "protected" in {s["code"] for s in result.to_dict()["skipped"]}


# ------------------------------------------------------------------ 7. one deadline per run
def test_7_one_deadline_per_run_no_surge_starts_that_cannot_finish(sandbox):
    """Defect 7, one deadline per run. Design: "one absolute deadline = wait_timeout from the
    start"; "Every wait of the run, a surge's included, ends by that deadline"; a surge starts
    only with surge_min_seconds (120) left. A load-balanced service (30 s health checks, 60 s
    deregistration delay: about 100 s a surge) needing four surges, wait_timeout 200: the run
    returns by its deadline, every surge started by deadline - 120 s and finished, nothing is
    left raised, locked or protected."""
    seed = Seed(azs=2, instances=2, tasks=8, min_healthy_percent=100, max_percent=200,
                instance_type="m5.xlarge")
    aws, _ = skewed_cluster(sandbox, seed, alb=dict(deregistration_delay=60,
                                                    health_check_interval=30))
    ecs = aws("ecs")
    assert spread(aws) == [8, 0]
    started = sandbox.now()
    changes: list[tuple[float, int]] = [(0.0, 8)]

    def watch() -> None:
        desired = service_doc(ecs)["desiredCount"]
        if desired != changes[-1][1]:
            changes.append((sandbox.now() - started, desired))

    result = run_engine(sandbox, clock=Clock(sandbox, [watch]), wait_timeout=200, max_moves=1)
    elapsed = sandbox.now() - started
    raises = [t for (t, d), (_, prev) in zip(changes[1:], changes) if d > prev]
    assert elapsed <= 200, f"the run took {elapsed:.0f} s for a 200 s deadline"
    assert raises, "no surge at all"
    assert all(t <= 200 - 120 + 1 for t in raises), f"surges raised at {raises} s"
    assert changes[-1][1] == 8 and all(t <= 200 for t, _ in changes), changes
    assert_clean(ecs, 8)
    assert "deadline" in {
        s["code"] for s in result.to_dict()["skipped"]}


# --------------------------------------------------------------- 8. stop, no healthy spare
def test_8_stop_without_a_healthy_spare_refuses_at_once(sandbox):
    """Defect 8, stop with no healthy spare (docs/ecs-facts.md §3.2: with a load balancer "the
    target must be healthy in the target group" to count toward minimumHealthyPercent; §7 /
    ALB: a new target is ``initial`` until its first health check passes). After the
    walkthrough's scale-in, two of the four tasks are replacements whose targets are still
    ``initial`` (300 s health check interval): 2 healthy = the floor ceil(4 x 50%). Strategy
    stop returns changed False, no action, the code no_disruption_budget, and does not wait."""
    aws, target_group = skewed_cluster(sandbox, Seed(**STOP_SEED),
                                       alb=dict(deregistration_delay=30,
                                                health_check_interval=300))
    assert spread(aws) == [4, 0]
    states = sorted(t["TargetHealth"]["State"] for t in aws("elbv2").describe_target_health(
        TargetGroupArn=target_group)["TargetHealthDescriptions"])
    assert states == ["healthy", "healthy", "initial", "initial"], states
    engine = Proxy(engine_client(sandbox))

    started = sandbox.now()
    result = run_engine(sandbox, ecs=engine, strategy="stop", wait_timeout=600)
    elapsed = sandbox.now() - started
    out = result.to_dict()
    assert result.changed is False
    assert out["actions"] == [] and out["moves"] == []
    assert elapsed < 3 * 5, f"waited {elapsed:.0f} s for nothing"
    assert [s["code"] for s in out["skipped"]] == ["no_disruption_budget"]
    assert engine.names()["stop_task"] == 0 and engine.names()["update_service"] == 0


# ---------------------------------------------------------- 9. floor with container health
def _health_checked_task_definition(ecs) -> str:
    td = ecs.register_task_definition(family="checked", containerDefinitions=[{
        "name": "web", "image": "nginx:1.27", "cpu": 256, "memory": 512,
        "portMappings": [{"containerPort": 80}],
        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                        "interval": 30, "timeout": 5, "retries": 3}}])["taskDefinition"]
    return f"{td['family']}:{td['revision']}"


def test_9_tasks_not_yet_healthy_are_not_spare(sandbox, aws):
    """Defect 9, floor with container health (docs/ecs-facts.md §3.2, API
    DeploymentConfiguration.minimumHealthyPercent: with a container health check "the task's
    healthStatus must be HEALTHY"). Two instances hold 2 + 2 HEALTHY tasks; the second's EC2
    instance stops (its tasks stop, docs/ecs-facts.md §5.2), ECS replaces them on the first, and
    the agent is back 30 s later. The two replacements are RUNNING but still UNKNOWN (the
    sandbox reports HEALTHY after task_healthy_after_seconds), so 2 healthy = the floor
    ceil(4 x 50%): nothing is spare and nothing is stopped; once they are HEALTHY, two are."""
    world = World(sandbox, aws)
    loaded = world.launch("us-east-1a")
    flaky = world.launch("us-east-1b")
    world.boot()
    world.service(SERVICE, 4, _health_checked_task_definition(world.ecs),
                  availabilityZoneRebalancing="DISABLED",
                  deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 100})
    driver = Driver(advance=sandbox.advance)
    driver.wait_for(lambda: steady(aws, CLUSTER, SERVICE), 300, what="steady")
    assert world.by_instance(SERVICE) == {loaded: 2, flaky: 2}
    ec2 = aws("ec2")
    ec2.stop_instances(InstanceIds=[flaky])
    ec2.start_instances(InstanceIds=[flaky])
    driver.wait_for(lambda: world.instance(flaky)["agentConnected"], 60, step=1)
    health = sorted(t["healthStatus"] for t in world.tasks(SERVICE))
    assert world.by_instance(SERVICE) == {loaded: 4}
    assert [t["lastStatus"] for t in world.tasks(SERVICE)] == ["RUNNING"] * 4
    assert health == ["HEALTHY", "HEALTHY", "UNKNOWN", "UNKNOWN"], health
    before = live_task_arns(world.ecs)

    result = run_engine(sandbox, wait=False, max_moves=2)
    assert stopped_by(result) == [], "stopped a task that ECS does not count as healthy"
    assert live_task_arns(world.ecs) == before
    assert refusals(result) == {SERVICE: "no_disruption_budget"}

    sandbox.advance(sandbox.config.task_healthy_after_seconds)
    assert {t["healthStatus"] for t in world.tasks(SERVICE)} == {"HEALTHY"}
    later = run_engine(sandbox, wait=False, max_moves=2)
    assert len(stopped_by(later)) == 2                      # 4 healthy - floor 2


# ------------------------------------------------------------------------ 10. bad input
@pytest.mark.parametrize("kw, message", [
    ({"protection_minutes": 0}, "protection_minutes must be between 1 and 2880"),
    ({"protection_minutes": 3000}, "protection_minutes must be between 1 and 2880"),
    ({"poll_interval": 0}, "poll_interval must be more than 0 and at most 300"),
    ({"poll_interval": 300, "wait_timeout": 200}, r"poll_interval \(300\) must not exceed "
                                                  r"wait_timeout \(200\)"),
    ({"max_moves_per_az": 0}, "max_moves_per_az must be between 1 and 1000000"),
], ids=["protection_0", "protection_3000", "poll_0", "poll_over_timeout", "per_az_0"])
def test_10_bad_input_raises_before_any_api_call(sandbox, aws, kw, message):
    """Defect 10, bad input (RebalanceRequest: "Everything a run needs, validated before any
    API call"; UpdateTaskProtection's expiresInMinutes is 1-2880, docs/ecs-facts.md §1.6): a
    ValueError, and zero requests reached the sandbox."""
    aws("ecs").create_cluster(clusterName=CLUSTER)
    ecs, elb = engine_client(sandbox), engine_client(sandbox, "elbv2")
    sent = count_requests(ecs)
    sent.update(count_requests(elb))
    proxy = Proxy(ecs)
    with pytest.raises(ValueError, match=message):
        run_engine(sandbox, ecs=proxy, elb=elb, **kw)
    assert proxy.calls == [] and sum(sent.values()) == 0, (proxy.calls, sent)


def test_10_aws_error_mid_step_keeps_the_record_of_what_happened(sandbox):
    """Defect 10, an AWS error in the middle of a step (the executor "reports only what
    happened": each stop is recorded as it happens). StopTask fails for the second of two
    granted tasks: the result keeps the first stopped task, sets ``error``, and that task (and
    only it) was stopped."""
    aws, _ = skewed_cluster(sandbox, Seed(**STOP_SEED))
    ecs = aws("ecs")
    asked: list[str] = []

    def fail_second_stop(name: str, kw: dict) -> None:
        if name == "stop_task":
            asked.append(kw["task"])
            if len(asked) == 2:
                raise ClientError({"Error": {"Code": "ServerException",
                                             "Message": "injected StopTask failure"}}, "StopTask")

    result = run_engine(sandbox, ecs=Proxy(engine_client(sandbox), before=fail_second_stop),
                        strategy="stop", max_moves=2)
    out = result.to_dict()
    assert len(asked) == 2
    assert out["actions"][0]["stopped_tasks"] == [asked[0]]
    assert "ServerException" in out["error"] and "injected StopTask failure" in out["error"]
    status = {arn: t["desiredStatus"] for arn, t in describe_tasks(ecs, asked).items()}
    assert status == {asked[0]: "STOPPED", asked[1]: "RUNNING"}


# ------------------------------------------------------------------------- no progress
def test_no_progress_step_is_not_repeated_until_the_shape_changes(sandbox, aws):
    """The no-progress breaker. Design: "A step whose re-read shows no progress is not repeated
    until the cluster's shape changes" (the shape: the step's cause, breaker.py). docs/ecs-facts.md §1.2: "Only instances with a connected
    agent accept placement"; 5.2: an EC2 stop disconnects the agent, which reconnects when the
    instance runs again. The destination's agent drops while the engine stops a task, so the
    replacement lands back on the same instance; the next run refuses (no_progress) instead of
    repeating, and acts again once an instance is added."""
    world = World(sandbox, aws)
    loaded = world.launch("us-east-1a")
    world.boot()
    world.service(SERVICE, 4, world.task_definition(), availabilityZoneRebalancing="DISABLED",
                  deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
    driver = Driver(advance=sandbox.advance)
    empty = world.launch("us-east-1b")
    world.boot()
    driver.wait_for(lambda: steady(aws, CLUSTER, SERVICE), 300, what="steady")
    assert world.by_instance(SERVICE) == {loaded: 4}
    ec2 = aws("ec2")
    flapped: list[str] = []

    def agent_drops(name: str, kw: dict) -> None:
        if name == "stop_task" and not flapped:
            ec2.stop_instances(InstanceIds=[empty])
            flapped.append(kw["task"])

    def agent_returns() -> None:
        if flapped and ec2.describe_instances(InstanceIds=[empty])["Reservations"][0][
                "Instances"][0]["State"]["Name"] == "stopped":
            ec2.start_instances(InstanceIds=[empty])

    first = run_engine(sandbox, ecs=Proxy(engine_client(sandbox), before=agent_drops),
                       clock=Clock(sandbox, [agent_returns]))
    assert stopped_by(first) == flapped and len(flapped) == 1
    driver.wait_for(lambda: world.instance(empty)["agentConnected"], 120, step=5)
    assert world.by_instance(SERVICE) == {loaded: 4}, "the replacement did not land back"

    again = run_engine(sandbox)
    assert stopped_by(again) == [], "the step that made no progress was repeated"
    assert refusals(again) == {SERVICE: "no_progress"}
    assert world.by_instance(SERVICE) == {loaded: 4}
    # The record is in the service's lease item: never in the service's tags (others own
    # them), nor on a task (it would go with the task).
    assert set(tags(world.ecs)) == set()
    assert not any(world.ecs.list_tags_for_resource(resourceArn=t["taskArn"])["tags"]
                   for t in world.tasks(SERVICE))
    arn = world.describe_service(SERVICE)["serviceArn"]
    item = aws("dynamodb").get_item(TableName="taskspread-ecs-leases",
                                    Key={"service": {"S": arn}})["Item"]
    assert '"mode": "stop"' in item["rec_no_progress"]["S"]

    added = world.launch("us-east-1b")
    world.boot()
    later = run_engine(sandbox)
    assert stopped_by(later), "nothing moved after the cluster's shape changed"
    final = world.by_instance(SERVICE)
    assert final[loaded] == 2 and final[empty] + final[added] == 2, final


# ------------------------------------------- 1 (bis). protection never outlives the lock
def test_1_protection_added_late_in_a_surge_expires_by_the_lock_deadline(sandbox):
    """Defect 1 (the protection half). lock.py: "the protection the surge adds expires by then
    (its expiry is computed from it), so a killed run leaves nothing that outlives the lock";
    executor: "protection expiry never later than the run's deadline". Here the surge's new
    target turns healthy (170 s health check interval) only about 25 s before the run's 200 s
    deadline; the run protects the tasks that stay and is killed. No protection it added may
    expire after the lock's deadline."""
    aws, target_group = skewed_cluster(sandbox, Seed(**SURGE_SEED),
                                       alb=dict(deregistration_delay=30,
                                                health_check_interval=170))
    ecs = aws("ecs")
    assert spread(aws) == [4, 0]
    # ``auto`` starts no surge while targets are unhealthy (targets_unhealthy): let the two
    # replacements' targets pass their first health check first.
    Driver(advance=sandbox.advance).wait_for(lambda: all(
        d["TargetHealth"]["State"] == "healthy" for d in aws("elbv2").describe_target_health(
            TargetGroupArn=target_group)["TargetHealthDescriptions"]), 400, what="healthy")

    def die_after_protecting(name: str, kw: dict) -> None:
        if name == "update_task_protection" and kw.get("protectionEnabled"):
            mortal.kill()

    mortal = Proxy(engine_client(sandbox), after=die_after_protecting)
    started = sandbox.now()
    try:
        result = run_engine(sandbox, ecs=mortal, wait_timeout=200)
    except Killed:
        result = None
    deadline = started + 200                     # the run's deadline bounds its protection
    arns = live_task_arns(ecs)
    expiries = {p["taskArn"]: p["expirationDate"].timestamp() for p in ecs.get_task_protection(
        cluster=CLUSTER, tasks=arns)["protectedTasks"] if p["protectionEnabled"]}
    late = {arn: round(at - deadline) for arn, at in expiries.items() if at > deadline}
    assert not late, (f"protection added late in a 200 s run outlives the surge lock's "
                      f"deadline by {sorted(late.values())} s")
    if result is not None:
        # With under a minute left (protection expires in whole minutes) the surge is given
        # up before protecting anything: desiredCount back, no lock, and the result says so.
        assert expiries == {} and "less than a minute left" in result.error, result.error
        assert SURGE_TAG not in tags(ecs)
        svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        assert svc["desiredCount"] == SURGE_SEED["tasks"]


def test_the_chaos_harness_sees_a_surge_left_in_the_lease_item(sandbox):
    """The chaos suite's observer (its "mid-surge" events and its desiredCount and leftovers
    invariants) finds a killed run's surge where the surge now lives, in the lease item: ECS
    tags hold none since the lease."""
    from tests.chaos.world import World as ChaosWorld

    skewed_cluster(sandbox, Seed(**SURGE_SEED))
    watcher = ChaosWorld(sandbox=sandbox, aws=Clients(sandbox.endpoint), scenario=None)
    assert watcher.pending_surges() == {}
    kill_after_the_raise(sandbox, wait_timeout=600)
    assert watcher.pending_surges() == {SERVICE: "phase=raising delta=1 set=5"}
    sandbox.advance(700)                          # the lease runs out; the next run heals it
    run_engine(sandbox, wait_timeout=300, wait=False)
    assert watcher.pending_surges() == {}
