"""benchmarks/chart.py: the benchmark chart is a real chart (titles, axes, units, legends,
values) drawn from results.json, the same bytes for the same results, and redrawable alone."""

from __future__ import annotations

import json

from matplotlib.text import Text
from PIL import Image

from benchmarks import chart
from benchmarks.chart import HERE, main, scale_chart, scale_figure

RESULTS = json.loads((HERE / "results.json").read_text())


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def test_titles_axes_units_legends_and_values_are_written():
    figure = scale_figure(RESULTS["scale"], RESULTS["meta"])
    plan, run = figure.axes
    assert plan.get_xscale() == plan.get_yscale() == run.get_yscale() == "log"
    assert plan.get_xlabel().startswith("tasks in the cluster")
    assert plan.get_ylabel() == "CPU time per plan (log scale)"
    assert run.get_ylabel() == "CPU time of one run (log scale)"
    assert [t.get_text() for t in plan.get_legend().get_texts()] == [
        "target: under 1 s at 100,000 tasks",
        "planner CPU time (median; bar: fastest to slowest repeat)"]
    assert [t.get_text() for t in run.get_legend().get_texts()] == [
        "strategy stop", "strategy surge", "target: under 2 s"]
    words = texts(figure)
    assert "taskspread.ecs benchmark: planning at scale" in words
    assert "5,000 instances\n500 services" in words
    for whole in RESULTS["scale"]["whole_run"]:
        assert f"{whole['tasks']:,} tasks\n{whole['mode']}" in [t.get_text() for t in run.get_xticklabels()]
    assert any(w.startswith(chart._seconds(RESULTS["scale"]["whole_run"][0]["total_cpu_s"]) + "\n(")
               for w in words)
    assert chart._seconds(0.0676) == "67.6 ms" and chart._seconds(62.305) == "62.3 s"


def test_same_results_same_png(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    scale_chart(RESULTS["scale"], RESULTS["meta"], first)
    scale_chart(RESULTS["scale"], RESULTS["meta"], second)
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as image:
        assert image.format == "PNG" and image.size == (1300, 560)


def test_redraw_from_results_json_alone(tmp_path, capsys):
    out = tmp_path / "scale.png"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["--results", str(tmp_path / "missing.json"), "--out", str(out)]) == 1
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "empty.json").write_text("{}")
    assert main(["--results", str(tmp_path / "empty.json")]) == 1
    assert "has no 'scale' results" in capsys.readouterr().err
