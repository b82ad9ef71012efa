"""``make conformance``: moto's own test suite, run in server mode against the sandbox.

The sandbox's own tests were written from the same reading of the AWS docs as the sandbox, so
a misunderstanding shows up in both. moto's suite was written by others, and its
``@aws_verified`` tests were checked against AWS itself. This runner:

1. fetches the source distribution of the moto version pinned in ``requirements.txt`` with pip
   (``pip download --no-binary :all: --no-deps``), like any other install, into
   ``.cache/conformance/`` (gitignored) and unpacks its ``tests/`` there once; nothing of it is
   copied into this repository;
2. serves the sandbox as a subprocess (``python -m sandbox serve``, speed ``--speed``);
3. runs the suites below with pytest in moto's server mode (``TEST_SERVER_MODE=true``,
   ``TEST_SERVER_MODE_ENDPOINT`` = the sandbox): every moto test starts with ``mock_aws``,
   which in server mode POSTs ``/moto-api/reset`` to the endpoint, and the sandbox answers it
   with a full reset (``Sandbox.reset``: a new clock, empty moto backends, an empty ECS), so
   each test starts on a fresh sandbox without a new process;
4. compares each outcome with ``expected.yml`` (beside this file): every test expected to
   differ is listed there with its reason. A failure not listed fails the run, and so does a
   listed test that passes (a stale expectation).

Suites: ``ecs`` is all of moto's ``tests/test_ecs``; ``autoscaling``, ``elbv2`` and
``applicationautoscaling`` are the ``aws_verified`` tests of the services the sandbox patches.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "conformance"
EXPECTED = HERE / "expected.yml"


@dataclass(frozen=True)
class Suite:
    name: str
    paths: tuple[str, ...]
    marker: str | None = None


SUITES = {
    "ecs": Suite("ecs", ("tests/test_ecs",)),
    "autoscaling": Suite("autoscaling", ("tests/test_autoscaling",), "aws_verified"),
    "elbv2": Suite("elbv2", ("tests/test_elbv2",), "aws_verified"),
    "applicationautoscaling": Suite("applicationautoscaling",
                                    ("tests/test_applicationautoscaling",), "aws_verified"),
}
OUTCOMES = ("passed", "expected-different", "failed", "stale", "skipped")


def pinned_moto() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.fullmatch(r"moto(?:\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            return match.group(1)
    raise SystemExit("requirements.txt pins no moto version")


def fetch(version: str | None = None) -> Path:
    """The unpacked ``tests/`` of moto's sdist (cached); downloads it with pip when missing."""
    version = version or pinned_moto()
    target = CACHE / f"moto-{version}"
    if (target / "tests" / "test_ecs").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"moto-{version}.tar.gz"
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                        "--disable-pip-version-check", "--no-binary", ":all:", "--no-deps",
                        f"moto=={version}", "-d", str(CACHE)], check=True)
    prefix = f"moto-{version}/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers()
                   if m.name.startswith(prefix + "tests/") or m.name == prefix + "setup.cfg"]
        for member in members:
            member.name = member.name[len(prefix):]
        tar.extractall(target, members=members, filter="data")
    return target


def load_expected(path: Path = EXPECTED) -> dict[str, dict[str, str]]:
    """suite -> {test id: reason}; every entry must have a non-empty reason."""
    data = yaml.safe_load(path.read_text()) or {}
    for suite, entries in data.items():
        if suite not in SUITES:
            raise ValueError(f"{path.name}: unknown suite {suite!r}")
        for test_id, reason in (entries or {}).items():
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError(f"{path.name}: {test_id} has no reason")
    return {suite: dict(entries or {}) for suite, entries in data.items()}


def _node_id(moto_dir: Path, classname: str, name: str) -> str:
    """JUnit's dotted classname back to pytest's ``path.py::[Class::]name``."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        module = Path(*parts[:cut]).with_suffix(".py")
        if (moto_dir / module).is_file():
            return "::".join([module.as_posix(), *parts[cut:], name])
    return f"{classname}::{name}"


def read_junit(moto_dir: Path, xml_path: Path) -> dict[str, tuple[str, str]]:
    """test id -> (passed | failed | skipped, first line of the failure)."""
    out = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, detail = "failed", (child.get("message") or "").splitlines()[0:1]
                detail = detail[0] if detail else ""
            elif child.tag == "skipped":
                outcome, detail = "skipped", child.get("message") or ""
        out[_node_id(moto_dir, case.get("classname", ""), case.get("name", ""))] = (
            outcome, detail[:200])
    return out


def run_pytest(moto_dir: Path, endpoint: str, args: list[str], timeout: int,
               log_path: Path | None = None) -> dict[str, tuple[str, str]]:
    """Run moto's tests (``args``: paths, node ids, ``-m``) against ``endpoint``."""
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update({
        "TEST_SERVER_MODE": "true", "TEST_SERVER_MODE_ENDPOINT": endpoint,
        "PYTHONPATH": str(moto_dir),     # moto's `tests` package; moto itself from the venv
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--rootdir", str(moto_dir), "-c", str(moto_dir / "setup.cfg"),
               f"--timeout={timeout}", f"--junitxml={junit}", "-o", "junit_family=xunit1", "--durations=5",
               *args]
        with open(log_path or os.devnull, "w") as log:
            subprocess.run(cmd, cwd=moto_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                           check=False)
        if not junit.exists():
            raise RuntimeError(f"moto's pytest wrote no report (see {log_path})")
        return read_junit(moto_dir, junit)


@dataclass
class SuiteReport:
    suite: str
    rows: dict[str, list[str]] = field(default_factory=lambda: {o: [] for o in OUTCOMES})
    details: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {outcome: len(ids) for outcome, ids in self.rows.items()}

    @property
    def ok(self) -> bool:
        return not self.rows["failed"] and not self.rows["stale"]


def compare(suite: str, results: dict[str, tuple[str, str]],
            expected: dict[str, str]) -> SuiteReport:
    report = SuiteReport(suite)
    for test_id, (outcome, detail) in sorted(results.items()):
        listed = test_id in expected
        if outcome == "skipped":
            report.rows["skipped"].append(test_id)
        elif outcome == "passed":
            report.rows["stale" if listed else "passed"].append(test_id)
        else:
            report.rows["expected-different" if listed else "failed"].append(test_id)
            report.details[test_id] = detail
    return report


def suite_of(test_id: str) -> str:
    for name, suite in SUITES.items():
        if any(test_id.startswith(path + "/") for path in suite.paths):
            return name
    raise ValueError(f"{test_id} belongs to no suite")


def run(suites: list[str], speed: float, timeout: int, only: list[str] | None = None,
        log_dir: Path | None = None, port: int | None = None) -> list[SuiteReport]:
    """Run ``suites`` (or just the test ids ``only``) against one sandbox subprocess."""
    from sandbox.process import sandbox_server

    moto_dir = fetch()
    expected = load_expected()
    reports = []
    with sandbox_server(speed=speed, port=port) as endpoint:
        if only is not None:    # one pytest run for a chosen handful (each run imports moto)
            results = run_pytest(moto_dir, endpoint, list(only), timeout,
                                 (log_dir / "subset.log") if log_dir else None)
            for name in suites:
                mine = {t: r for t, r in results.items() if suite_of(t) == name}
                if mine:
                    reports.append(compare(name, mine, expected.get(name, {})))
            return reports
        for name in suites:
            suite = SUITES[name]
            args = list(suite.paths) + (["-m", suite.marker] if suite.marker else [])
            log = (log_dir / f"{name}.log") if log_dir else None
            results = run_pytest(moto_dir, endpoint, args, timeout, log)
            reports.append(compare(name, results, expected.get(name, {})))
    return reports


def format_report(reports: list[SuiteReport]) -> str:
    lines = [f"{'suite':<24}" + "".join(f"{o:>20}" for o in OUTCOMES)]
    for report in reports:
        counts = report.counts()
        lines.append(f"{report.suite:<24}" + "".join(f"{counts[o]:>20}" for o in OUTCOMES))
    for report in reports:
        for test_id in report.rows["failed"]:
            lines.append(f"FAILED (not in expected.yml) {test_id}: {report.details[test_id]}")
        for test_id in report.rows["stale"]:
            lines.append(f"STALE (listed in expected.yml, passes) {test_id}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES),
                        help="run only this suite (repeatable); default: all")
    parser.add_argument("--speed", type=float, default=50.0,
                        help="the sandbox's emulated seconds per wall second")
    parser.add_argument("--timeout", type=int, default=120,
                        help="wall seconds one moto test may take (pytest-timeout)")
    parser.add_argument("--port", type=int, default=0,
                        help="the sandbox's port (default: a free one)")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    log_dir = CACHE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    reports = run(args.suite or list(SUITES), args.speed, args.timeout, log_dir=log_dir,
                  port=args.port or None)
    print(format_report(reports))
    print(f"(pytest output per suite in {log_dir.relative_to(ROOT)}/)")
    if args.json:
        args.json.write_text(json.dumps({r.suite: {"counts": r.counts(), "tests": r.rows}
                                         for r in reports}, indent=1))
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
