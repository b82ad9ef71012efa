"""Issue 16 item 4: the open findings of the review, one regression test each, on the sandbox's
manual clock (see ``engine_harness``). Each test failed on main before its fix; each asserts
outcomes (desiredCount, tags, task counts per instance, result fields), never only that a run
returned."""

from __future__ import annotations

import pytest

from engine_harness import (CLUSTER, SERVICE, SURGE_TAG, Killed, Proxy, engine_client,
                            live_task_arns, protected_tasks, run_engine, service_doc,
                            skewed_cluster, spread, tags)
from sandbox.scenario import Seed

SURGE_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=100, max_percent=200)
STOP_SEED = dict(azs=2, instances=2, tasks=4, min_healthy_percent=50, max_percent=200)


@pytest.mark.parametrize("seed, strategy", [(SURGE_SEED, "auto"), (STOP_SEED, "stop")],
                         ids=["surge", "stop"])
def test_balanced_describes_the_cluster_after_a_step_without_wait(sandbox, seed, strategy):
    """``balanced`` with ``wait: false`` compared the read taken before the step with itself,
    so a step that balanced 4/0 still said "not balanced". The run now reads the cluster once
    more after the step (without waiting): a surge completes inside its step (it waits for
    its own scale-in), and ECS places a stopped task's replacement at once, so ``after``
    shows 2/2 and ``balanced`` is true; ``before`` still shows 4/0."""
    aws, _ = skewed_cluster(sandbox, Seed(**seed))
    assert spread(aws) == [4, 0]
    result = run_engine(sandbox, wait=False, max_moves=2, strategy=strategy)
    out = result.to_dict()
    assert len(out["moves"]) == 2 and len(result.steps) == 1
    assert spread(aws) == [2, 2]
    assert sorted(out["after"][SERVICE]["azs"].values()) == [2, 2], out["after"][SERVICE]
    assert out["before"][SERVICE]["balanced"] is False
    assert out["after"][SERVICE]["balanced"] is True
    assert out["balanced"] is True and out["message"].endswith("; balanced"), out["message"]
