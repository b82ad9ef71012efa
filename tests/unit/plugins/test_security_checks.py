"""The security checker flags what issue 6.5 forbids and passes what the roles deploy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
from security_checks import group_findings, policy_findings  # noqa: E402


@pytest.mark.parametrize("statement, expected", [
    ({"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}, ["wildcard action 'ecs:*'"]),
    ({"Effect": "Allow", "Action": ["*"], "Resource": "*"},
     ["wildcard action '*'", "* on any resource"]),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
     ["iam:PassRole on any resource"]),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/x"}, []),
    ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, ["Allow with NotAction"]),
    ({"Effect": "Deny", "Action": "*", "Resource": "*"}, []),
    ({"Effect": "Allow", "Action": ["ecs:StopTask"], "Resource": "arn:aws:ecs:::task/c/*"}, []),
])
def test_policy_findings(statement, expected):
    found = policy_findings("p", {"Statement": [statement]})
    assert [f.split(": ", 1)[1] for f in found] == expected


def _group(name, proto, low, high, cidr):
    return {"GroupName": name, "IpPermissions": [
        {"IpProtocol": proto, "FromPort": low, "ToPort": high, "IpRanges": [{"CidrIp": cidr}]}]}


@pytest.mark.parametrize("group, bad", [
    (_group("alb", "tcp", 80, 80, "0.0.0.0/0"), False),
    (_group("alb", "tcp", 22, 22, "0.0.0.0/0"), True),
    (_group("alb", "tcp", 0, 65535, "0.0.0.0/0"), True),
    (_group("instances", "tcp", 80, 80, "0.0.0.0/0"), True),
    (_group("instances", "tcp", 32768, 65535, "10.0.0.0/16"), False),
    (_group("alb", "-1", None, None, "0.0.0.0/0"), True),
])
def test_group_findings(group, bad):
    assert bool(group_findings([group], "alb", 80)) is bad
