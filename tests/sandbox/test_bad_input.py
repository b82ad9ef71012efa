"""Bad input gets a clear error, never a traceback and never a change (issue 6.4).

Table-driven: the modules (in-process, against a sandbox, through Ansible's own argument
handling), the Lambda's event parsing (a logged no-op), and the roles' argument specs and the
playbooks' variables (ansible-playbook, in tests/integration/test_bad_input_playbooks.py).
"""

from __future__ import annotations

import importlib
import json
import re

import pytest
from ansible.module_utils.testing import patch_module_args

MODULE = "ansible_collections.taskspread.ecs.plugins.modules.{}"


def run_module(name: str, args: dict, endpoint: str, capsys, check_mode: bool = False) -> dict:
    module = importlib.import_module(MODULE.format(name))
    args = {**args, "_ansible_check_mode": check_mode}
    if name not in ("lambda_package",):
        args.update(endpoint_url=endpoint, region="us-east-1", access_key="testing",
                    secret_key="testing")
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def seeded(aws) -> None:
    """A cluster 'demo' with one service 'web' and no instances."""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "httpd", "memory": 128}])
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=0)


CASES = [
    # (module, args, message pattern)
    ("rebalance", {}, r"missing required arguments: cluster"),
    ("rebalance", {"cluster": "demo", "max_skew": "wide"}, r"max_skew.*int"),
    ("rebalance", {"cluster": "demo", "strategy": "shuffle"},
     r"strategy must be one of: auto, stop, surge, redeploy"),
    ("rebalance", {"cluster": "demo", "max_skew": 0}, r"max_skew"),
    ("rebalance", {"cluster": "demo", "max_moves": -3}, r"max_moves"),
    ("rebalance", {"cluster": "demo", "wait_timeout": "soon"}, r"wait_timeout.*int"),
    ("rebalance", {"cluster": "demo", "services": ["web", "nope"]}, r"unknown service.*nope"),
    ("rebalance", {"cluster": "missing"}, r"'missing' not found"),
    ("rebalance", {"cluster": "demo", "bogus": 1}, r"Unsupported parameters.*bogus"),
    ("rebalance", {"cluster": "demo", "protection_minutes": 0}, r"protection_minutes"),
    ("rebalance", {"cluster": "demo", "protection_minutes": 2881}, r"protection_minutes"),
    ("rebalance", {"cluster": "demo", "poll_interval": 0}, r"poll_interval"),
    ("rebalance", {"cluster": "demo", "poll_interval": 60, "wait_timeout": 30},
     r"poll_interval .* must not exceed wait_timeout"),
    ("rebalance", {"cluster": "demo", "max_moves_per_az": 0}, r"max_moves_per_az"),
    # issue 16: every numeric option has a range, named in the message (wait_timeout 10**400
    # was a traceback from float())
    ("rebalance", {"cluster": "demo", "wait_timeout": 10**400},
     r"wait_timeout must be between 1 and 86400, got 100000000000\.\.\. \(401 digits\)"),
    ("rebalance", {"cluster": "demo", "wait_timeout": 86401},
     r"wait_timeout must be between 1 and 86400, got 86401"),
    ("rebalance", {"cluster": "demo", "max_skew": 10**400}, r"max_skew must be between 1 and 1000000"),
    ("rebalance", {"cluster": "demo", "max_moves": 1000001}, r"max_moves must be between 1 and 1000000"),
    ("rebalance", {"cluster": "demo", "max_moves_per_az": 10**30},
     r"max_moves_per_az must be between 1 and 1000000"),
    ("rebalance", {"cluster": "demo", "poll_interval": 301},
     r"poll_interval must be more than 0 and at most 300, got 301"),
    ("rebalance", {"cluster": "demo", "protection_minutes": 10**400},
     r"protection_minutes must be between 1 and 2880"),
    # issue 16: services: [] has one meaning in both modules: an error
    ("rebalance", {"cluster": "demo", "services": []},
     r"services must name at least one service; omit it to mean every service"),
    ("service_az_rebalancing", {"cluster": "demo", "service": "nope", "state": "disabled"},
     r"'nope' not found"),
    ("service_az_rebalancing", {"cluster": "demo", "service": "web", "state": "off"},
     r"state must be one of: enabled, disabled"),
    ("task_distribution_info", {}, r"missing required arguments: cluster"),
    ("task_distribution_info", {"cluster": "missing"}, r"'missing' not found"),
    ("task_distribution_info", {"cluster": "demo", "services": "nope"}, r"unknown service.*nope"),
    ("task_distribution_info", {"cluster": "demo", "max_skew": [1]}, r"max_skew.*int"),
    ("task_distribution_info", {"cluster": "demo", "max_skew": 10**400},
     r"max_skew must be between 1 and 1000000"),
    ("task_distribution_info", {"cluster": "demo", "max_skew": 0},
     r"max_skew must be between 1 and 1000000, got 0"),
    ("task_distribution_info", {"cluster": "demo", "services": []},
     r"services must name at least one service; omit it to mean every service"),
    ("lambda_concurrency", {"name": "nope", "reserved_concurrent_executions": 1},
     r"concurrency of function nope"),
    ("lambda_concurrency", {"name": "f"}, r"reserved_concurrent_executions"),
    ("lambda_concurrency", {"name": "f", "reserved_concurrent_executions": -1}, r"0 or more"),
    ("rebalancer_log_info", {"log_group_name": "/aws/lambda/nope"}, r"not found"),
    ("lambda_package", {"dest": "/tmp/x.zip", "sources": [{"src": "/nonexistent"}]},
     r"does not exist"),
    ("lambda_package", {"dest": "/tmp/x.zip", "sources": "files"}, r"dictionary requested"),
]


@pytest.mark.parametrize("name, args, pattern", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[1])) or 'empty'}" for c in CASES])
def test_module_bad_input_is_a_clear_error(sandbox, aws, capsys, name, args, pattern):
    seeded(aws)
    before = aws("ecs").describe_services(cluster="demo", services=["web"])["services"][0]
    result = run_module(name, args, sandbox.endpoint, capsys)
    assert result.get("failed") is True, result
    assert re.search(pattern, result["msg"]), result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert not result.get("changed")
    after = aws("ecs").describe_services(cluster="demo", services=["web"])["services"][0]
    assert (after["desiredCount"], after["taskDefinition"], len(after["deployments"])) == \
           (before["desiredCount"], before["taskDefinition"], len(before["deployments"]))
