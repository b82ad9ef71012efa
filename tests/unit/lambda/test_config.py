"""The Lambda's configuration: read once from the environment, with clear errors."""

from __future__ import annotations

import pytest

from files.rebalancer.config import Config, ConfigError


def test_defaults_need_only_the_cluster():
    cfg = Config.from_env({"TASKSPREAD_CLUSTER": "demo", "AWS_REGION": "eu-west-1"})
    assert cfg == Config(cluster="demo", strategy="auto", max_skew=1, max_moves=None,
                         dry_run=False, region="eu-west-1")


def test_every_variable_is_read():
    cfg = Config.from_env({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_STRATEGY": "surge",
                           "TASKSPREAD_MAX_SKEW": "2", "TASKSPREAD_MAX_MOVES": "5",
                           "TASKSPREAD_DRY_RUN": "true", "TASKSPREAD_NO_PROGRESS_MINUTES": "90"})
    assert (cfg.strategy, cfg.max_skew, cfg.max_moves, cfg.dry_run) == ("surge", 2, 5, True)
    assert cfg.no_progress_minutes == 90


def test_the_breakers_time_defaults_to_the_engines():
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine import breaker

    assert Config.from_env({"TASKSPREAD_CLUSTER": "c"}).no_progress_minutes == \
        breaker.DEFAULT_MINUTES


@pytest.mark.parametrize("env, message", [
    ({}, "TASKSPREAD_CLUSTER is not set"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_STRATEGY": "shuffle"}, "must be one of"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_MAX_SKEW": "0"},
     "TASKSPREAD_MAX_SKEW must be between 1 and 1000000, got 0"),
    # issue 16: every numeric variable has an upper bound too
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_MAX_SKEW": "1000001"},
     "TASKSPREAD_MAX_SKEW must be between 1 and 1000000, got 1000001"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_MAX_MOVES": "1" + "0" * 400},
     "TASKSPREAD_MAX_MOVES must be between 1 and 1000000, got a 401-digit value"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_MAX_MOVES_PER_AZ": "99999999"},
     "TASKSPREAD_MAX_MOVES_PER_AZ must be between 1 and 1000000, got 99999999"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_MAX_MOVES": "many"}, "must be a whole number"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_DRY_RUN": "maybe"}, "must be true or false"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_NO_PROGRESS_MINUTES": "1441"},
     "TASKSPREAD_NO_PROGRESS_MINUTES must be between 1 and 1440, got 1441"),
    ({"TASKSPREAD_CLUSTER": "c", "TASKSPREAD_NO_PROGRESS_MINUTES": "0"},
     "TASKSPREAD_NO_PROGRESS_MINUTES must be between 1 and 1440, got 0"),
])
def test_bad_environment_names_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)
