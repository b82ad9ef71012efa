"""The data plane: tasks answer HTTP on loopback, the ALB routes to healthy targets only."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.request

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils.probe import Probe
from sandbox.scenario import (Clients, Driver, Seed, build_alb, build_seed, create_service,
                              healthy_targets)

TASK_ID = re.compile(rb"task <code>([0-9a-f]+)</code> on instance <code>(i-[0-9a-f]+)</code> "
                     rb"in <code>([a-z0-9-]+)</code>")




def get(url: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def stack(sb, tasks=2, min_healthy=100, delay=30):
    """The seed scenario behind an ALB (deregistration delay ``delay``), service running."""
    aws = Clients(sb.endpoint)
    seed = build_seed(aws, Seed(tasks=tasks, min_healthy_percent=min_healthy))
    tg, lb = build_alb(aws, seed, deregistration_delay=delay)
    driver = Driver(advance=sb.advance)
    driver.wait_for(lambda: len(aws("ecs").list_container_instances(
        cluster=seed.cluster)["containerInstanceArns"]) == seed.instances, 300)
    create_service(aws, seed, target_group_arn=tg)
    driver.wait_for(lambda: healthy_targets(aws, tg) == tasks, 300, what="targets healthy")
    return aws, seed, tg, lb


def alb_url(sb, dns):
    with urllib.request.urlopen(f"{sb.endpoint}/_sandbox/dataplane", timeout=5) as resp:
        return json.load(resp)["load_balancers"][dns]


def test_tasks_serve_their_page_and_the_alb_round_robins(live):
    aws, seed, tg, lb = stack(live)
    tasks = aws("ecs").describe_tasks(cluster=seed.cluster, tasks=aws("ecs").list_tasks(
        cluster=seed.cluster)["taskArns"])["tasks"]
    expected = {t["taskArn"].rsplit("/", 1)[1]: (t["containerInstanceArn"], t["availabilityZone"])
                for t in tasks}
    url = alb_url(live, lb["DNSName"])
    seen = {}
    for _ in range(6):
        status, body = get(url)
        assert status == 200 and b"Congratulations!" in body
        task_id, instance, az = TASK_ID.search(body).groups()
        seen[task_id.decode()] = (instance.decode(), az.decode())
    assert set(seen) == set(expected)                          # both tasks answered
    assert {az for _, az in seen.values()} == {a for _, a in expected.values()}
    # The main port routes by Host header too.
    status, body = get(live.endpoint + "/", host=lb["DNSName"])
    assert status == 200 and TASK_ID.search(body)


def test_a_stopped_task_stops_serving_and_gets_no_traffic(live):
    aws, seed, tg, lb = stack(live, min_healthy=50, delay=30)
    ecs = aws("ecs")
    urls = json.load(urllib.request.urlopen(f"{live.endpoint}/_sandbox/dataplane"))["tasks"]
    victim = sorted(urls)[0]
    ecs.stop_task(cluster=seed.cluster, task=victim, reason="test")
    # Draining (30 s): the task still runs, the ALB sends it nothing new.
    url = alb_url(live, lb["DNSName"])
    victim_id = victim.rsplit("/", 1)[1].encode()
    for _ in range(6):
        status, body = get(url)
        assert status == 200 and victim_id not in body
    Driver(advance=live.advance).wait_for(
        lambda: victim not in json.load(urllib.request.urlopen(
            f"{live.endpoint}/_sandbox/dataplane"))["tasks"], 120, what="task server closed")
    port = int(urls[victim].rsplit(":", 1)[1].strip("/"))
    with pytest.raises(OSError):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/")
        conn.getresponse()


def test_no_targets_is_503(live):
    aws, seed, tg, lb = stack(live, tasks=2, min_healthy=0, delay=0)
    aws("ecs").update_service(cluster=seed.cluster, service=seed.service, desiredCount=0)
    Driver(advance=live.advance).wait_for(
        lambda: not json.load(urllib.request.urlopen(
            f"{live.endpoint}/_sandbox/dataplane"))["tasks"], 300, what="tasks gone")
    status, body = get(alb_url(live, lb["DNSName"]))
    assert status == 503


def test_probe_sees_no_failure_while_a_task_is_replaced_at_min_100(live):
    aws, seed, tg, lb = stack(live, tasks=2, min_healthy=100, delay=10)
    url = alb_url(live, lb["DNSName"])
    aws("ecs").update_service(cluster=seed.cluster, service=seed.service,
                              forceNewDeployment=True)
    ecs = aws("ecs")
    state = {"steps": 0}

    def until():               # advance emulated time between requests, up to steady state
        state["steps"] += 1
        live.advance(1)
        svc = ecs.describe_services(cluster=seed.cluster, services=[seed.service])["services"][0]
        return (len(svc["deployments"]) == 1 and svc["runningCount"] == 2
                and svc["deployments"][0]["rolloutState"] == "COMPLETED") or state["steps"] > 400

    report = Probe(url, interval=0.001).run(until)
    assert state["steps"] <= 400, "the redeploy did not finish"
    assert report.sent > 20 and report.failed == 0, report.errors
    assert report.bodies_seen >= 3                 # old and new tasks both answered


def test_each_task_serves_its_own_id_instance_and_az(live):
    aws, seed, tg, lb = stack(live)
    ecs = aws("ecs")
    tasks = ecs.describe_tasks(cluster=seed.cluster, tasks=ecs.list_tasks(
        cluster=seed.cluster)["taskArns"])["tasks"]
    instances = {ci["containerInstanceArn"]: ci["ec2InstanceId"]
                 for ci in ecs.describe_container_instances(
                     cluster=seed.cluster,
                     containerInstances=[t["containerInstanceArn"] for t in tasks])[
                     "containerInstances"]}
    urls = json.load(urllib.request.urlopen(f"{live.endpoint}/_sandbox/dataplane"))["tasks"]
    assert set(urls) == {t["taskArn"] for t in tasks}
    for task in tasks:
        status, body = get(urls[task["taskArn"]])
        assert status == 200 and b"Amazon ECS Sample App" in body
        assert TASK_ID.search(body).groups() == (
            task["taskArn"].rsplit("/", 1)[1].encode(),
            instances[task["containerInstanceArn"]].encode(), task["availabilityZone"].encode())
    assert live.status()["load_balancers"] == {lb["DNSName"]: alb_url(live, lb["DNSName"])}


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_background_probe_and_cli_count_a_closed_port_as_down(capsys):
    from sandbox.cli import main
    from sandbox.traffic.probe import BackgroundProbe

    url = closed_port_url()
    probe = BackgroundProbe(url, interval=0.01, timeout=1).start()
    deadline = time.monotonic() + 10
    while probe.sent < 3 and time.monotonic() < deadline:      # bounded poll on a real thread
        time.sleep(0.01)
    report = probe.stop()
    assert report.sent >= 3 and report.failed == report.sent
    assert "ConnectionRefusedError" in report.errors[0]

    assert main(["probe", url, "--interval", "0.01", "--duration", "0.1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sent"] >= 1 and summary["failed"] == summary["sent"]
    assert summary["success_percent"] == 0.0
