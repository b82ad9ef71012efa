"""distribution_image: a task_distribution_info result drawn as a PNG.

The drawing is checked on the matplotlib figure before it becomes bytes: every AZ, instance
and service is written on it with its skew and state, no text leaves the picture or runs into
another, large clusters wrap and cap; then the bytes (deterministic, a real PNG of the
figure's size, its text in the Description) and the module (changed only when the bytes
differ, check mode, diff, clear errors, a missing matplotlib).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
from itertools import combinations

import pytest
from ansible.module_utils.testing import patch_module_args
from PIL import Image

from ansible_collections.taskspread.ecs.plugins.module_utils import distribution_image as di
from ansible_collections.taskspread.ecs.plugins.module_utils.distribution_view import (
    ViewError, instance_label, skew_text,
)
from ansible_collections.taskspread.ecs.plugins.module_utils.engine import distribution_report
from tests.unit.engine.factories import synthetic_cluster

MODULE = importlib.import_module("ansible_collections.taskspread.ecs.plugins.modules.distribution_image")
ARN = "arn:aws:ecs:us-east-1:123456789012:container-instance/demo/"


def report(instances: int, azs: int, services: int, tasks: int) -> dict:
    """What task_distribution_info(detail: true) returns for a skewed synthetic cluster, as
    it reaches a module (through JSON)."""
    snapshot = synthetic_cluster(instances, azs, services, tasks, skew="scale-out", seed=0)
    return json.loads(json.dumps(distribution_report(snapshot, 1, None, True)))


def small() -> dict:
    """Hand-made: a DRAINING instance, a disconnected agent, an instance without an EC2 id,
    one service with more tasks on an instance than a box shows, one skipped, one balanced."""
    return {
        "cluster": "demo",
        "instances": [
            {"arn": ARN + "1", "ec2_instance_id": "i-0123456789abcdef0", "az": "eu-west-1a",
             "status": "ACTIVE", "agent_connected": True},
            {"arn": ARN + "2", "ec2_instance_id": "i-0123456789abcdef1", "az": "eu-west-1b",
             "status": "DRAINING", "agent_connected": True},
            {"arn": ARN + "3", "ec2_instance_id": "i-0123456789abcdef2", "az": "eu-west-1b",
             "status": "ACTIVE", "agent_connected": False},
            {"arn": ARN + "4", "az": "eu-west-1c", "status": "ACTIVE", "agent_connected": True},
        ],
        "services": {
            "api": {"instances": {ARN + "1": 57, ARN + "3": 1}, "ineligible": {ARN + "2": 2},
                    "skew": {"attribute:ecs.availability-zone": 56, "instanceId": 57},
                    "delegated": ["attribute:ecs.availability-zone"], "balanced": False,
                    "skip": None, "max_skew": 1, "moves_needed": 38, "waiting": 2},
            "batch": {"instances": {ARN + "4": 3}, "skew": {}, "balanced": False,
                      "skip": {"code": "daemon", "message": "DAEMON service"}},
            "web": {"instances": {ARN + "1": 1, ARN + "4": 1}, "max_skew": 1,
                    "skew": {"attribute:ecs.availability-zone": 1, "instanceId": 1},
                    "balanced": True, "skip": None},
        },
    }


def text_boxes(picture: di.Picture):
    renderer = picture.figure.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in picture.figure.axes[0].texts
            if t.get_text().strip()]


def assert_legible(picture: di.Picture) -> None:
    """Every text inside the picture (with a margin) and no two texts overlapping."""
    width, height = picture.size
    boxes = text_boxes(picture)
    for text, box in boxes:
        assert box.x0 >= 10 and box.y0 >= 10 and box.x1 <= width - 10 and box.y1 <= height - 10, \
            f"{text!r} at {box.bounds} leaves the {width}x{height} picture"
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_w <= 0.5 or overlap_h <= 0.5, f"{a!r} runs into {b!r}"


@pytest.mark.parametrize("instances, azs, services, tasks", [
    (2, 1, 1, 2), (3, 3, 1, 3), (6, 3, 3, 20), (12, 3, 5, 60), (40, 1, 12, 150),
    (40, 3, 12, 400), (2, 3, 9, 18),
])
def test_every_az_instance_and_service_is_written_legibly(instances, azs, services, tasks):
    info = report(instances, azs, services, tasks)
    picture = di.build(info, label="after scale-out")
    texts = picture.texts()

    assert texts[:2] == [f"ECS cluster {info['cluster']}", "after scale-out"]
    for az in info["instance_summary"]["accepting_by_az"]:
        assert az in texts
    for instance in info["instances"]:
        assert instance_label(instance) in texts
    lines = {t.split(" · ")[0]: t for t in texts if " · skew " in t}
    listed = sorted(info["services"]) if services <= 9 else sorted(info["services"])[:8]
    assert sorted(lines) == listed
    for name in listed:
        service = info["services"][name]
        assert f"skew {skew_text(service)} (max 1)" in lines[name]
        assert re.search(r" · skew AZ \d+, instance \d+ ", lines[name])
    states = [t for t in texts if t in ("balanced", "OUT OF BALANCE", "skipped")]
    assert len(states) == len(listed) + (services > 9)
    more = [t for t in texts if "more services" in t]
    if services > 9:
        rest = sorted(info["services"])[8:]
        grey = sum(sum(info["services"][n]["instances"].values()) for n in rest)
        assert more == [f"+{len(rest)} more services (grey squares, {grey} tasks): "
                        f"{len(rest)} out of balance ({', '.join(rest[:3])}, ...)"]
    else:
        assert more == []
    assert_legible(picture)

    width, height = picture.size
    assert 750 <= width <= 2000 and 350 <= height <= 2000, picture.size
    with Image.open(io.BytesIO(picture.png())) as image:
        assert image.format == "PNG" and image.size == (width, height)


def test_many_instances_wrap_into_columns_instead_of_one_tall_column():
    one_az = di.build(report(40, 1, 2, 40))
    boxes = {round(box.x0) for text, box in text_boxes(one_az) if text.startswith("i-")}
    assert len(boxes) == 4                                   # 4 columns of 10 instances
    width, height = one_az.size
    assert height < 1.5 * width


def test_verdict_states_and_instance_notes():
    picture = di.build(small(), title="prod", label="stage 2")
    texts = picture.texts()
    assert texts[:3] == ["prod", "stage 2", "1 of 3 services OUT OF BALANCE: api; 1 skipped"]
    assert "DRAINING · 2 tasks" in texts
    assert "agent disconnected · 1 task" in texts
    assert "4" in texts                                      # no EC2 id: the container instance id
    assert "+20" in texts                                    # 58 tasks, 38 squares and +20
    assert ("api · 60 tasks · skew AZ 56 (left to ECS), instance 57 (max 1) · 38 moves needed · "
            "2 waiting on draining instances") in texts
    assert "batch · 3 tasks · skew n/a · DAEMON service" in texts
    assert "web · 2 tasks · skew AZ 1, instance 1 (max 1)" in texts
    assert texts.count("balanced") == 1 and texts.count("skipped") == 1
    assert texts.count("OUT OF BALANCE") == 1
    assert_legible(picture)


def test_balanced_verdict_and_service_filter():
    picture = di.build(small(), services=["web"])
    assert picture.services == ["web"]
    assert picture.texts()[:2] == ["ECS cluster demo", "all 1 service balanced"]
    assert not [t for t in picture.texts() if t.startswith("api")]


def test_same_input_same_bytes_and_the_text_is_in_the_png():
    first = di.build(small(), label="x").png()
    second = di.build(json.loads(json.dumps(small())), label="x").png()
    assert first == second
    assert di.build(small(), label="y").png() != first
    description = di.description_of(first)
    assert description.splitlines()[:4] == ["ECS cluster demo", "x",
                                            "1 of 3 services OUT OF BALANCE: api; 1 skipped",
                                            "service api:"]
    assert "eu-west-1a   i-0123456789abcdef0    57" in description
    assert di.description_of(b"not a png") == "" and di.description_of(None) == ""


@pytest.mark.parametrize("info, message", [
    ({"changed": False}, r"registered result of taskspread.ecs.task_distribution_info"),
    ("text", r"registered result"),
    ({**small(), "instances": None}, r"detail: true"),
])
def test_wrong_input_is_a_clear_error(info, message):
    with pytest.raises(ViewError, match=message):
        di.build(info)


def test_unknown_service_names_the_known_ones():
    with pytest.raises(ViewError, match=r"unknown service\(s\) nope; the result has: api, batch, web"):
        di.build(small(), services=["web", "nope"])


# The module, in-process through Ansible's own argument handling.

def run(capsys, check_mode=False, diff=False, **args) -> dict:
    args = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}
    with patch_module_args(args), pytest.raises(SystemExit):
        MODULE.main()
    return json.loads(capsys.readouterr().out)


def test_module_writes_once_then_reports_no_change(tmp_path, capsys):
    dest = tmp_path / "pictures" / "baseline.png"
    first = run(capsys, distribution=small(), dest=str(dest), label="baseline", mode="0640")
    assert first["changed"] is True and first["dest"] == str(dest)
    data = dest.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) == first["size"]
    assert oct(os.stat(dest).st_mode & 0o777) == "0o640"
    with Image.open(dest) as image:
        assert image.size == (first["width"], first["height"])
    assert first["services"] == ["api", "batch", "web"]
    assert first["description"][:2] == ["ECS cluster demo", "baseline"]

    again = run(capsys, distribution=small(), dest=str(dest), label="baseline", mode="0640")
    assert again["changed"] is False and again["sha256"] == first["sha256"]
    assert dest.read_bytes() == data


def test_module_check_mode_and_diff_write_nothing(tmp_path, capsys):
    dest = tmp_path / "after.png"
    absent = run(capsys, check_mode=True, distribution=small(), dest=str(dest))
    assert absent["changed"] is True and not dest.exists()

    run(capsys, distribution=small(), dest=str(dest), label="before")
    data = dest.read_bytes()
    other = run(capsys, check_mode=True, diff=True, distribution=small(), dest=str(dest),
                label="after")
    assert other["changed"] is True and dest.read_bytes() == data
    diff = other["diff"]
    assert diff["before_header"] == diff["after_header"] == str(dest)
    assert diff["before"].splitlines()[1] == "before" and diff["after"].splitlines()[1] == "after"
    assert re.search(r"^\(\d+ bytes, sha256 [0-9a-f]{12}\)$", diff["after"], re.MULTILINE)

    same = run(capsys, check_mode=True, diff=True, distribution=small(), dest=str(dest),
               label="before")
    assert same["changed"] is False and same["diff"]["before"] == same["diff"]["after"]


def test_module_errors_are_clear(tmp_path, capsys, monkeypatch):
    no_detail = {k: v for k, v in small().items() if k != "instances"}
    out = run(capsys, distribution=no_detail, dest=str(tmp_path / "x.png"))
    assert out["failed"] and "detail: true" in out["msg"] and not (tmp_path / "x.png").exists()

    out = run(capsys, distribution=small(), dest=str(tmp_path))
    assert out["failed"] and out["msg"] == f"dest {tmp_path} is a directory; give the PNG's file name"

    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run(capsys, distribution=small(), dest=str(blocker / "x.png"))
    assert out["failed"] and out["msg"].startswith(f"cannot read {blocker / 'x.png'}: ")
    assert "Not a directory" in out["msg"]

    monkeypatch.setattr(MODULE, "HAS_MATPLOTLIB", False)
    monkeypatch.setattr(MODULE, "MATPLOTLIB_IMPORT_ERROR", "Traceback: No module named 'matplotlib'")
    out = run(capsys, distribution=small(), dest=str(tmp_path / "y.png"))
    assert out["failed"] and "Failed to import the required Python library (matplotlib)" in out["msg"]
    assert not (tmp_path / "y.png").exists()
