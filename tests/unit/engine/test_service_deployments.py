"""snapshot.read_service_deployments: the service deployment state DescribeServices cannot
give, read the cheapest way (issue 18): nothing for rolling services without hooks, one
DescribeServiceDeployments per 20 services that name their current deployment, and a
ListServiceDeployments only for a service whose DescribeServices does not name it."""

from __future__ import annotations

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.aws_client import (
    CountingClient, ReadPacer,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.deadline import Deadline
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.errors import ReadTooSlow
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import TaskResources
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
    _check_read_time, _service, read_service_deployments,
)

ACC = "arn:aws:ecs:us-east-1:123456789012"


def dep_arn(name: str) -> str:
    return f"{ACC}:service-deployment/prod/{name}/1"


def doc(name: str, strategy: str | None = None, hooks: int = 0, current: bool = True) -> dict:
    config = {"maximumPercent": 200, "minimumHealthyPercent": 100}
    if strategy:
        config["strategy"] = strategy
    if hooks:
        config["lifecycleHooks"] = [{"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"]}
                                    ] * hooks
    out = {"serviceName": name, "serviceArn": f"{ACC}:service/prod/{name}", "status": "ACTIVE",
           "desiredCount": 2, "launchType": "EC2", "deploymentConfiguration": config,
           "currentServiceRevisions": [{"arn": "r", "runningTaskCount": 2}]}
    if current:
        out["currentServiceDeployment"] = dep_arn(name)
    return out


class Fake:
    def __init__(self, states: dict[str, dict]):
        self.states = states
        self.calls: list[tuple[str, dict]] = []

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict:
        self.calls.append(("describe", {"arns": list(serviceDeploymentArns)}))
        assert len(serviceDeploymentArns) <= 20
        return {"serviceDeployments": [{"serviceDeploymentArn": a, **self.states[a]}
                                       for a in serviceDeploymentArns], "failures": []}

    def list_service_deployments(self, **params) -> dict:
        self.calls.append(("list", params))
        name = params["service"].rsplit("/", 1)[-1]
        return {"serviceDeployments": [{"serviceDeploymentArn": dep_arn(name)}]}


def read(docs: list[dict], states: dict[str, dict]):
    fake = Fake(states)
    api = CountingClient(fake)
    services = {d["serviceName"]: _service(d, TaskResources(), ()) for d in docs}
    return read_service_deployments(api, f"{ACC}:cluster/prod", services), fake, api


def test_rolling_services_without_hooks_cost_nothing():
    out, fake, api = read([doc("a"), doc("b", "ROLLING")], {})
    assert fake.calls == [] and api.calls == 0
    assert out["a"].service_deployment_status == "" and out["a"].current_revisions == 1


def test_native_and_hooked_services_share_describe_calls_of_twenty():
    docs = [doc(f"bg{n:02d}", "BLUE_GREEN") for n in range(21)] + [doc("hooked", hooks=1),
                                                                    doc("plain")]
    states = {dep_arn(d["serviceName"]): {"status": "SUCCESSFUL", "lifecycleStage": "CLEAN_UP"}
              for d in docs}
    states[dep_arn("bg03")] = {"status": "IN_PROGRESS", "lifecycleStage": "BAKE_TIME"}
    states[dep_arn("hooked")] = {"status": "IN_PROGRESS", "lifecycleStage": "PRE_SCALE_UP",
                                 "lifecycleHookDetails": [
                                     {"hookId": "ecs-pause-x", "status": "AWAITING_ACTION"},
                                     {"hookId": "ecs-pause-y", "status": "SUCCEEDED"}]}
    out, fake, api = read(docs, states)
    assert [kind for kind, _ in fake.calls] == ["describe", "describe"]      # 22 ARNs: 20 + 2
    assert api.calls == 2
    assert (out["bg03"].service_deployment_status, out["bg03"].lifecycle_stage) == (
        "IN_PROGRESS", "BAKE_TIME")
    assert out["hooked"].hooks_awaiting == ("ecs-pause-x",)
    assert out["plain"].service_deployment_status == ""
    assert out["bg00"].service_deployment_status == "SUCCESSFUL"


def test_list_only_when_describe_services_names_no_deployment():
    docs = [doc("old", "CANARY", current=False), doc("new", "CANARY")]
    states = {dep_arn("old"): {"status": "ROLLBACK_IN_PROGRESS"},
              dep_arn("new"): {"status": "SUCCESSFUL"}}
    out, fake, api = read(docs, states)
    kinds = [kind for kind, _ in fake.calls]
    assert kinds == ["list", "describe"] and api.calls == 2
    assert "ROLLBACK_IN_PROGRESS" in fake.calls[0][1]["status"]
    assert out["old"].service_deployment_status == "ROLLBACK_IN_PROGRESS"


def test_the_read_price_counts_the_service_deployment_reads():
    """The read is priced before any task is read: 25 blue/green services (one naming no
    current deployment) add two DescribeServiceDeployments and one ListServiceDeployments to
    the one task definition, one ListTasks page and one DescribeTasks call of 50 tasks."""
    docs = [dict(doc(f"bg{n:02d}", "BLUE_GREEN", current=n > 0), runningCount=2,
                 taskDefinition="td:1") for n in range(25)]
    docs.append(dict(doc("daemon", "BLUE_GREEN"), schedulingStrategy="DAEMON", runningCount=0,
                     taskDefinition="td:1"))
    now = [0.0]
    pacer = ReadPacer(1.0, clock=lambda: now[0], sleep=lambda s: None)
    with pytest.raises(ReadTooSlow) as err:
        _check_read_time(docs, False, pacer, Deadline(lambda: now[0], 1.0))
    assert err.value.calls == 1 + 1 + 1 + 2 + 1
