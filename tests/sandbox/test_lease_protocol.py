"""The surge and the lock as a protocol (issue 16 items 1-3): the per-service lease in DynamoDB,
health as ECS counts it, writes that cannot undo others. Each test drives ``runner.rebalance``
against the in-process sandbox on its manual clock (``engine_harness``) and asserts outcomes:
desiredCount, healthy tasks over time, protection, the lease item, ECS writes, refusal codes.
Each fails on the tag-lock engine (commit a04685b) where it names a defect."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from engine_harness import (CLUSTER, SERVICE, SURGE_TAG, Clock, Proxy, engine_client,
                            kill_after_the_raise, live_task_arns, protected_tasks, refusals,
                            run_engine, service_doc, skewed_cluster, spread, tags)
from ecs_world import World
from sandbox.process import BIN, ROOT, ansible_env
from sandbox.scenario import Driver, Seed, steady

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import (
    DEFAULT_TABLE, EXPIRY_MARGIN_SECONDS,
)

SURGE_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200)
ECS_WRITES = ("update_service", "update_task_protection", "stop_task", "tag_resource",
              "untag_resource")


def writes(proxy: Proxy) -> list[tuple[str, dict]]:
    return [(n, kw) for n, kw in proxy.calls if n in ECS_WRITES]


def lease_item(sandbox, ecs) -> dict:
    arn = service_doc(ecs)["serviceArn"]
    return engine_client(sandbox, "dynamodb").get_item(
        TableName=DEFAULT_TABLE, Key={"service": {"S": arn}}, ConsistentRead=True).get("Item", {})


def assert_clean(ecs, desired: int) -> None:
    doc = service_doc(ecs)
    assert doc["desiredCount"] == desired, f"desiredCount {doc['desiredCount']}, want {desired}"
    assert not [k for k in tags(ecs) if k.startswith("taskspread:")], tags(ecs)
    assert protected_tasks(ecs, live_task_arns(ecs)) == []


def healthy_targets(aws, target_group: str) -> int:
    return sum(d["TargetHealth"]["State"] == "healthy" for d in aws("elbv2").describe_target_health(
        TargetGroupArn=target_group)["TargetHealthDescriptions"])


def raised(ecs) -> bool:
    return service_doc(ecs)["desiredCount"] > 4


# ------------------------------------------------------------------ 1. compare-and-swap
def test_a_late_claim_cannot_win_two_runs_one_lease(sandbox):
    """Run A reads the lease free; before its claim lands, run B starts, claims, surges and
    finishes. A's claim (compare-and-swap on what it read) then fails: A writes nothing to the
    service, and desiredCount ends at the user's 4 (the tag lock let both surges interleave
    and ended at 5)."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    inner: list = []

    def b_runs_first(name: str, kw: dict) -> None:
        if name == "update_item" and kw.get("ReturnValues") == "ALL_NEW" and not inner:
            inner.append(run_engine(sandbox, wait_timeout=900, run_id="run-b"))

    a_ddb = Proxy(engine_client(sandbox, "dynamodb"), before=b_runs_first)
    a_ecs = Proxy(engine_client(sandbox))
    first = run_engine(sandbox, ecs=a_ecs, ddb=a_ddb, wait_timeout=900, run_id="run-a")
    assert inner and inner[0].error == "", inner
    assert inner[0].moves, "run B moved nothing"
    assert writes(a_ecs) == [], f"run A wrote to ECS without the lease: {writes(a_ecs)}"
    assert refusals(first) == {SERVICE: "lease_held"} or \
        {s["code"] for s in first.to_dict()["skipped"]} == {"lease_held"}
    assert_clean(ecs, 4)
    assert sorted(spread(aws)) == [2, 2]


def test_lease_deleted_mid_surge_the_next_fenced_write_fails_and_the_count_comes_back(sandbox):
    """The lease item is deleted while the surge holds desiredCount at 5 (as a person deleting
    the lock tag did). The run's next fenced write fails; it claims the now free lease again
    and undoes its own raise: desiredCount ends at the user's 4, nothing protected."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    ddb = engine_client(sandbox, "dynamodb")
    deleted: list[str] = []

    def delete_lease() -> None:
        if not deleted and raised(ecs):
            arn = service_doc(ecs)["serviceArn"]
            ddb.delete_item(TableName=DEFAULT_TABLE, Key={"service": {"S": arn}})
            deleted.append(arn)

    result = run_engine(sandbox, clock=Clock(sandbox, [delete_lease]), wait_timeout=900)
    assert deleted, "the hook never saw the surge"
    assert "lease" in result.error and "lost" in result.error, result.error
    assert_clean(ecs, 4)


# ------------------------------------------------------------ 2. health as ECS counts it
def test_abandoned_surge_keeps_healthy_tasks_at_the_floor(sandbox):
    """minimumHealthyPercent 100 behind an ALB whose health checks take 300 s: the deadline
    comes before the surge's new target is healthy. The abandoned surge protects the healthy
    tasks before lowering, so ECS scales in the new, unhealthy one: 4 healthy targets at every
    second (the tag-lock engine lowered with the leaving tasks unprotected: 2 of 4)."""
    aws, tg = skewed_cluster(sandbox, Seed(**SURGE_SEED),
                             alb=dict(deregistration_delay=30, health_check_interval=300))
    ecs = aws("ecs")
    Driver(advance=sandbox.advance).wait_for(lambda: healthy_targets(aws, tg) == 4, 900,
                                             what="every target healthy first")
    low: list[int] = []

    def watch() -> None:
        low.append(healthy_targets(aws, tg))

    result = run_engine(sandbox, clock=Clock(sandbox, [watch]), wait_timeout=200)
    assert result.to_dict()["actions"], "no surge was tried"
    assert min(low) >= 4, f"healthy targets fell to {min(low)} (floor 4)"
    Driver(advance=sandbox.advance).wait_for(lambda: steady(aws, CLUSTER, SERVICE), 300)
    assert healthy_targets(aws, tg) == 4
    assert_clean(ecs, 4)
    assert "owner" not in lease_item(sandbox, ecs)


def test_auto_refuses_to_surge_while_targets_are_unhealthy(sandbox):
    """Right after the scale-out two of the four targets are still ``initial``: ``auto`` does
    not start a surge that could only wait out its deadline; it refuses with a reason."""
    aws, tg = skewed_cluster(sandbox, Seed(**SURGE_SEED),
                             alb=dict(deregistration_delay=30, health_check_interval=300))
    assert healthy_targets(aws, tg) == 2
    proxy = Proxy(engine_client(sandbox))
    result = run_engine(sandbox, ecs=proxy, wait_timeout=900)
    assert refusals(result) == {SERVICE: "targets_unhealthy"}
    assert writes(proxy) == [] and result.changed is False


def _checked_world(sandbox, aws) -> World:
    """A service with a container health check, no load balancer, min 100 / max 200, all 4
    tasks on the first instance and an empty second one."""
    world = World(sandbox, aws)
    world.launch("us-east-1a")
    world.boot()
    td = world.ecs.register_task_definition(family="checked", containerDefinitions=[{
        "name": "web", "image": "nginx:1.27", "cpu": 256, "memory": 512,
        "portMappings": [{"containerPort": 80}],
        "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5,
                        "retries": 3}}])["taskDefinition"]
    world.service(SERVICE, 4, f"{td['family']}:{td['revision']}",
                  availabilityZoneRebalancing="DISABLED",
                  deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    driver = Driver(advance=sandbox.advance)
    driver.wait_for(lambda: steady(aws, CLUSTER, SERVICE), 300, what="steady")
    sandbox.advance(sandbox.config.task_healthy_after_seconds + 1)
    world.launch("us-east-1b")
    world.boot()
    return world


def test_container_health_check_without_lb_is_not_lowered_until_healthy(sandbox, aws):
    world = _checked_world(sandbox, aws)
    assert sorted(world.by_instance(SERVICE).values()) == [4]
    low: list[int] = []

    def watch() -> None:
        low.append(sum(t["lastStatus"] == "RUNNING" and t["healthStatus"] == "HEALTHY"
                       for t in world.tasks(SERVICE)))

    result = run_engine(sandbox, clock=Clock(sandbox, [watch]), wait_timeout=900)
    assert result.error == "", result.error
    assert result.moves, "nothing moved"
    assert min(low) >= 4, f"HEALTHY tasks fell to {min(low)} (floor 4)"
    assert_clean(world.ecs, 4)


# ------------------------------------------------------------ 3. writes that cannot undo
def test_a_persons_desired_count_written_before_the_raise_stands(sandbox):
    """A person sets desiredCount 8 while the run protects the tasks that stay (after its
    first read of the count, before the raise). The raise reads the count immediately before
    writing: 8 + 1, lowered back to 8. (The tag-lock engine wrote before + 1 = 5 from its old
    read and ended at 4.)"""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    user = aws("ecs")
    done: list[int] = []

    def person(name: str, kw: dict) -> None:
        if name == "update_task_protection" and kw.get("protectionEnabled") and not done:
            user.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=8)
            done.append(8)

    proxy = Proxy(engine_client(sandbox), after=person)
    result = run_engine(sandbox, ecs=proxy, wait_timeout=1800)
    assert done == [8], "the hook never ran"
    assert result.error == "", result.error
    assert_clean(user, 8)


# ------------------------------------------------------------------ lease lifetime, clocks
def test_a_killed_run_holds_the_service_at_most_the_lease_bound(sandbox):
    """A run with wait_timeout 86400 is killed right after raising desiredCount. Another run
    is refused while the lease lives (lease_seconds 60) and heals the surge just after it:
    not a day later."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")

    kill_after_the_raise(sandbox, wait_timeout=86400, lease_seconds=60)
    killed_at = sandbox.now()
    assert service_doc(ecs)["desiredCount"] == 5
    assert "surge" in lease_item(sandbox, ecs)

    sandbox.advance(40)
    early = Proxy(engine_client(sandbox))
    held = run_engine(sandbox, ecs=early, wait=False)
    assert writes(early) == [] and held.changed is False
    assert {s["code"] for s in held.to_dict()["skipped"]} == {"lease_held"}

    sandbox.advance(killed_at + 60 + EXPIRY_MARGIN_SECONDS + 1 - sandbox.now())
    healed = run_engine(sandbox, wait_timeout=900)
    assert SERVICE in healed.to_dict()["healed"]
    assert sandbox.now() - killed_at < 60 + 900
    assert_clean(ecs, 4)
    assert "surge" not in lease_item(sandbox, ecs)


def test_a_runner_whose_clock_is_16_minutes_slow_keeps_its_surge(sandbox):
    """Run A's clock is 16 minutes behind. While its surge waits, run B (right clock) starts:
    B is refused (lease_held) and writes nothing; A finishes its surge. (The tag lock compared
    A's deadline, written on A's clock, with B's clock, and B healed A's live surge.)"""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    seen: list = []

    def second_run() -> None:
        if not seen and raised(ecs):
            proxy = Proxy(engine_client(sandbox))
            seen.append((run_engine(sandbox, ecs=proxy, wait=False, run_id="run-b"), proxy))

    clock = Clock(sandbox, [second_run])
    request_clock = lambda: sandbox.now() - 960          # noqa: E731
    result = run_engine(sandbox, clock=clock, engine_clock=request_clock, wait_timeout=900,
                        run_id="run-a")
    assert seen, "run B never ran"
    b_result, b_proxy = seen[0]
    assert writes(b_proxy) == [] and b_result.to_dict()["healed"] == []
    assert result.error == "", result.error
    assert result.moves
    assert_clean(ecs, 4)


def test_a_legacy_surge_tag_is_healed_by_delta_and_removed(sandbox):
    """A ``taskspread:surge`` tag left by an earlier version (raising, delta 1, set 5, deadline
    passed) with desiredCount still 5: the run restores 4 and removes the tag."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")
    now = sandbox.now()
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=5)
    ecs.tag_resource(resourceArn=service_doc(ecs)["serviceArn"], tags=[{
        "key": SURGE_TAG, "value": f"v2 owner=old phase=raising delta=1 before=4 set=5 "
                                   f"start={now - 900:.0f} deadline={now - 60:.0f}"}])
    result = run_engine(sandbox, wait_timeout=900)
    assert SERVICE in result.to_dict()["healed"]
    assert_clean(ecs, 4)


# ------------------------------------------------------- tag-managing tools see nothing
PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: The service, as a person's playbook manages it (tags compared exactly)
          community.aws.ecs_service:
            name: sample-app
            cluster: demo
            state: present
            task_definition: "{{ td }}"
            desired_count: 6
            launch_type: EC2
    """)


def test_community_ecs_service_updates_a_leased_service(sandbox, tmp_path):
    """A run is killed mid-surge (its lease held, its surge state in the lease item). The
    service carries no taskspread tag, so community.aws.ecs_service updates it (it refuses
    to "change tags" of a service carrying the old lock tag)."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")

    kill_after_the_raise(sandbox, wait_timeout=900)
    assert "owner" in lease_item(sandbox, ecs)
    assert not [k for k in tags(ecs) if k.startswith("taskspread:")]
    playbook = tmp_path / "svc.yml"
    playbook.write_text(PLAYBOOK)
    env = ansible_env(sandbox.endpoint)
    env.update({"ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
                "ANSIBLE_HOME": str(tmp_path / "home")})
    td = service_doc(ecs)["taskDefinition"].rsplit("/", 1)[-1]
    out = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook),
                          "-e", f"td={td}", "-e", f"ansible_python_interpreter={sys.executable}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert service_doc(ecs)["desiredCount"] == 6
