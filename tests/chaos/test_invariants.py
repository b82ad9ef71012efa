"""The suite's own parts: each invariant fires on a record that breaks it and stays quiet on
one that keeps it, the kill switch kills exactly the Nth call and every later one, the
generator is pure, and the floor watch sees a breach the sandbox produces while excusing
tasks lost with a drained instance. A chaos suite whose checks never fire proves nothing.
"""

from __future__ import annotations

import boto3
from botocore.awsrequest import AWSResponse
import pytest

from . import invariants
from .generator import SETTLE_RUNS, generate
from .harness import AfterRun, Killed, KillSwitch, Record, RunOutcome
from .observer import Breach, FloorWatch

ENGINE_STOP = "taskspread.ecs rebalancing: moving a task from an over-target instance"


def dist(instances: dict[str, int], balanced: bool = True, skip: dict | None = None) -> dict:
    return {"instances": instances, "ineligible": {}, "azs": {}, "balanced": balanced,
            "skip": skip, "skew": {}}


def report(before: dict, after: dict, moves=(), skipped=()) -> dict:
    return {"before": before, "after": after, "moves": list(moves), "skipped": list(skipped),
            "message": "test"}


def run(index: int, rep: dict | None, phase: str = "settle", **kw) -> RunOutcome:
    return RunOutcome(index=index, phase=phase, run_id=f"r{index}", started=0.0, report=rep,
                      **kw)


def record(*runs: RunOutcome, after=(), user_stopped=None) -> Record:
    return Record(scenario=generate(1), runs=list(runs), after=list(after),
                  user_stopped=user_stopped or {})


def after_run(desired=5, expected=5, surge=None, protected=()) -> AfterRun:
    return AfterRun(run=0, at=0.0, desired={"web": desired}, expected={"web": expected},
                    surge_tags=surge or {}, engine_protected=list(protected))


# ----------------------------------------------------------------------- invariants
def test_desired_count_must_be_what_others_set_unless_a_surge_is_held():
    assert invariants.desired_count(record(after=[after_run(4, 5)])) == [
        "desired: after run 0 web has desiredCount 4, others set 5"]
    assert invariants.desired_count(record(after=[after_run(5, 5)])) == []
    held = after_run(6, 5, surge={"web": "v2 owner=x phase=raising"})
    assert invariants.desired_count(record(after=[held])) == []


def test_user_protection_fires_only_on_the_engine_stop_reason():
    rec = record(user_stopped={"arn:task/chaos/aaa": ENGINE_STOP,
                               "arn:task/chaos/bbb": "Scaling activity initiated by (x)"})
    assert invariants.user_protection(rec) == [
        f"user-protection: protected task aaa stopped: {ENGINE_STOP!r}"]
    cleared = after_run()
    cleared.user_unprotected = ["arn:task/chaos/ccc"]
    assert invariants.user_protection(record(after=[cleared])) == [
        "user-protection: after run 0 the protection of 1 task(s) the user protected is gone"]


def test_leftovers_are_surge_tags_and_protection_the_user_did_not_add():
    rec = record(after=[after_run(surge={"web": "v2 owner=r0"}, protected=["t1", "t2"])])
    assert invariants.leftovers(rec) == [
        "leftovers: after run 0 web still has a surge left (v2 owner=r0)",
        "leftovers: after run 0 2 task(s) protected that the user did not protect"]
    assert invariants.leftovers(record(after=[after_run()])) == []


def test_balanced_accepts_a_skip_with_a_reason_but_not_silence():
    unbalanced = dist({"i-1": 3, "i-2": 0}, balanced=False)
    bad = record(run(0, report({"web": unbalanced}, {"web": unbalanced})))
    assert invariants.balanced(bad) == [
        f"balanced: after 1 of {SETTLE_RUNS} quiet runs not balanced and not skipped: web "
        "instances=[3, 0] azs={} skew={}"]
    skipped = record(run(0, report({"web": unbalanced}, {"web": unbalanced},
                                   skipped=[{"service": "web", "code": "protected"}])))
    assert invariants.balanced(skipped) == []
    killed = record(run(0, None, killed="killed before call 3 (ListTasks)"))
    assert invariants.balanced(killed) == [
        "balanced: the last quiet run did not complete (killed before call 3 (ListTasks))"]


def test_no_repeat_fires_only_without_progress_and_on_the_same_shape():
    shape = dist({"i-1": 3, "i-2": 0}, balanced=False)
    moved = dist({"i-1": 2, "i-2": 1})
    move = {"service": "web", "source_instance": "i-1"}
    stuck = record(run(0, report({"web": shape}, {"web": shape}, [move])),
                   run(1, report({"web": shape}, {"web": shape}, [move])))
    assert invariants.no_repeat(stuck) == [
        "no-repeat: run 1 repeated run 0's move of web from i-1 though it made no progress"]
    progressed = record(run(0, report({"web": shape}, {"web": moved}, [move])),
                        run(1, report({"web": shape}, {"web": shape}, [move])))
    assert invariants.no_repeat(progressed) == []
    reshaped = dist({"i-1": 3, "i-2": 0, "i-3": 0}, balanced=False)
    new_shape = record(run(0, report({"web": shape}, {"web": shape}, [move])),
                       run(1, report({"web": reshaped}, {"web": reshaped}, [move])))
    assert invariants.no_repeat(new_shape) == []


def test_floor_groups_consecutive_ticks_into_episodes_and_reports_a_blind_watch():
    watch = FloorWatch(sandbox=None, cluster="chaos", min_healthy={"web": 100})
    watch.breaches["web"] = [Breach(at=t, tick=tick, service="web", running=3, floor=4,
                                    expected=4, excused=0, recent_stops=[])
                             for t, tick in ((10, 1), (11, 2), (50, 9))]
    rec = record()
    rec.watch = watch
    assert invariants.floor(rec) == [
        "floor: web below its floor in 2 episode(s): t+10s web: 3 running < floor 4 "
        "(others set 4, excused 0); stops in the last 60 s: none [2 tick(s)]; "
        "then t+50s web: 3 running < floor 4 (others set 4, excused 0); stops "
        "in the last 60 s: none [1 tick(s)]"]
    watch.error = "AttributeError: 'Task' object has no attribute 'last_status'"
    assert invariants.floor(rec) == [
        "floor: the watch could not read the sandbox (AttributeError: 'Task' object has no "
        "attribute 'last_status')"]


def test_an_escaped_exception_is_a_crash():
    rec = record(run(0, None, crashed="KeyError: 'tags'"))
    assert invariants.crashes(rec) == ["crash: run r0 raised KeyError: 'tags'"]


# ------------------------------------------------------------------------ the kill
def answered_ecs() -> tuple[object, list[str]]:
    """An ECS client whose calls are answered locally (the endpoint is never reached), and
    the list of operations that got an answer, i.e. reached "ECS"."""
    client = boto3.client("ecs", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    answered: list[str] = []

    def answer(model, **_):
        answered.append(model.name)
        return AWSResponse("http://127.0.0.1:9", 200, {}, None), {"clusterArns": [], "service": {}}

    client.meta.events.register("before-call.ecs", answer)
    return client, answered


@pytest.mark.parametrize("after_landing", [False, True])
def test_kill_switch_kills_the_nth_call_and_every_later_one(after_landing):
    client, answered = answered_ecs()
    switch = KillSwitch(at_call=2, after_landing=after_landing)
    switch.install(client)
    assert client.list_clusters()["clusterArns"] == []
    with pytest.raises(Killed, match="call 2 \\(ListClusters\\)"):
        client.list_clusters()
    with pytest.raises(Killed, match="call after the kill: ListClusters"):
        client.list_clusters()
    landed = " landed" if after_landing else ""
    assert switch.describe() == (f"killed {'after' if after_landing else 'before'} call 2 "
                                 f"(ListClusters){landed}; 1 later call(s) refused")
    # the killed call reached ECS only when the kill came after it landed; nothing after it
    assert answered == ["ListClusters"] * (2 if after_landing else 1)
    # a kill is not an Exception: nothing in the engine catches it by accident
    assert not issubclass(Killed, Exception)


def test_kill_switch_counting_writes_ignores_reads():
    client, answered = answered_ecs()
    KillSwitch(at_call=1, after_landing=False, counts="writes").install(client)
    client.list_clusters()
    with pytest.raises(Killed, match="UpdateService"):
        client.update_service(cluster="c", service="s", desiredCount=1)
    assert answered == ["ListClusters"]


# ----------------------------------------------------------------------- generator
def test_generator_is_pure_and_within_the_issue_ranges():
    features = frozenset({"capacity_providers", "scheduled_actions"})
    assert generate(7, features) == generate(7, features)
    for seed in range(40):
        sc = generate(seed, features)
        assert 1 <= sc.azs <= 3 and 1 <= len(sc.services) <= 15
        assert len({g.instance_type for g in sc.groups}) == len(sc.groups)
        assert all(s.az_rebalancing in ("ENABLED", "DISABLED") for s in sc.services)
        assert all(s.max_percent > 100 and s.strategy in ("default", "az-instance")
                   for s in sc.services if s.az_rebalancing == "ENABLED")
        assert [r.phase for r in sc.runs][-SETTLE_RUNS:] == ["settle"] * SETTLE_RUNS
    assert not any(s.providers for seed in range(40) for s in generate(seed).services)
    weighted = [s for seed in range(200) for s in generate(seed, features).services
                if s.weights]
    assert weighted and all(len(s.providers) == 2 and s.strategy_items[1]["base"] == 0
                            for s in weighted)


# --------------------------------------------------------------------- floor watch
def test_floor_watch_reports_stops_below_the_floor_and_excuses_a_drain(sandbox, aws):
    """minimumHealthyPercent: "a lower limit on the number of your service's tasks that must
    remain in the RUNNING state ... as a percentage of the desiredCount (rounded up)" (API
    DeploymentConfiguration). Draining: "tasks that are part of a service ... are replaced"
    (container-instance-draining): tasks lost with a drained instance are ECS's doing."""
    from tests.sandbox.ecs_world import World

    world = World(sandbox, aws, cluster="chaos")
    for az in ("us-east-1a", "us-east-1b"):
        world.launch(az)
    world.boot()
    world.service("web", 4, deploymentConfiguration={"minimumHealthyPercent": 50},
                  launchType="EC2")
    world.settle(120)
    watch = FloorWatch(sandbox, "chaos", {"web": 50})
    sandbox.runtime.on_tick(watch)
    watch.arm({"web": 4})
    on_first = [t for t in world.tasks("web")
                if t["containerInstanceArn"] == world.tasks("web")[0]["containerInstanceArn"]]
    watch.excuse("web", {t["taskArn"] for t in on_first})
    world.ecs.update_container_instances_state(
        cluster="chaos", containerInstances=[on_first[0]["containerInstanceArn"]],
        status="DRAINING")
    world.settle(120)
    assert watch.breaches == {}
    for task in world.tasks("web")[:3]:
        world.ecs.stop_task(cluster="chaos", task=task["taskArn"], reason="test")
    assert watch.breaches["web"][0].running == 1 and watch.breaches["web"][0].floor == 2


def test_bake_watch_reports_engine_stops_only_while_a_blue_green_deployment_runs(sandbox, aws):
    """A task the engine stops while its service's blue/green deployment is in progress (bake
    included) is a violation (docs/ecs-facts.md §1.11); someone else's stop is not, and nor is
    the engine's once the deployment has ended."""
    from tests.sandbox.ecs_world import World

    from .observer import BakeWatch

    world = World(sandbox, aws, cluster="chaos")
    for az in ("us-east-1a", "us-east-1b"):
        world.launch(az)
    world.boot()
    world.service("web", 2, launchType="EC2", deploymentConfiguration={
        "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 20})
    world.settle(120)
    watch = BakeWatch(sandbox, "chaos", ["web"])
    sandbox.runtime.on_tick(watch)
    world.ecs.update_service(cluster="chaos", service="web", forceNewDeployment=True)
    world.settle(120)                                   # both revisions run, baking
    first, second, *_ = sorted(t["taskArn"] for t in world.tasks("web"))
    world.ecs.stop_task(cluster="chaos", task=first, reason="someone else")
    world.ecs.stop_task(cluster="chaos", task=second, reason=ENGINE_STOP)
    assert [line.split(":")[0] for line in watch.stops] == ["web"]
    assert second.rsplit("/", 1)[-1] in watch.stops[0] and "BAKE_TIME" in watch.stops[0]
    world.settle(25 * 60)                               # the bake ends, blue is cleaned up
    world.ecs.stop_task(cluster="chaos", task=world.tasks("web")[0]["taskArn"],
                        reason=ENGINE_STOP)
    world.settle(5)
    assert len(watch.stops) == 1 and watch.error == ""
    rec = record()
    rec.bake = watch
    assert invariants.blue_green(rec) == [f"blue-green: {watch.stops[0]}"]


def test_floor_watch_excuses_ecs_scaling_in_a_running_task_before_a_pending_one():
    """Others lower desiredCount while a task is still PENDING: ECS's scale-in picks the AZ
    and instance with the most tasks (docs/ecs-facts.md §2) and may stop a RUNNING task. The
    dip below the new floor is ECS's doing, up to the decrease and the tasks not yet running;
    one stop more is a breach (fresh seeds 855176 and 28299 found the first case)."""
    from types import SimpleNamespace

    def task(n, last="RUNNING", desired="RUNNING"):
        return SimpleNamespace(arn=f"t{n}", id=f"t{n}", last_status=last, desired_status=desired,
                               stopping_at=0, stopped_at=0, updated_at=0, stopped_reason="")

    tasks = {f"t{n}": task(n) for n in range(6)}
    tasks["t6"] = task(6, last="PENDING")
    svc = SimpleNamespace(tasks=tasks, desired_count=7)
    sandbox = SimpleNamespace(ecs=SimpleNamespace(services={("c", "web"): svc}), now=lambda: 0.0)
    watch = FloorWatch(sandbox, "c", {"web": 100})
    watch.arm({"web": 7})
    watch.others_set("web", 6)                      # 7 -> 6 by someone else
    svc.desired_count = 6
    tasks["t0"].desired_status = "STOPPED"          # ECS scales in a RUNNING task
    watch()
    assert watch.breaches == {}                     # 5 running < floor 6: excused (1 PENDING)
    tasks["t1"].desired_status = "STOPPED"          # one more: nobody explains it
    watch()
    assert [b.running for b in watch.breaches["web"]] == [4]
    tasks["t6"].last_status = "RUNNING"
    for n in (7, 8):
        tasks[f"t{n}"] = task(n)
    watch()                                          # back at the floor: the excuse ends
    assert "web" not in watch.lowered
