"""Where a service's tasks can go (issue 18): awsvpc task ENIs in the capacity ledger, an
awsvpc service's subnets, ECS Managed Instances, and Fargate services next to EC2 instances.

Each case here was checked to fail on the engine before this change (the planner planned
moves onto instances without a free ENI, or outside the service's subnets; it treated a
Managed Instances service as EC2; it reported a FARGATE service ``balanced``).
"""

from dataclasses import replace

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, Status, Task, plan,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import (
    CapacityProviderItem,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.report import report

from .factories import apply_moves, arn, cluster, counts, inst, svc


def vpc(ref_, az, slots, subnet=None):
    """An m5.large (2 awsvpc tasks without trunking) with ``slots`` free task ENIs left
    after the placement ``cluster`` makes (the factories do not count ENIs themselves)."""
    return replace(inst(ref_, az, attrs={"ecs.subnet-id": subnet or f"subnet-{az}"}),
                   awsvpc_slots=slots)


def awsvpc_svc(name="web", **kw):
    return replace(svc(name, cpu=256, memory=512, **kw),
                   resources=replace(svc(name, cpu=256, memory=512).resources, enis=1))


# --------------------------------------------------------------------------- ENIs
def test_no_free_eni_on_the_new_instances_means_no_restart_and_at_capacity_naming_enis():
    """container-instance-eni.html: an m5.large runs 2 awsvpc tasks (3 ENIs, the primary one
    counts). AZ a holds all 4 tasks (2 + 2, its ENIs all used); the new AZ b instances have
    free CPU and memory but every task ENI taken by other tasks. ECS could place no
    replacement there, so the plan moves nothing and says ENIs bind."""
    insts = [vpc("a1", "a", 0), vpc("a2", "a", 0), vpc("b1", "b", 0), vpc("b2", "b", 0)]
    snap = cluster(insts, [awsvpc_svc()], {"web": {"a1": 2, "a2": 2}})
    sp = plan(snap).service("web")
    assert sp.moves == ()
    assert sp.status == Status.AT_CAPACITY and sp.reason.code == "at_capacity"
    assert "ENI on 4 (awsvpc task limit reached)" in sp.reason.message, sp.reason.message
    assert "no room on 4 candidate instance(s)" in sp.reason.message
    assert "1 ENI" in sp.reason.message


def test_one_free_eni_on_each_new_instance_balances_with_the_fewest_moves():
    """The same cluster with one free task ENI on each AZ b instance: two moves (the lower
    bound for 4/0 -> 2/2), one to each, never two onto one instance."""
    insts = [vpc("a1", "a", 0), vpc("a2", "a", 0), vpc("b1", "b", 1), vpc("b2", "b", 1)]
    snap = cluster(insts, [awsvpc_svc()], {"web": {"a1": 2, "a2": 2}})
    p = plan(snap)
    assert len(p.moves) == 2 == p.service("web").moves_needed
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 1, "a2": 1, "b1": 1, "b2": 1}


def test_eni_slots_are_shared_by_the_services_of_one_plan():
    """Two awsvpc services out of balance, one free ENI in AZ b: the first service (name
    order) takes it, the second gets no move onto that instance."""
    insts = [vpc("a1", "a", 0), vpc("a2", "a", 0), vpc("b1", "b", 1)]
    snap = cluster(insts, [awsvpc_svc("api"), awsvpc_svc("web")],
                   {"api": {"a1": 2}, "web": {"a2": 2}})
    p = plan(snap)
    assert [(m.service, m.destination_instance) for m in p.moves] == [("api", arn("b1"))]
    assert p.service("web").status == Status.AT_CAPACITY
    assert "ENI on" in p.service("web").reason.message


def test_bridge_services_ignore_eni_slots():
    """Bridge-mode tasks use the instance's ENI: no task ENI, so a full ENI count does not
    stop them."""
    insts = [vpc("a1", "a", 0), vpc("b1", "b", 0)]
    snap = cluster(insts, [svc("web", cpu=256, memory=512)], {"web": {"a1": 4}})
    assert counts(apply_moves(snap, plan(snap).moves), "web") == {"a1": 2, "b1": 2}


# ------------------------------------------------------------------------ subnets
def test_an_awsvpc_service_moves_only_to_instances_in_its_subnets():
    """task-networking.html: "The tasks are placed on valid container instances in those
    subnets". AZ c's instance is outside the service's subnets: no domain, no destination."""
    insts = [vpc("a1", "a", 9), vpc("b1", "b", 9), vpc("c1", "c", 9),
             vpc("b2", "b", 9, subnet="subnet-other")]
    service = replace(awsvpc_svc(), subnets=("subnet-a", "subnet-b"))
    snap = cluster(insts, [service], {"web": {"a1": 4}})
    p = plan(snap)
    assert {m.destination_instance for m in p.moves} == {arn("b1")}
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 2, "b1": 2}
    assert set(p.service("web").distribution.azs) == {"us-east-1a", "us-east-1b"}


# -------------------------------------------------------------- Managed Instances
def test_a_managed_instances_service_is_skipped_with_its_own_reason():
    """task-placement.md (Managed Instances): no placement strategies; ECS spreads over AZs
    and consolidates by itself. Launch type or a provider of that type: skipped, nothing
    moved, never reported balanced."""
    mi = [replace(inst(r, az), capacity_provider="mi", managed_instances=True)
          for r, az in (("m1", "a"), ("m2", "b"))]
    by_launch = replace(svc("lt"), launch_type="MANAGED_INSTANCES", managed_instances=True)
    by_provider = replace(svc("cp"), launch_type="", managed_instances=True,
                          capacity_provider_strategy=(CapacityProviderItem("mi", 0, 1),))
    snap = cluster(mi, [by_launch, by_provider], {"lt": {"m1": 4}, "cp": {"m1": 4}})
    p = plan(snap)
    assert p.moves == ()
    for name, how in (("lt", "launch type MANAGED_INSTANCES"),
                      ("cp", "a MANAGED_INSTANCES capacity provider")):
        sp = p.service(name)
        assert (sp.status, sp.reason.code) == (Status.SKIPPED, "managed_instances")
        assert sp.reason.message.startswith(how) and "not rebalanced" in sp.reason.message
        assert report(snap)[name]["balanced"] is False


def test_no_plan_moves_a_task_to_or_from_a_managed_instance():
    """A launch-type EC2 service with tasks on a Managed Instances host (pinned: counted for
    its AZ, never stopped) and an empty Managed Instances host: neither is a source or a
    destination; the EC2 instances balance around them."""
    insts = [replace(inst("m1", "a"), capacity_provider="mi", managed_instances=True),
             replace(inst("m2", "b"), capacity_provider="mi", managed_instances=True),
             inst("a1", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("web")], {"web": {"m1": 2, "a1": 2}})
    p = plan(snap)
    touched = {m.source_instance for m in p.moves} | {m.destination_instance for m in p.moves}
    assert not touched & {arn("m1"), arn("m2")}
    assert counts(apply_moves(snap, p.moves), "web") == {"m1": 2, "b1": 2}


# ------------------------------------------------------------------------- Fargate
def test_a_fargate_launch_type_service_next_to_ec2_instances_is_skipped_not_balanced():
    """Issue 18: a FARGATE launch-type service in a cluster that also has EC2 instances was
    reported ``balanced`` (with every EC2 instance as a domain holding 0 of its tasks).
    Its tasks run on no container instance: skipped, no AZ or skew figure, not balanced."""
    snap = cluster([inst("a1", "a"), inst("b1", "b")],
                   [svc("web", desired=2, launch_type="FARGATE"), svc("ec2")],
                   {"ec2": {"a1": 1, "b1": 1}})
    fargate = tuple(Task(arn=f"t{i}", service="web", instance_arn="", az="us-east-1a")
                    for i in range(2))
    snap = replace(snap, tasks={**snap.tasks, "web": fargate})
    sp = plan(snap, PlanOptions()).service("web")
    assert (sp.status, sp.reason.code) == (Status.SKIPPED, "not_ec2_capacity")
    entry = report(snap)["web"]
    assert (entry["balanced"], entry["azs"], entry["skew"]) == (False, {}, {}), entry
    assert sp.distribution.balanced is False and sp.distribution.instances == {}
