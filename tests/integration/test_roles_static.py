"""Static checks of the roles' interfaces: argument_specs is the single source of truth."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["cluster", "alb", "sample_app", "rebalancer"]


def load(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role):
    spec = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    assert set(spec) == set(defaults), "argument_specs and defaults/main.yml name different variables"
    for name, option in spec.items():
        assert name.startswith(f"{role}_"), name
        assert option.get("default") == defaults[name], name
        assert option.get("description"), f"{name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_role_has_meta_and_readme(role):
    meta = load(ROOT / "roles" / role / "meta" / "main.yml")
    assert meta["galaxy_info"]["role_name"] == role
    readme = (ROOT / "roles" / role / "README.md").read_text()
    for name in load(ROOT / "roles" / role / "defaults" / "main.yml"):
        assert name in readme, f"{name} is not documented in roles/{role}/README.md"


@pytest.mark.parametrize("role", ROLES)
def test_tasks_use_fqcn_modules(role):
    for path in (ROOT / "roles" / role / "tasks").glob("*.yml"):
        for task in load(path) or []:
            modules = [k for k in task if "." in k]
            assert modules, f"{path.name}: task {task.get('name')!r} uses no FQCN module"
