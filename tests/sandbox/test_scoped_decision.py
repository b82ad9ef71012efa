"""Issue 17 item 1 in the sandbox: a decision scoped to one service (what a steady state of
that service triggers) reads that service's tasks alone and decides about it exactly as the
whole-cluster decision does; other services' tasks count only through the instances'
remainingResources, which the sandbox's ECS keeps as AWS does."""

from __future__ import annotations

from engine_harness import CLUSTER, SERVICE, count_requests, engine_client, run_engine, \
    service_doc, skewed_cluster, spread
from sandbox.scenario import Driver, Seed

OTHER = "zz-worker"     # sorts after the seed's service: nothing is planned before it


def test_scoped_decision_equals_the_whole_cluster_one_and_reads_one_service(sandbox):
    seed = Seed(azs=2, instances=2, tasks=6, min_healthy_percent=50, max_percent=200,
                instance_type="m5.xlarge")
    other = dict(desiredCount=4, availabilityZoneRebalancing="DISABLED",
                 deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
    aws, _ = skewed_cluster(sandbox, seed, extra={OTHER: other})
    assert spread(aws) == [6, 0] and spread(aws, OTHER) == [4, 0]

    whole_client, scoped_client = engine_client(sandbox), engine_client(sandbox)
    whole_sent, scoped_sent = count_requests(whole_client), count_requests(scoped_client)
    whole = run_engine(sandbox, ecs=whole_client, check_mode=True, wait=False, max_moves=50)
    scoped = run_engine(sandbox, ecs=scoped_client, check_mode=True, wait=False, max_moves=50,
                        services=(SERVICE,), scope_reason=f"service {SERVICE} reached a steady state")

    assert scoped.plan.service(SERVICE) == whole.plan.service(SERVICE)
    assert whole.plan.service(SERVICE).moves_needed == 3
    grants = [(g.service.name, g.mode, [m.task_arn for m in g.moves])
              for g in whole.decision.grants if g.service.name == SERVICE]
    assert [(g.service.name, g.mode, [m.task_arn for m in g.moves])
            for g in scoped.decision.grants] == grants and grants
    out = scoped.to_dict()
    assert out["scope"] == {"read": "services", "services": [SERVICE],
                            "reason": f"service {SERVICE} reached a steady state"}
    assert whole.to_dict()["scope"]["read"] == "cluster"
    # One listing and one describe of the service's 6 tasks; the whole read lists every task
    # and describes both services' 10 (and lists the services).
    target = "AmazonEC2ContainerServiceV20141113."
    assert scoped_sent[target + "ListTasks"] == 1 and scoped_sent[target + "DescribeTasks"] == 1
    assert target + "ListServices" not in scoped_sent
    assert whole_sent[target + "ListServices"] == 1
    assert out["reads"]["shared_read_bucket_calls"] == 2
    assert scoped.api_calls < whole.api_calls
    assert set(scoped.before) == {SERVICE} and set(whole.before) == {SERVICE, OTHER}
    assert CLUSTER == out["plan"]["cluster"]


def test_a_run_without_wait_rereads_only_the_services_its_step_touched(sandbox):
    """A whole-cluster run that acts and does not wait (the Lambda's way) reads the whole
    cluster once: the read after its step lists the touched service's tasks alone, and
    ``after`` still has every service (the untouched one from the first read)."""
    seed = Seed(azs=2, instances=2, tasks=6, min_healthy_percent=50, max_percent=200,
                instance_type="m5.xlarge")
    aws, _ = skewed_cluster(sandbox, seed)
    # A second service started after the scale-out, spread over both instances: balanced.
    aws("ecs").create_service(
        cluster=CLUSTER, serviceName=OTHER, taskDefinition=SERVICE, launchType="EC2",
        desiredCount=2, availabilityZoneRebalancing="DISABLED",
        placementStrategy=[{"type": "spread", "field": "instanceId"}])
    Driver(advance=sandbox.advance).wait_for(
        lambda: service_doc(aws("ecs"), OTHER)["deployments"][0]["rolloutState"] == "COMPLETED",
        300, what="the second service steady")
    assert sorted(spread(aws, OTHER)) == [1, 1]
    assert spread(aws) == [6, 0]
    client = engine_client(sandbox)
    sent = count_requests(client)
    result = run_engine(sandbox, ecs=client, wait=False, max_moves=50)
    out = result.to_dict()
    assert out["moves_made"] == 3 and out["error"] == ""
    target = "AmazonEC2ContainerServiceV20141113."
    # First read: one whole ListTasks page (no serviceName); after the step: the touched
    # service's own listing only.
    assert sent[target + "ListTasks"] == 2 and sent[target + "ListServices"] == 1
    assert set(out["after"]) == {SERVICE, OTHER}
    assert out["after"][OTHER] == out["before"][OTHER]
    assert out["before"][SERVICE]["azs"] == {"us-east-1a": 6, "us-east-1b": 0}
    assert out["after"][SERVICE]["azs"] == {"us-east-1a": 3, "us-east-1b": 3}
    assert out["after"][SERVICE]["balanced"] and result.balanced
    assert out["skipped"] == [] and out["after"][OTHER]["balanced"]
    assert result.last_plan is not None and \
        [sp.service for sp in result.last_plan.services] == sorted([SERVICE, OTHER])
