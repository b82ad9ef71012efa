"""The codes are ``str`` enums inside the engine, plain strings in every output: a module's
result (ansible-core checks its types), the Lambda's JSON log lines, ``to_dict``."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.codes import (
    Reason, Refused, Status,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.deadline import Deadline
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.evictor import (
    Evictor, Limits,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.planner import plan
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.report import report
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.runner import (
    RebalanceResult,
)

from .factories import cluster, inst, ref, svc
from .fake_ecs import FakeEcs


def _result() -> RebalanceResult:
    """A check-mode result with a skipped service, a planned one, a balanced one and a
    refusal (the step's budget of one move is spent by the first service)."""
    snap = cluster([inst("a1", "a"), inst("b1", "b")],
                   [svc("api", min_healthy_percent=50), svc("web", min_healthy_percent=50),
                    svc("ok"),
                    svc("off", tags={"taskspread:rebalance": "false"})],
                   {"api": {"a1": 4}, "web": {"a1": 4}, "ok": {"a1": 1, "b1": 1},
                    "off": {"a1": 2}})
    fake = FakeEcs({n: s.desired for n, s in snap.services.items()},
                   {n: [(t.arn.rsplit("/", 1)[-1], ref(t.instance_arn)) for t in ts]
                    for n, ts in snap.tasks.items()})
    planned = plan(snap)
    evictor = Evictor(CountingClient(fake), snap.cluster_arn,
                      Limits(strategy="stop", max_moves=1), Deadline(lambda: 0.0, 900))
    decision = evictor.decide(snap, planned)
    before = report(snap, 1, None, planned, True)
    return RebalanceResult(plan=planned, before=before, after=before, decision=decision,
                           check_mode=True, run_id="r")


def _strings(value, path="$"):
    """Every (path, type) of a str found in a nested result."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}[key]", type(key)
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, type(value)


def test_codes_keep_their_values_and_print_them():
    assert Reason.OPTED_OUT == "opted_out" and Status.REBALANCE == "rebalance"
    assert Refused.DEFERRED == "deferred" and Reason.TOO_FEW_TASKS == "desired_below_two"
    assert f"{Reason.AT_CAPACITY}" == str(Reason.AT_CAPACITY) == "at_capacity"
    assert type(str(Status.SKIPPED)) is str
    assert json.dumps({"code": Refused.NO_PROGRESS}) == '{"code": "no_progress"}'


def test_every_string_of_a_result_is_a_plain_str():
    output = _result().to_dict()
    assert [(p, t) for p, t in _strings(output) if t is not str] == []
    services = {s["service"]: s for s in output["plan"]["services"]}
    assert {n: s["status"] for n, s in services.items()} == {
        "api": "rebalance", "off": "skipped", "ok": "balanced", "web": "rebalance"}
    assert services["off"]["skip"]["code"] == "opted_out"
    assert [r["code"] for r in output["decision"]["refused"]] == ["deferred"]
    assert output["before"]["off"]["status"] == "skipped"


def test_a_module_result_round_trips_through_exit_json():
    output = _result().to_dict()
    printed = io.StringIO()
    with patch_module_args({}):
        module = basic.AnsibleModule(argument_spec={})
        with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as done:
            module.exit_json(**output)
    assert done.value.code == 0
    back = json.loads(printed.getvalue())
    back.pop("invocation", None)
    assert back == json.loads(json.dumps(output))
    assert back["skipped"] and all(type(s["code"]) is str for s in back["skipped"])


def test_a_service_acted_on_and_not_seen_settled_is_balanced_only_when_it_is():
    """Issue 16 (``balanced`` honest without waiting): the skip a service gets while ECS is
    still replacing its tasks (not steady) does not count as balanced for a service the last
    step acted on; for any other service a skip still does."""
    from ansible_collections.taskspread.ecs.plugins.module_utils._engine.runner import (
        RebalanceResult,
    )
    after = {"web": {"balanced": False, "skip": {"code": "not_steady"}},
             "other": {"balanced": False, "skip": {"code": "daemon"}}}
    result = RebalanceResult(plan=None, before=after, after=after)
    assert result.balanced is True
    result.unsettled = ("web",)
    assert result.balanced is False
