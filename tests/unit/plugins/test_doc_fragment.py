"""The shared options are documented once (doc fragment taskspread.ecs.cluster) and ansible-doc
shows them for every module that uses them (issue 12.3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SHARED = {"cluster", "services", "max_skew", "detail"}


@pytest.mark.parametrize("module", ["rebalance", "task_distribution_info"])
def test_ansible_doc_shows_the_shared_options_from_the_fragment(module):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    out = subprocess.run([str(BIN / "ansible-doc"), "--json", f"taskspread.ecs.{module}"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    doc = json.loads(out.stdout)[f"taskspread.ecs.{module}"]["doc"]
    assert SHARED <= set(doc["options"]), sorted(doc["options"])
    assert doc["options"]["detail"]["default"] is False
    assert "Tolerance" in " ".join(doc["options"]["max_skew"]["description"])
    assert "ARN" in " ".join(doc["options"]["services"]["description"])
    source = (ROOT / "plugins" / "modules" / f"{module}.py").read_text()
    own = source.split('DOCUMENTATION = r"""')[1].split('"""')[0]
    assert not [o for o in SHARED if f"\n  {o}:\n" in own]      # documented once, in the fragment
