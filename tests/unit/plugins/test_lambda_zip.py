"""The rebalancer's package: same sources, same bytes; the zip runs as the Lambda would load it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils.lambda_zip import (
    PackageError, build, code_sha256, write_if_changed,
)

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [{"src": str(ROOT / "files" / "rebalancer"), "prefix": "rebalancer"},
           {"src": str(ROOT / "plugins" / "module_utils" / "_engine"), "prefix": "taskspread_engine"}]


def test_same_sources_same_bytes_whatever_the_mtimes_and_order(tmp_path):
    first, names = build(SOURCES)
    for path in (ROOT / "files" / "rebalancer").glob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second, _ = build(list(reversed(SOURCES)))
    assert first == second
    assert names == sorted(names)
    assert "rebalancer/handler.py" in names and "taskspread_engine/planner.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_entries_have_fixed_dates_and_modes():
    data, _ = build(SOURCES)
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) == 0o100644


def test_code_sha256_is_what_lambda_reports():
    data, _ = build(SOURCES)
    assert code_sha256(data) == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_write_if_changed_writes_once(tmp_path):
    data, _ = build(SOURCES)
    dest = tmp_path / "out" / "fn.zip"
    assert write_if_changed(str(dest), data) is True
    assert write_if_changed(str(dest), data) is False
    assert write_if_changed(str(dest), data + b"x") is True


def test_missing_source_and_clashing_paths_are_clear_errors(tmp_path):
    with pytest.raises(PackageError, match="does not exist"):
        build([{"src": str(tmp_path / "nope"), "prefix": "x"}])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text("x = 1\n")
    with pytest.raises(PackageError, match="two sources"):
        build([{"src": str(tmp_path / "a"), "prefix": "p"}, {"src": str(tmp_path / "a"), "prefix": "p"}])


def test_the_packed_handler_imports_the_packed_engine(tmp_path):
    """Outside the collection (as in Lambda) the handler must find taskspread_engine."""
    data, _ = build(SOURCES)
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        archive.extractall(tmp_path)
    probe = ("import rebalancer.handler as h; import taskspread_engine; "
             "assert h.engine is taskspread_engine, h.engine; "
             "print(h.handler({'source': 'aws.ecs', 'detail-type': 'ECS Task State Change', "
             "'detail': {}}, None)['status'])")
    env = {"PATH": os.environ.get("PATH", ""), "TASKSPREAD_CLUSTER": "demo"}
    out = subprocess.run([sys.executable, "-E", "-s", "-c", probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ignored"
