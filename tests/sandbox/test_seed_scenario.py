"""The reference walkthrough without any rebalancer: the sandbox must reproduce ECS's flaw.

Two (or three) m3.medium instances behind an Auto Scaling group, the sample app as a bridge-mode
service. Scale the group in: the lost tasks are replaced on the survivors. Scale it out again:
the new instance registers and stays empty, because ECS never moves running tasks.
"""

from __future__ import annotations

from sandbox.scenario import Driver, Seed, counts, distribution, running_count


def test_two_tasks_scale_down_then_up_leaves_new_instance_empty(walk):
    aws, run = walk
    stages = run(Seed(azs=2, instances=2, tasks=2))
    assert [len(v) for v in stages["baseline"].values()] == [1, 1]      # one instance per AZ
    assert counts(stages["baseline"]) == [1, 1]
    assert counts(stages["down"]) == [2]                                # both on the survivor
    assert counts(stages["up"]) == [2, 0]                               # not moved back
    assert running_count(aws, "demo", "sample-app") == 2


def test_four_tasks_scale_down_then_up(walk):
    _, run = walk
    stages = run(Seed(azs=2, instances=2, tasks=4))
    assert counts(stages["baseline"]) == [2, 2]
    assert counts(stages["down"]) == [4]
    assert counts(stages["up"]) == [4, 0]


def test_three_azs_scale_down_then_up(walk):
    _, run = walk
    stages = run(Seed(azs=3, instances=3, tasks=3))
    assert sorted(len(v) for v in stages["baseline"].values()) == [1, 1, 1]
    assert counts(stages["baseline"]) == [1, 1, 1]
    assert counts(stages["down"]) == [2, 1]
    assert counts(stages["up"]) == [2, 1, 0]


def test_forced_redeploy_with_max_200_piles_onto_the_new_instance(sandbox, walk):
    """Spread counts every task of the service group, old and new: the first new tasks of a
    rolling deployment go to the empty instance, and the old ones on the full instance are
    stopped, so the redeploy keeps the layout skewed (the reference architecture's flaw)."""
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=4)
    run(seed)
    aws("ecs").update_service(cluster=seed.cluster, service=seed.service, forceNewDeployment=True)
    driver = Driver(advance=sandbox.advance)
    driver.wait_for(lambda: _steady(aws, seed), 900, what="redeploy finished")
    assert counts(distribution(aws, seed.cluster, seed.service)) == [4, 0]


def test_forced_redeploy_with_min_50_max_100_ends_balanced(sandbox, walk):
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=4, min_healthy_percent=50, max_percent=100)
    run(seed)
    aws("ecs").update_service(cluster=seed.cluster, service=seed.service, forceNewDeployment=True)
    Driver(advance=sandbox.advance).wait_for(lambda: _steady(aws, seed), 900,
                                             what="redeploy finished")
    assert counts(distribution(aws, seed.cluster, seed.service)) == [2, 2]


def test_redeploy_at_min_100_never_stops_a_task_that_is_not_healthy_yet(sandbox, walk):
    """Right after the walk the scale-in's replacement task is RUNNING but younger than 40 s,
    so not yet healthy (docs/ecs-facts.md §3.2). With minimumHealthyPercent 100 the deployment must
    start the new tasks first and stop old ones only as the healthy count allows: running never
    drops below desired."""
    aws, run = walk
    seed = Seed(azs=2, instances=2, tasks=2, min_healthy_percent=100, max_percent=200)
    run(seed)
    ecs = aws("ecs")
    ecs.update_service(cluster=seed.cluster, service=seed.service, forceNewDeployment=True)
    seen = []

    def steady_sampled():
        seen.append(running_count(aws, seed.cluster, seed.service))
        return _steady(aws, seed)

    Driver(advance=sandbox.advance).wait_for(steady_sampled, 900, step=1.0,
                                             what="redeploy finished")
    assert min(seen) == seed.tasks and max(seen) == 2 * seed.tasks


def _steady(aws, seed) -> bool:
    svc = aws("ecs").describe_services(cluster=seed.cluster, services=[seed.service])["services"][0]
    deployments = svc["deployments"]
    return (len(deployments) == 1 and deployments[0].get("rolloutState") == "COMPLETED"
            and svc["runningCount"] == seed.tasks and svc["pendingCount"] == 0)
