"""Issue 17 item 1 in the sandbox: a decision scoped to one service (what a steady state of
that service triggers) reads that service's tasks alone and decides about it exactly as the
whole-cluster decision does; other services' tasks count only through the instances'
remainingResources, which the sandbox's ECS keeps as AWS does."""

from __future__ import annotations

from engine_harness import CLUSTER, SERVICE, count_requests, engine_client, run_engine, \
    skewed_cluster, spread
from sandbox.scenario import Seed

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
