"""Molecule scenario extensions/molecule/default (cluster + alb + sample_app) against a sandbox.

The scenario converges the three roles, checks idempotence, verifies every resource with
*_info modules (plus a check-mode run that must report changed=0), then runs the teardown
playbook twice and verifies nothing is left.
"""

from __future__ import annotations

import re
import subprocess

import pytest


from sandbox.process import BIN, ROOT, ansible_env, sandbox_server

pytestmark = pytest.mark.e2e


def test_molecule_default_scenario():
    with sandbox_server(speed=50) as endpoint:
        result = subprocess.run([str(BIN / "molecule"), "test", "-s", "default"], cwd=ROOT,
                                env=ansible_env(endpoint), capture_output=True, text=True,
                                timeout=1800)
    output = result.stdout + result.stderr
    (ROOT / ".sandbox" / "molecule-default.log").write_text(output)  # the full run, for diagnosis
    assert result.returncode == 0, output[-6000:]
    # The idempotence step passed and verify ran its assertions.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    for step in ("converge", "idempotence", "verify", "destroy"):
        assert re.search(rf"{step}: Executed: Successful", plain), f"{step} did not succeed"
