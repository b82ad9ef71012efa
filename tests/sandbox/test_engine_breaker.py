"""The no-progress breaker keyed on its cause, and a step that re-plans around a vanished task
(issue 16, item 4), against the sandbox on its manual clock.

The futile step: a service's four tasks sit on one instance and an empty instance joins in
another AZ. The empty instance's agent drops (an EC2 stop disconnects it; docs/ecs-facts.md
5.2) at the moment the engine acts, so ECS places the replacements back where they were, and
reconnects once the instance runs again. The step made no progress; nothing the step depended
on (the service's pool of instances, desired count, task definition, health percents) has
changed once the agent is back. The breaker's record lives in the service's lease item.
"""

from __future__ import annotations

from engine_harness import (CLUSTER, SERVICE, Clock, Proxy, engine_client, refusals, run_engine,
                            skewed_cluster, spread)
from ecs_world import World
from sandbox.scenario import Driver, Seed, steady

TABLE = "taskspread-ecs-leases"
SURGE_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200)


def stopped_by(result) -> list[str]:
    return [t for a in result.to_dict()["actions"] for t in a["stopped_tasks"]]


def redeploys(proxy: Proxy) -> int:
    return sum(1 for name, kw in proxy.calls
               if name == "update_service" and kw.get("forceNewDeployment"))


class Futile:
    """Four tasks on ``loaded`` (us-east-1a), ``empty`` (us-east-1b) joined; ``act(...)``
    runs the engine with the empty instance's agent dropping at its first write."""

    def __init__(self, sandbox, aws, min_healthy: int = 50, **service_kw):
        self.sandbox, self.aws = sandbox, aws
        self.world = World(sandbox, aws)
        self.loaded = self.world.launch("us-east-1a")
        self.world.boot()
        self.world.service(SERVICE, 4, self.world.task_definition(),
                           availabilityZoneRebalancing="DISABLED",
                           deploymentConfiguration={"minimumHealthyPercent": min_healthy,
                                                    "maximumPercent": 200}, **service_kw)
        self.driver = Driver(advance=sandbox.advance)
        self.empty = self.world.launch("us-east-1b")
        self.world.boot()
        self.settle()
        assert self.world.by_instance(SERVICE) == {self.loaded: 4}
        self.ec2 = aws("ec2")

    def settle(self) -> None:
        self.driver.wait_for(lambda: steady(self.aws, CLUSTER, SERVICE), 600, what="steady")

    def _state(self) -> str:
        return self.ec2.describe_instances(InstanceIds=[self.empty])["Reservations"][0][
            "Instances"][0]["State"]["Name"]

    def agent_down(self) -> None:
        self.ec2.stop_instances(InstanceIds=[self.empty])

    def agent_up(self) -> None:
        if self._state() == "stopped":
            self.ec2.start_instances(InstanceIds=[self.empty])
        self.driver.wait_for(lambda: self.world.instance(self.empty)["agentConnected"], 300,
                             step=5, what="agent back")

    def act(self, first_write: str, **kw):
        """One run whose first ``first_write`` call drops the empty instance's agent; it
        comes back during the run's waits. Returns (result, proxy)."""
        dropped: list[str] = []

        def drop(name: str, call_kw: dict) -> None:
            if name == first_write and not dropped:
                self.agent_down()
                dropped.append(name)

        def back() -> None:
            if dropped and self._state() == "stopped":
                self.ec2.start_instances(InstanceIds=[self.empty])

        proxy = Proxy(engine_client(self.sandbox), before=drop)
        result = run_engine(self.sandbox, ecs=proxy, clock=Clock(self.sandbox, [back]), **kw)
        assert dropped, f"the run never called {first_write}"
        self.agent_up()
        self.settle()
        assert self.world.by_instance(SERVICE) == {self.loaded: 4}, "the step made progress"
        return result, proxy

    def record(self) -> dict | None:
        arn = self.world.describe_service(SERVICE)["serviceArn"]
        item = self.aws("dynamodb").get_item(TableName=TABLE, Key={"service": {"S": arn}},
                                             ConsistentRead=True).get("Item", {})
        return item.get("rec_no_progress")


def test_a_futile_stop_is_refused_with_since_why_and_when_it_rearms(sandbox, aws):
    futile = Futile(sandbox, aws)
    futile.act("stop_task", strategy="stop", max_moves=1, no_progress_minutes=30)
    assert futile.record() is not None, "the record is kept in the service's lease item"
    again = run_engine(sandbox, strategy="stop", max_moves=1, no_progress_minutes=30)
    assert stopped_by(again) == []
    assert refusals(again) == {SERVICE: "no_progress"}
    (refusal,) = again.to_dict()["decision"]["refused"]
    assert "ended " in refusal["message"] and "re-arms when one of those changes, or at " \
        in refusal["message"] and "no_progress_minutes=30" in refusal["message"]
    assert refusal["no_progress"]["mode"] == "stop" and refusal["no_progress"]["moves"] == 1
    # what task_distribution_info shows with the lease's holder
    from ansible_collections.taskspread.ecs.plugins.module_utils.engine import (
        distribution_report, lease_holders, take_snapshot)

    snap = take_snapshot(aws("ecs"), CLUSTER)
    needed = {n: d["moves_needed"] for n, d in distribution_report(snap)["services"].items()}
    leases, warning = lease_holders(aws("dynamodb"), TABLE, snap, None, 1, 30, needed)
    shown = leases[SERVICE]
    assert warning == "" and shown["holder"] is None and shown["surge_pending"] is False
    assert shown["no_progress"]["holding"] is True and shown["no_progress"]["mode"] == "stop"
    assert shown["no_progress"]["cause_unchanged"] is True
    assert shown["no_progress"]["since"] < shown["no_progress"]["rearms_at"]


def test_the_breaker_rearms_after_no_progress_minutes(sandbox, aws):
    futile = Futile(sandbox, aws)
    futile.act("stop_task", strategy="stop", max_moves=1, no_progress_minutes=5)
    held = run_engine(sandbox, strategy="stop", max_moves=1, no_progress_minutes=5)
    assert refusals(held) == {SERVICE: "no_progress"} and stopped_by(held) == []
    sandbox.advance(5 * 60 + 1)
    later = run_engine(sandbox, strategy="stop", max_moves=1, no_progress_minutes=5)
    assert stopped_by(later), "the breaker did not re-arm after its time"
    assert futile.world.by_instance(SERVICE) == {futile.loaded: 2, futile.empty: 2}


def test_a_change_of_the_steps_cause_rearms_the_breaker(sandbox, aws):
    """minimumHealthyPercent is part of what the step saw (it chose stop over surge); a
    change of it re-arms the breaker at once (UpdateService with only deploymentConfiguration
    starts no deployment)."""
    futile = Futile(sandbox, aws)
    futile.act("stop_task", strategy="stop", max_moves=1)
    assert refusals(run_engine(sandbox, strategy="stop", max_moves=1)) == {
        SERVICE: "no_progress"}
    futile.world.ecs.update_service(cluster=CLUSTER, service=SERVICE, deploymentConfiguration={
        "minimumHealthyPercent": 75, "maximumPercent": 200})
    futile.settle()
    later = run_engine(sandbox, strategy="stop", max_moves=1)
    assert stopped_by(later), "the cause changed and the breaker still held"


def test_an_instance_outside_the_services_pool_does_not_rearm_it(sandbox, aws):
    """The service may only run in us-east-1a and us-east-1b (memberOf): an instance joining
    in us-east-1c is no cause of its steps."""
    futile = Futile(sandbox, aws, placementConstraints=[{
        "type": "memberOf",
        "expression": "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"}])
    futile.act("stop_task", strategy="stop", max_moves=1)
    assert refusals(run_engine(sandbox, strategy="stop", max_moves=1)) == {
        SERVICE: "no_progress"}
    futile.world.launch("us-east-1c")
    futile.world.boot()
    again = run_engine(sandbox, strategy="stop", max_moves=1)
    assert stopped_by(again) == [], "an instance outside the pool re-armed the breaker"
    assert refusals(again) == {SERVICE: "no_progress"}
    # ... while one inside it does
    futile.world.launch("us-east-1b")
    futile.world.boot()
    assert stopped_by(run_engine(sandbox, strategy="stop", max_moves=1))


def test_the_record_survives_the_stop_of_every_task_it_saw(sandbox, aws):
    """Every task of the service is replaced (by someone else) after the futile step: the
    record does not live on a task, so the breaker still holds."""
    futile = Futile(sandbox, aws)
    futile.act("stop_task", strategy="stop", max_moves=1)
    before = {t["taskArn"] for t in futile.world.tasks(SERVICE)}
    futile.agent_down()                 # the replacements land where the old tasks were
    for arn in sorted(before):
        futile.world.ecs.stop_task(cluster=CLUSTER, task=arn, reason="a person")
    futile.settle()
    futile.agent_up()
    assert not before & {t["taskArn"] for t in futile.world.tasks(SERVICE)}
    assert futile.world.by_instance(SERVICE) == {futile.loaded: 4}
    again = run_engine(sandbox, strategy="stop", max_moves=1)
    assert stopped_by(again) == [] and refusals(again) == {SERVICE: "no_progress"}


def test_redeploy_has_the_breaker_too(sandbox, aws):
    """A redeploy whose new tasks land where the old ones were (4/0 again) is not repeated:
    not by the same run's next step, nor by the next run."""
    futile = Futile(sandbox, aws)
    first, proxy = futile.act("update_service", strategy="redeploy")
    assert redeploys(proxy) == 1, "the run repeated a redeploy that did not help"
    assert refusals(first) == {} and {r["service"]: r["code"] for r in first.to_dict()[
        "skipped"] if "code" in r}.get(SERVICE) == "no_progress"
    again = Proxy(engine_client(sandbox))
    result = run_engine(sandbox, ecs=again, strategy="redeploy")
    assert redeploys(again) == 0 and refusals(result) == {SERVICE: "no_progress"}


# ----------------------------------------------------------------- a task that vanished
def test_a_staying_task_that_stops_mid_step_is_replanned_around(sandbox):
    """One of the tasks the surge protects to keep them is stopped by someone else just
    before the protection call: ECS answers TASK_NOT_VALID for it. The run does not fail: it
    undoes what the surge did, re-reads the service, plans it again and balances it, and the
    re-plan is in the result with ECS's failure."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    user = aws("ecs")
    assert spread(aws) == [4, 0]
    gone: list[str] = []

    def stop_a_keeper(name: str, kw: dict) -> None:
        if name == "update_task_protection" and kw.get("protectionEnabled") and not gone:
            victim = kw["tasks"][0]
            user.stop_task(cluster=CLUSTER, task=victim, reason="a person")
            Driver(advance=sandbox.advance).wait_for(lambda: user.describe_tasks(
                cluster=CLUSTER, tasks=[victim])["tasks"][0]["lastStatus"] == "STOPPED",
                120, what="stopped")
            gone.append(victim)

    result = run_engine(sandbox, ecs=Proxy(engine_client(sandbox), before=stop_a_keeper),
                        wait_timeout=1800)
    out = result.to_dict()
    assert gone, "the hook never saw a protection call"
    assert out["error"] == "", out["error"]
    (replan,) = out["replanned"]
    assert replan["service"] == SERVICE and replan["attempt"] == 1
    assert [(f["arn"], f["reason"]) for f in replan["failures"]] == [(gone[0], "TASK_NOT_VALID")]
    vanished = [a for a in out["actions"] if a.get("vanished")]
    assert len(vanished) == 1 and "re-planned" in vanished[0]["detail"]
    assert result.balanced and sorted(spread(aws)) == [2, 2]
    doc = user.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert doc["desiredCount"] == 4
