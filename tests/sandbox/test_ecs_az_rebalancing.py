"""ECS's own Availability Zone rebalancing in the sandbox (sandbox/ecs/azrebalance.py).

Sources: docs/ecs-facts.md §1.4; AWS service-rebalancing.html ("Amazon ECS starts monitoring a
service after it reaches the steady state", "starts tasks in Availability Zones with the fewest
number of running tasks", "stops the tasks in Availability Zones with the largest number"),
track-service-rebalancing.html (event names and messages) and the API reference of
availabilityZoneRebalancing (create/update defaults). Time moves only through
``sandbox.advance``.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ecs_world import World

A, B, C = "us-east-1a", "us-east-1b", "us-east-1c"
REBALANCING_EVENTS = ("SERVICE_REBALANCING_STARTED", "SERVICE_REBALANCING_COMPLETED",
                      "SERVICE_REBALANCING_STOPPED",
                      "TASKSET_SCALE_IN_FAILURE_BY_TASK_PROTECTION",
                      "SERVICE_TASK_PLACEMENT_FAILURE")


@pytest.fixture
def world(sandbox, aws):
    return World(sandbox, aws)


def action_names(world: World, service: str = "web") -> list[str]:
    """The ECS Service Action events of the service about rebalancing, oldest first."""
    return [e["detail"]["eventName"] for e in world.events("ECS Service Action")
            if e["resources"] == [world.describe_service(service)["serviceArn"]]
            and e["detail"]["eventName"] in REBALANCING_EVENTS]


def three_in_a(world: World, **service_kw) -> None:
    """Three tasks on two instances of us-east-1a, settled; then two empty instances join in
    us-east-1b: the service is 3/0 over two AZs."""
    world.launch(A)
    world.launch(A)
    world.boot()
    world.service("web", 3, **service_kw)
    world.settle(60)
    assert world.by_az("web") == {A: 3}
    world.launch(B)
    world.launch(B)
    world.boot()


def run(world: World, seconds: float, step: float = 5.0) -> list[int]:
    """Advance in steps, returning the service's runningCount after each."""
    seen = []
    for _ in range(int(seconds / step)):
        world.sb.advance(step)
        seen.append(world.describe_service("web")["runningCount"])
    return seen


# ------------------------------------------------------------------ defaults
def test_create_defaults_to_enabled_for_eligible_services(world):
    """API CreateService: "when no value is specified for AvailabilityZoneRebalancing, Amazon
    ECS defaults the value to ENABLED" (eligible services; service-rebalancing.html)."""
    assert world.service("plain", 0)["availabilityZoneRebalancing"] == "ENABLED"
    spread_first = [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                    {"type": "binpack", "field": "memory"}]
    assert world.service("azbinpack", 0, placementStrategy=spread_first)[
        "availabilityZoneRebalancing"] == "ENABLED"


INELIGIBLE = {
    "binpack-first": ({"placementStrategy": [{"type": "binpack", "field": "memory"}]},
                      "first placement strategy is not spread on "
                      "attribute:ecs.availability-zone"),
    "instance-spread-first": ({"placementStrategy": [{"type": "spread",
                                                      "field": "instanceId"}]},
                              "first placement strategy is not spread"),
    "max-100": ({"deploymentConfiguration": {"maximumPercent": 100,
                                             "minimumHealthyPercent": 0}},
                "maximumPercent is 100"),
    "az-constraint": ({"placementConstraints": [{
        "type": "memberOf", "expression": "attribute:ecs.availability-zone in [us-east-1a]"}]},
        "placement constraint on attribute:ecs.availability-zone"),
    "daemon": ({"schedulingStrategy": "DAEMON"}, "DAEMON scheduling strategy"),
    "classic-lb": ({"loadBalancers": [{"loadBalancerName": "classic", "containerName": "web",
                                       "containerPort": 80}]},
                   "Classic Load Balancer"),
}


@pytest.mark.parametrize("case", sorted(INELIGIBLE))
def test_ineligible_services_default_disabled_and_refuse_enabled(world, case):
    """service-rebalancing.html: not supported with the DAEMON strategy, maximumPercent 100,
    a Classic Load Balancer, an attribute:ecs.availability-zone placement constraint, or a
    first strategy other than AZ spread; such services default to DISABLED ("Services that
    are not compatible — such as those using the binpack placement strategy — will default
    to false")."""
    kw, why = INELIGIBLE[case]
    count = 0
    svc = world.ecs.create_service(cluster="demo", serviceName="svc-default",
                                   taskDefinition=world.task_definition(),
                                   **({} if case == "daemon" else {"desiredCount": count}),
                                   **kw)["service"]
    assert svc["availabilityZoneRebalancing"] == "DISABLED"
    with pytest.raises(ClientError) as err:
        world.ecs.create_service(cluster="demo", serviceName="svc-enabled",
                                 taskDefinition=world.task_definition(),
                                 availabilityZoneRebalancing="ENABLED",
                                 **({} if case == "daemon" else {"desiredCount": count}), **kw)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert why in err.value.response["Error"]["Message"]
    assert "Availability Zone rebalancing cannot be ENABLED" in \
        err.value.response["Error"]["Message"]


def test_update_keeps_value_and_starts_no_deployment(world):
    """API UpdateService: "when no value is specified ... Amazon ECS defaults to the existing
    service's AvailabilityZoneRebalancing value"; "This parameter doesn't trigger a new service
    deployment"."""
    world.service("web", 0)
    before = world.describe_service("web")["deployments"]
    svc = world.ecs.update_service(cluster="demo", service="web", desiredCount=0)["service"]
    assert svc["availabilityZoneRebalancing"] == "ENABLED"
    svc = world.ecs.update_service(cluster="demo", service="web",
                                   availabilityZoneRebalancing="DISABLED")["service"]
    assert svc["availabilityZoneRebalancing"] == "DISABLED"
    assert [d["id"] for d in svc["deployments"]] == [d["id"] for d in before]
    svc = world.ecs.update_service(cluster="demo", service="web", desiredCount=0)["service"]
    assert svc["availabilityZoneRebalancing"] == "DISABLED"
    # an update to binpack-first with an explicit ENABLED is refused
    with pytest.raises(ClientError) as err:
        world.ecs.update_service(cluster="demo", service="web",
                                 placementStrategy=[{"type": "binpack", "field": "cpu"}],
                                 availabilityZoneRebalancing="ENABLED")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        world.ecs.update_service(cluster="demo", service="web",
                                 availabilityZoneRebalancing="SOMETIMES")
    assert err.value.response["Error"]["Message"] == \
        "availabilityZoneRebalancing must be ENABLED or DISABLED."


def test_configured_default_disabled_reproduces_the_old_world(world):
    """sandbox/config.py az_rebalancing_default="DISABLED" (an [I] switch): services created
    without a value are DISABLED, as before AWS's 2025-09-05 change."""
    world.sb.config.az_rebalancing_default = "DISABLED"
    assert world.service("web", 0)["availabilityZoneRebalancing"] == "DISABLED"


# ---------------------------------------------------------------- behaviour
def test_rebalances_three_zero_to_two_one_start_first(world):
    """service-rebalancing.html: at steady state, an uneven service gets
    SERVICE_REBALANCING_STARTED, tasks started in the short AZ, which must be HEALTHY and
    RUNNING before tasks in the over AZ stop (stoppedReason "Availability-zone rebalancing
    initiated by (deployment ecs-svc/<id>)"), then SERVICE_REBALANCING_COMPLETED; target
    3 over 2 AZs = 1/2."""
    three_in_a(world)
    running = run(world, 300)
    assert min(running) >= 3                            # start first: never below desired
    assert max(running) == 4                            # one extra task while it warmed up
    assert world.by_az("web") == {A: 2, B: 1}
    svc = world.describe_service("web")
    dep = svc["deployments"][0]["id"]
    stopped = [t for t in world.tasks("web", desired="STOPPED")]
    assert len(stopped) == 1
    assert stopped[0]["availabilityZone"] == A
    assert stopped[0]["stoppedReason"] == \
        f"Availability-zone rebalancing initiated by (deployment {dep})"
    assert stopped[0]["stopCode"] == "ServiceSchedulerInitiated"
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED",
                                   "SERVICE_REBALANCING_COMPLETED"]
    (new,) = [t for t in world.tasks("web") if t["availabilityZone"] == B]
    new_id = new["taskArn"].rsplit("/", 1)[-1]
    stopped_id = stopped[0]["taskArn"].rsplit("/", 1)[-1]
    messages = list(reversed(world.messages("web")))      # oldest first
    started_at = messages.index("service (web) is not AZ balanced with 3 tasks in us-east-1a "
                                "and 0 in us-east-1b. AZ Rebalancing in progress.")
    assert messages[started_at + 1] == \
        f"web has started 1 tasks in us-east-1b to AZ Rebalance: {new_id}."
    rest = messages[started_at + 2:]
    assert f"web has stopped 1 running tasks in us-east-1a due to AZ rebalancing: " \
           f"{stopped_id}." in rest
    assert "service (web) is AZ balanced with 2 tasks in us-east-1a and 1 tasks in " \
           "us-east-1b." in rest
    # the new task was healthy (RUNNING for the 40 s health period) before the stop began
    assert (stopped[0]["stoppingAt"] - new["startedAt"]).total_seconds() >= 40


def test_protection_blocks_the_stop(world):
    """track-service-rebalancing.html: TASKSET_SCALE_IN_FAILURE_BY_TASK_PROTECTION when the
    tasks to stop are protected (task-scale-in-protection.html: protected tasks are not
    stopped by scale-in); the service keeps its extra task until protection ends."""
    three_in_a(world)
    arns = [t["taskArn"] for t in world.tasks("web")]
    world.ecs.update_task_protection(cluster="demo", tasks=arns, protectionEnabled=True,
                                     expiresInMinutes=10)
    running = run(world, 300)
    assert min(running) >= 3
    assert world.by_az("web") == {A: 3, B: 1}
    assert not world.tasks("web", desired="STOPPED")
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED",
                                   "TASKSET_SCALE_IN_FAILURE_BY_TASK_PROTECTION"]
    world.sb.advance(600)                                 # protection expires
    assert world.by_az("web") == {A: 2, B: 1}
    assert action_names(world)[-1] == "SERVICE_REBALANCING_COMPLETED"


def test_a_deployment_stops_rebalancing(world):
    """track-service-rebalancing.html: SERVICE_REBALANCING_STOPPED when a concurrent
    deployment stops the operation."""
    three_in_a(world)
    for _ in range(40):
        world.sb.advance(5)
        if "SERVICE_REBALANCING_STARTED" in action_names(world):
            break
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED"]
    world.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    world.sb.advance(1)
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED",
                                   "SERVICE_REBALANCING_STOPPED"]
    assert not [t for t in world.tasks("web", desired="STOPPED")
                if t["stoppedReason"].startswith("Availability-zone rebalancing")]


def test_placement_failure_when_the_short_az_is_full(world):
    """service-rebalancing.html: on EC2 it uses existing instances only; track page:
    SERVICE_TASK_PLACEMENT_FAILURE with "service (X) is unable to place a task in <AZ>
    because no container instance met all of its requirements."."""
    world.launch(A)
    world.launch(B)
    world.boot()
    filler = world.task_definition("filler", cpu=2000, memory=256, ports=())
    (ci_b,) = [ci["containerInstanceArn"] for ci in world.instances()
               if any(a.get("value") == B for a in ci["attributes"])]
    assert world.ecs.start_task(cluster="demo", taskDefinition=filler,
                                containerInstances=[ci_b])["tasks"]
    world.service("web", 3)
    world.settle(60)
    assert world.by_az("web") == {A: 3}
    run(world, 200)
    assert world.by_az("web") == {A: 3}
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED",
                                   "SERVICE_TASK_PLACEMENT_FAILURE"]
    failure = [e for e in world.events("ECS Service Action")
               if e["detail"]["eventName"] == "SERVICE_TASK_PLACEMENT_FAILURE"][0]
    assert failure["detail"]["eventType"] == "ERROR"
    assert failure["detail"]["reason"] == "RESOURCE:CPU"
    assert failure["detail"]["containerInstanceArns"] == [ci_b]
    assert "service (web) is unable to place a task in us-east-1b because no container " \
           "instance met all of its requirements." in world.messages("web")


def test_no_instance_balancing_inside_an_az(world):
    """docs/ecs-facts.md §1.4: AZ rebalancing balances AZs only; nothing documents instance-level
    balance inside an AZ, so an AZ-balanced service keeps an empty instance empty."""
    a1 = world.launch(A)
    b1 = world.launch(B)
    world.boot()
    world.service("web", 4)
    world.settle(60)
    a2 = world.launch(A)
    world.boot()
    run(world, 300)
    assert world.by_instance("web") == {a1: 2, b1: 2}
    assert a2 not in world.by_instance("web")
    assert action_names(world) == []


def test_disabled_services_are_untouched(world):
    """API availabilityZoneRebalancing DISABLED: ECS does not rebalance the service."""
    three_in_a(world, availabilityZoneRebalancing="DISABLED")
    run(world, 300)
    assert world.by_az("web") == {A: 3}
    assert action_names(world) == []
    assert not world.tasks("web", desired="STOPPED")


def test_five_over_three_azs_ends_one_two_two(world):
    """service-rebalancing.html target: 5 tasks over 3 AZs = 1/2/2, every AZ at least one."""
    world.launch(A)
    world.boot()
    world.service("web", 5)
    world.settle(60)
    world.launch(B)
    world.launch(C)
    world.boot()
    running = run(world, 600)
    assert min(running) >= 5
    assert sorted(world.by_az("web").values()) == [1, 2, 2]
    assert action_names(world) == ["SERVICE_REBALANCING_STARTED",
                                   "SERVICE_REBALANCING_COMPLETED"]
