import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import (
    ExpressionError, UnsupportedExpression, compile_expression,
)

VALUES = {"attribute:ecs.instance-type": "t2.micro", "attribute:ecs.availability-zone": "us-east-1a",
          "attribute:stack": "prod", "attribute:size": "12", "ec2InstanceId": "i-1",
          "agentConnected": "true"}


@pytest.mark.parametrize("expr, expected", [
    ("attribute:ecs.instance-type == t2.micro", True),
    ("attribute:ecs.instance-type != t2.micro", False),
    ("attribute:ecs.instance-type =~ t2.*", True),
    ("attribute:ecs.instance-type !~ t2.*", False),
    ("attribute:ecs.instance-type =~ m5.*", False),
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", True),
    ("attribute:ecs.availability-zone not in [us-east-1a, us-east-1b]", False),
    ("attribute:ecs.availability-zone !in ['us-east-1c']", True),
    ("attribute:stack exists", True),
    ("attribute:missing exists", False),
    ("attribute:missing !exists", True),
    ("attribute:stack == prod and attribute:ecs.instance-type =~ t2.*", True),
    ("attribute:stack == dev or attribute:ecs.instance-type == t2.micro", True),
    ("attribute:stack == dev && (attribute:size > 3 || attribute:size < 1)", False),
    ("not (attribute:stack == dev)", True),
    ("attribute:size >= 12 and attribute:size < 100", True),
    ("ec2InstanceId in ['i-1', 'i-2']", True),
    ("attribute:stack equals 'prod'", True),
])
def test_expressions(expr, expected):
    assert compile_expression(expr)(VALUES) is expected


@pytest.mark.parametrize("expr", ["task:group == databases",
                                  "attribute:stack == prod and task:group == web",
                                  "runningTasksCount > 3"])
def test_unsupported(expr):
    with pytest.raises(UnsupportedExpression, match="not supported"):
        compile_expression(expr)


@pytest.mark.parametrize("expr", ["", "attribute:stack ==", "attribute:stack in [a, b",
                                  "(attribute:stack == a", "bogus == 1", "attribute:x ?? 1"])
def test_malformed(expr):
    with pytest.raises(ExpressionError):
        compile_expression(expr)
