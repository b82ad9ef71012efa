"""Planner scenarios: targets, moves, eligibility, skips, the shared ledger and the budget."""

import json

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    PlanOptions, Reason, Status, distribution, plan,
)

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.evictor import (
    default_max_moves,
)

from .factories import apply_moves, arn, cluster, counts, inst, ref, svc


def moves_of(p, service="web"):
    return sorted((ref(m.source_instance), ref(m.destination_instance))
                  for m in p.service(service).moves)


def run(snap, **opts):
    return plan(snap, PlanOptions(**opts))


def test_seed_scenario_one_move():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 2}})
    p = run(snap)
    assert moves_of(p) == [("a1", "b1")]
    sp = p.service("web")
    assert sp.status == Status.REBALANCE and sp.moves_needed == 1
    assert sp.moves[0].source_az == "us-east-1a" and sp.moves[0].destination_az == "us-east-1b"
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 1, "b1": 1}


def test_four_tasks_on_one_of_two_gives_two_moves():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 4}})
    p = run(snap)
    assert moves_of(p) == [("a1", "b1"), ("a1", "b1")]
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 2, "b1": 2}


def test_three_azs_unequal_instance_counts():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("a3", "a"), inst("b1", "b"), inst("c1", "c")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 5, "a2": 4}})
    p = run(snap)
    after = counts(apply_moves(snap, p.moves), "web")
    # 9 tasks over 3 AZs -> 3 each; AZ a keeps the most-loaded instances' share
    assert after == {"a1": 1, "a2": 1, "a3": 1, "b1": 3, "c1": 3}
    assert p.service("web").moves_needed == 7 == len(p.moves)   # 4 from a1, 3 from a2
    # moves start from the most loaded source
    assert ref(p.moves[0].source_instance) == "a1"


def test_ceil_slots_go_to_instances_already_holding_most():
    snap = cluster([inst("a1", "a"), inst("b1", "b"), inst("b2", "b")], [svc("web")],
                   {"web": {"a1": 3, "b1": 2}})
    d = distribution(snap, "web")
    assert d.targets == {arn("a1"): 3, arn("b1"): 1, arn("b2"): 1}
    assert d.moves_needed == 1 and not d.balanced
    assert moves_of(run(snap)) == [("b1", "b2")]


def test_new_empty_instance_receives_tasks():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 2, "b1": 2}})
    p = run(snap)
    assert moves_of(p) == [("a1", "a2"), ("b1", "b2")]


def test_az_lost_then_restored():
    insts = [inst("a1", "a"), inst("b1", "b"), inst("c1", "c")]
    snap = cluster(insts, [svc("web")], {"web": {"a1": 3, "b1": 3}})   # AZ c came back empty
    p = run(snap)
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 2, "b1": 2, "c1": 2}
    assert {ref(m.destination_instance) for m in p.moves} == {"c1"}


@pytest.mark.parametrize("bad", [
    inst("b1", "b", status="DRAINING"),
    inst("b1", "b", connected=False),
    inst("b1", "b", cpu=100),            # full: no room for a 256-unit task
])
def test_ineligible_instances_never_targeted(bad):
    snap = cluster([inst("a1", "a"), inst("a2", "a"), bad, inst("c1", "c")],
                   [svc("web", cpu=256)], {"web": {"a1": 4}})
    p = run(snap)
    assert all(m.destination_instance != bad.arn for m in p.moves)
    assert counts(apply_moves(snap, p.moves), "web") == {"a1": 1, "a2": 1, "c1": 2}
    d = distribution(snap, "web")
    assert bad.arn not in d.instances and set(d.azs) == {"us-east-1a", "us-east-1c"}


def test_tasks_on_draining_instance_are_reported_not_moved():
    snap = cluster([inst("a1", "a"), inst("b1", "b"), inst("b2", "b", status="DRAINING")],
                   [svc("web")], {"web": {"a1": 1, "b1": 1, "b2": 2}})
    d = distribution(snap, "web")
    assert d.ineligible == {arn("b2"): 2}
    # ECS is replacing the DRAINING instance's tasks: the service waits (see test_ecs_counting)
    sp = run(snap).service("web")
    assert d.waiting == 2 and sp.status == Status.SKIPPED and sp.moves == ()
    assert sp.reason.code == "tasks_being_replaced"


def test_static_ports_limit_one_task_per_instance():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")]
    snap = cluster(insts, [svc("web", ports=[8080])], {"web": {"a1": 1, "a2": 1, "b1": 1}},)
    # a second task cannot go on a1/a2/b1 (port taken); b2 is the only free one
    d = distribution(snap, "web")
    assert d.targets[arn("b2")] in (0, 1) and max(d.targets.values()) == 1
    assert run(snap).service("web").status == Status.BALANCED


def test_static_ports_destination_must_have_port_free():
    other = svc("other", ports=[8080])
    insts = [inst("a1", "a"), inst("b1", "b"), inst("b2", "b")]
    snap = cluster(insts, [svc("web", ports=[8080], desired=2), other],
                   {"web": {"a1": 1, "b1": 1}, "other": {"b2": 1}})
    # web is already spread; b2 holds port 8080 so it is not eligible for web
    assert arn("b2") not in distribution(snap, "web").instances


def test_distinct_instance():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), inst("b2", "b")]
    snap = cluster(insts, [svc("web", constraints=[("distinctInstance", "")])],
                   {"web": {"a1": 2, "a2": 1}})
    p = run(snap)
    after = counts(apply_moves(snap, p.moves), "web")
    assert max(after.values()) == 1 and sum(after.values()) == 3
    # 3 tasks, caps of 1: AZ a keeps 2 (a1 sheds its duplicate), AZ b gets 1
    assert after == {"a1": 1, "a2": 1, "b1": 1} and len(p.moves) == 1


def test_member_of_restricts_targets():
    insts = [inst("a1", "a", attrs={"stack": "prod"}), inst("b1", "b", attrs={"stack": "prod"}),
             inst("b2", "b", attrs={"stack": "dev"})]
    web = svc("web", constraints=[("memberOf", "attribute:stack == prod")])
    snap = cluster(insts, [web], {"web": {"a1": 4}})
    p = run(snap)
    assert moves_of(p) == [("a1", "b1"), ("a1", "b1")]
    assert arn("b2") not in distribution(snap, "web").instances


def test_explicit_instance_spread_only():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("a3", "a")]
    snap = cluster(insts, [svc("web", strategy=[("spread", "instanceId")])], {"web": {"a1": 3}})
    p = run(snap)
    assert moves_of(p) == [("a1", "a2"), ("a1", "a3")]


def test_az_only_spread_keeps_instances_sticky():
    insts = [inst("a1", "a"), inst("a2", "a"), inst("b1", "b")]
    web = svc("web", strategy=[("spread", "attribute:ecs.availability-zone")])
    snap = cluster(insts, [web], {"web": {"a1": 2, "b1": 2}})
    assert run(snap).service("web").status == Status.BALANCED   # instance skew not a level
    snap = cluster(insts, [web], {"web": {"a1": 4}})
    assert moves_of(run(snap)) == [("a1", "b1"), ("a1", "b1")]


def test_generic_attribute_level():
    insts = [inst("a1", "a", attrs={"rack": "r1"}), inst("a2", "a", attrs={"rack": "r2"})]
    web = svc("web", strategy=[("spread", "attribute:rack"), ("spread", "host")])
    snap = cluster(insts, [web], {"web": {"a1": 2}})
    assert moves_of(run(snap)) == [("a1", "a2")]


SKIPS = [
    (svc("web", tags={"taskspread:rebalance": "false"}), Reason.OPTED_OUT),
    (svc("web", scheduling_strategy="DAEMON"), Reason.DAEMON),
    (svc("web", deployment_controller="CODE_DEPLOY"), Reason.DEPLOYMENT_CONTROLLER),
    (svc("web", deployment_controller="EXTERNAL"), Reason.DEPLOYMENT_CONTROLLER),
    (svc("web", strategy=[("binpack", "memory")]), Reason.UNSUPPORTED_STRATEGY),
    (svc("web", strategy=[("spread", "attribute:ecs.availability-zone"), ("random", "")]),
     Reason.UNSUPPORTED_STRATEGY),
    (svc("web", desired=1), Reason.TOO_FEW_TASKS),
    (svc("web", deployments=2), Reason.DEPLOYMENT_IN_PROGRESS),
    (svc("web", rollout_state="IN_PROGRESS"), Reason.DEPLOYMENT_IN_PROGRESS),
    # native strategies and lifecycle hooks (issue 18): the most specific reason wins
    (svc("web", deployment_strategy="BLUE_GREEN", service_deployment_status="IN_PROGRESS",
         lifecycle_stage="BAKE_TIME", current_revisions=2, deployments=2),
     Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", deployment_strategy="CANARY", service_deployment_status="IN_PROGRESS",
         lifecycle_stage="POST_SCALE_UP", hooks_awaiting=("ecs-pause-1",), current_revisions=2),
     Reason.HOOK_AWAITING_ACTION),
    (svc("web", service_deployment_status="PENDING"), Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", service_deployment_status="STOP_REQUESTED"), Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", service_deployment_status="ROLLBACK_REQUESTED"), Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", service_deployment_status="ROLLBACK_IN_PROGRESS"),
     Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", service_deployment_status="ROLLBACK_FAILED"), Reason.SERVICE_DEPLOYMENT_ACTIVE),
    (svc("web", current_revisions=2), Reason.SEVERAL_REVISIONS),
    (svc("web", current_revisions=0), Reason.SEVERAL_REVISIONS),
    (svc("web", desired=5), Reason.NOT_STEADY),
    (svc("web", constraints=[("memberOf", "task:group == databases")]),
     Reason.UNSUPPORTED_CONSTRAINT),
    (svc("web", constraints=[("memberOf", "attribute:x ==")]), Reason.UNSUPPORTED_CONSTRAINT),
]


@pytest.mark.parametrize("service, code", SKIPS, ids=[c for _, c in SKIPS])
def test_skip_reasons(service, code):
    placement = {"web": {"a1": 1} if service.desired == 1 else {"a1": 2}}
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [service], placement)
    sp = run(snap).service("web")
    assert sp.status == Status.SKIPPED and sp.skip.code == code
    assert sp.skip.message and sp.moves == ()
    assert distribution(snap, "web").skip.code == code


@pytest.mark.parametrize("status", ["SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", ""])
def test_finished_service_deployments_do_not_gate(status):
    """A finished service deployment (a rollback that succeeded leaves blue alone, as before)
    and one revision: the service is planned as any other."""
    service = svc("web", deployment_strategy="BLUE_GREEN", service_deployment_status=status,
                  lifecycle_stage="CLEAN_UP" if status else "", current_revisions=1)
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [service], {"web": {"a1": 2}})
    sp = run(snap).service("web")
    assert sp.status == Status.REBALANCE and len(sp.moves) == 1


def test_single_domain_skip():
    snap = cluster([inst("a1", "a"), inst("a2", "a"), inst("b1", "b", status="DRAINING")],
                   [svc("web", strategy=[("spread", "attribute:ecs.availability-zone")])],
                   {"web": {"a1": 2}})
    sp = run(snap).service("web")
    assert sp.skip.code == Reason.SINGLE_DOMAIN and sp.moves == ()


def test_shared_ledger_two_services_compete_for_one_slot():
    # b1 has room for exactly one 1024-cpu task; both services want it
    insts = [inst("a1", "a", cpu=8192), inst("b1", "b", cpu=1024)]
    snap = cluster(insts, [svc("api", cpu=1024), svc("web", cpu=1024)],
                   {"api": {"a1": 2}, "web": {"a1": 2}})
    p = run(snap)
    assert moves_of(p, "api") == [("a1", "b1")]
    web = p.service("web")
    assert web.moves == ()
    # with b1 taken by api, AZ b is still a domain of web's, only a full one: at capacity,
    # saying what binds (not "nothing to spread over": ECS would use b1 once it had room)
    assert web.status == Status.AT_CAPACITY and web.reason.code == Reason.AT_CAPACITY
    assert "no room on 1 candidate instance(s): CPU on 1" in web.reason.message
    # alone, web would have taken the slot
    assert distribution(snap, "web").moves_needed == 1
    assert moves_of(run(snap, services=("web",))) == [("a1", "b1")]


def test_the_plan_proposes_every_move():
    """The planner has no budget of its own: the evictor alone spends moves."""
    insts = [inst("a1", "a"), inst("b1", "b")]
    snap = cluster(insts, [svc("api"), svc("web")], {"api": {"a1": 6}, "web": {"a1": 4}})
    p = run(snap)
    assert len(p.moves) == 5 and p.moves_needed == 5
    assert len(p.service("api").moves) == 3 and len(p.service("web").moves) == 2
    assert p.message == "5 move(s) planned for cluster test"
    assert {sp.reason.code for sp in p.services} == {Reason.MOVES_PLANNED}


def test_default_max_moves_is_ten_percent_at_least_one():
    """The evictor's default step budget (``Limits.max_moves`` None)."""
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 30}})
    assert default_max_moves(snap) == 3
    small = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 4}})
    assert default_max_moves(small) == 1 and len(plan(small).moves) == 2


def test_max_skew_tolerance():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 3, "b1": 1}})
    assert run(snap, max_skew=2).service("web").status == Status.BALANCED
    assert len(run(snap, max_skew=1).moves) == 1


def test_task_choice_prefers_unhealthy_then_newest():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 4}},
                   task_fields={"web-000002": {"health": "UNHEALTHY"}})
    p = run(snap)
    chosen = [m.task_arn.rsplit("/", 1)[-1] for m in p.moves]
    assert chosen == ["web-000002", "web-000004"]


def test_services_option_limits_planning():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("api"), svc("web")],
                   {"api": {"a1": 2}, "web": {"a1": 2}})
    p = run(snap, services=("web",))
    assert [sp.service for sp in p.services] == ["web"] and len(p.moves) == 1


def test_results_are_json_ready_snake_case():
    snap = cluster([inst("a1", "a"), inst("b1", "b")], [svc("web")], {"web": {"a1": 2}})
    data = json.loads(json.dumps(run(snap).to_dict()))
    assert data["moves"][0]["source_instance"] == arn("a1")
    assert data["services"][0]["distribution"]["skew"] == {
        "attribute:ecs.availability-zone": 2, "instanceId": 0}
    keys = set(data) | set(data["services"][0]) | set(data["moves"][0])
    assert all(k == k.lower() for k in keys)


def test_a_single_az_still_balances_its_instances():
    """One AZ, default strategy (AZ then instance): the AZ level has one domain, the instance
    level two; 4/0 is planned to 2/2, not skipped as single_domain (found by the chaos suite)."""
    snap = cluster([inst("a1", "a"), inst("a2", "a")], [svc("web")], {"web": {"a1": 4}})
    sp = run(snap).service("web")
    assert sp.skip is None and len(sp.moves) == 2
    assert moves_of(run(snap)) == [("a1", "a2"), ("a1", "a2")]
