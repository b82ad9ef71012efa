"""One memberOf semantics, ECS's: the engine's evaluator (``_engine/placement_expr.py``) and
the sandbox's (``sandbox/ecs/query.py``, the engine's oracle) answer every expression of one
table alike, and agree on generated expressions over instances with and without attributes.

The table's cases follow the cluster query language's documentation (cluster-query-
language.html: operators ``==``, ``!=``, ``=~``, ``!~``, ``in``, ``not_in``, ``exists``,
``!exists``, ``and``/``or``/``not``). The negative operators over a missing attribute are
false: ECS answers ``attribute:retiring != true`` with the instances that have ``retiring``
set to another value only (aws/containers-roadmap#486). Before this table the engine said
True for ``!=`` over a missing attribute and the sandbox True for all three.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import compile_expression
from sandbox.ecs import query

HAS = {"attribute:stack": "prod", "attribute:ecs.instance-type": "t3.micro",
       "ec2InstanceId": "i-1", "agentConnected": "true"}
LACKS = {"attribute:ecs.instance-type": "m5.large", "ec2InstanceId": "i-2",
         "agentConnected": "true"}      # no attribute:stack

# (expression, on an instance with stack=prod, on an instance without ``stack``)
TABLE = [
    ("attribute:stack == prod", True, False),
    ("attribute:stack equals dev", False, False),
    ("attribute:stack != dev", True, False),          # missing: false (roadmap#486)
    ("attribute:stack not_equals prod", False, False),
    ("attribute:stack =~ pr.*", True, False),
    ("attribute:stack !~ de.*", True, False),         # missing: false
    ("attribute:stack not_matches pr.*", False, False),
    ("attribute:stack in [prod, dev]", True, False),
    ("attribute:stack not_in [dev]", True, False),    # missing: false
    ("attribute:stack !in [prod]", False, False),
    ("attribute:stack not in [dev]", True, False),
    ("attribute:stack exists", True, False),
    ("attribute:stack !exists", False, True),
    ("attribute:stack not_exists", False, True),
    ("not (attribute:stack == prod)", False, True),   # boolean not: true when missing
    ("attribute:stack !exists or attribute:stack != dev", True, True),
    ("attribute:ecs.instance-type =~ t3.* and attribute:stack == prod", True, False),
    ("attribute:ecs.instance-type != t3.micro", False, True),
    ("ec2InstanceId not_in [i-1]", False, True),
    ("agentConnected == true", True, True),
]


def _engine(expr: str, subjects: dict[str, str]) -> bool:
    return compile_expression(expr)(subjects)


def _sandbox(expr: str, subjects: dict[str, str]) -> bool:
    return query.parse(expr)(subjects.get)


@pytest.mark.parametrize("expr, on_has, on_lacks", TABLE)
def test_both_evaluators_follow_the_table(expr, on_has, on_lacks):
    got = {"engine": (_engine(expr, HAS), _engine(expr, LACKS)),
           "sandbox": (_sandbox(expr, HAS), _sandbox(expr, LACKS))}
    assert got == {"engine": (on_has, on_lacks), "sandbox": (on_has, on_lacks)}, expr


_VALUES = st.sampled_from(["prod", "dev", "t3.micro", "1", "12"])
_NAMES = st.sampled_from(["stack", "size"])
_OPS = st.sampled_from(["==", "!=", "=~", "!~", "equals", "not_equals", "matches",
                        "not_matches"])


@st.composite
def _comparison(draw) -> str:
    name = draw(_NAMES)
    kind = draw(st.sampled_from(["binary", "list", "exists"]))
    if kind == "binary":
        return f"attribute:{name} {draw(_OPS)} {draw(_VALUES)}"
    if kind == "list":
        items = ", ".join(draw(st.lists(_VALUES, min_size=1, max_size=3)))
        return f"attribute:{name} {draw(st.sampled_from(['in', 'not_in', '!in']))} [{items}]"
    return f"attribute:{name} {draw(st.sampled_from(['exists', '!exists', 'not_exists']))}"


_EXPRESSIONS = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "&&", "||"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda e: f"not ({e})")),
    max_leaves=4)
_INSTANCES = st.fixed_dictionaries({}, optional={
    "attribute:stack": _VALUES, "attribute:size": _VALUES})


@settings(max_examples=300, deadline=None)
@given(expr=_EXPRESSIONS, subjects=_INSTANCES)
def test_both_evaluators_agree_on_generated_expressions(expr, subjects):
    """Any expression over instances that have or lack each attribute: one answer."""
    assert _engine(expr, subjects) == _sandbox(expr, subjects), (expr, subjects)
