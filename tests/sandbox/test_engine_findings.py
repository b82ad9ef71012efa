"""Issue 16 item 4: the open findings of the review, one regression test each, on the sandbox's
manual clock (see ``engine_harness``). Each test failed on main before its fix; each asserts
outcomes (desiredCount, tags, task counts per instance, result fields), never only that a run
returned."""

from __future__ import annotations

import pytest

from engine_harness import (SERVICE, SURGE_TAG, kill_after_the_raise, live_task_arns,
                            protected_tasks, run_engine, service_doc, skewed_cluster, spread,
                            tags)
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


def test_check_mode_shows_the_heal_a_real_run_would_make(sandbox):
    """Check mode did not predict a heal: a killed run's surge (its state left in the service's
    lease item, the lease expired) is restored first by a real run, but check mode said
    ``changed: false`` and listed nothing. It now lists the service in ``healed``, says so in
    the message, reports ``changed``, and still changes nothing (desiredCount stays raised);
    the real run after it heals that service."""
    aws, _ = skewed_cluster(sandbox, Seed(**SURGE_SEED))
    ecs = aws("ecs")

    kill_after_the_raise(sandbox, wait_timeout=300)
    assert service_doc(ecs)["desiredCount"] == 5
    sandbox.advance(301)               # the killed run's lease (and deadline) expired long ago

    preview = run_engine(sandbox, check_mode=True)
    out = preview.to_dict()
    assert out["healed"] == [SERVICE], out["healed"]
    assert out["changed"] is True
    assert "would be restored first" in out["message"], out["message"]
    assert service_doc(ecs)["desiredCount"] == 5          # check mode changed nothing

    real = run_engine(sandbox, wait_timeout=900)
    assert SERVICE in real.to_dict()["healed"]
    assert service_doc(ecs)["desiredCount"] == 4
    assert SURGE_TAG not in tags(ecs)
    assert protected_tasks(ecs, live_task_arns(ecs)) == []
