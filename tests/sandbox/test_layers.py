"""The sandbox's layers stay layers: no module imports one above it (issue 11 item 7).

Every ``import`` in every module under ``sandbox/`` is read with ``ast`` (module level, inside
functions and under ``if TYPE_CHECKING:`` alike) and resolved to the sandbox module it names.
A module may import its own layer and the layers below it, never one above; so no two layers
import each other either. The order, bottom to top, is ``LAYERS`` below (README "The sandbox").
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sandbox"

# Bottom to top. A module path ending in "/" names a package and everything in it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("sandbox/__init__.py", "sandbox/runtime.py", "sandbox/config.py",
              "sandbox/faults.py")),
    ("ecs", ("sandbox/ecs/",)),          # our ECS control plane, with the ports it defines
    ("aws", ("sandbox/aws/",)),          # moto's patches and the adapters behind the ports
    ("traffic", ("sandbox/traffic/",)),  # the data plane
    ("server", ("sandbox/server.py",)),  # WSGI, control API: wires everything together
    ("outside", ("sandbox/cli.py", "sandbox/__main__.py", "sandbox/demo.py",
                 "sandbox/process.py", "sandbox/scenario.py")),
]
# Third-party packages a layer must not reach directly (it goes through its ports instead).
# resources.py only reads the instance type table moto ships as data.
FORBIDDEN_THIRD_PARTY = {"ecs": ("moto",), "traffic": ("moto",)}
THIRD_PARTY_ALLOWED = {"sandbox/ecs/resources.py"}
# Used from outside the sandbox (the engine's tests, demo): they talk to it over HTTP only.
HTTP_ONLY = {"sandbox/scenario.py", "sandbox/process.py"}


def _modules() -> dict[str, str]:
    """Dotted module name -> path relative to the repository, for every module of sandbox/."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = rel
    return out


def _layer_of(rel: str) -> int:
    for index, (_, members) in enumerate(LAYERS):
        if any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in members):
            return index
    raise AssertionError(f"{rel} is in no layer: add it to LAYERS in {__file__}")


def _package_of(module: str, rel: str) -> str:
    return module if rel.endswith("__init__.py") else module.rsplit(".", 1)[0]


def _resolve(module: str, rel: str, node: ast.AST, modules: dict[str, str]) -> list[str]:
    """The dotted names one import statement refers to (sandbox modules and third party)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = _package_of(module, rel).split(".")
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        names.append(sub if sub in modules else target)
    return names


def _imports() -> list[tuple[str, str, int]]:
    """(importing file, imported dotted name, line) for every import under sandbox/."""
    modules = _modules()
    found = []
    for module, rel in modules.items():
        tree = ast.parse((ROOT / rel).read_text(), filename=rel)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _resolve(module, rel, node, modules):
                    found.append((rel, name, node.lineno))
    return found


def _sandbox_edges() -> list[tuple[str, str, int]]:
    """(importing file, imported file, line) between sandbox modules."""
    modules = _modules()
    edges = []
    for rel, name, line in _imports():
        while name and name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]     # `import sandbox.ecs.api.x` -> its module
        if name in modules and modules[name] != rel:
            edges.append((rel, modules[name], line))
    return edges


def test_the_import_reader_sees_function_level_and_type_checking_imports():
    """The check is only as good as its reader: the server's function-level import of the ECS
    control plane and the plane's TYPE_CHECKING import of the config must both be found."""
    edges = {(a, b) for a, b, _ in _sandbox_edges()}
    assert ("sandbox/server.py", "sandbox/ecs/plane.py") in edges
    assert ("sandbox/ecs/plane.py", "sandbox/config.py") in edges
    assert ("sandbox/aws/ports.py", "sandbox/ecs/ports.py") in edges


def test_every_sandbox_module_has_a_layer():
    """A new module must say where it sits, or the order below means nothing for it."""
    missing = [rel for rel in _modules().values()
               if not any(rel == m or (m.endswith("/") and rel.startswith(m))
                          for _, members in LAYERS for m in members)]
    assert missing == []


def test_no_module_imports_a_layer_above_its_own():
    """The server sits on top of the emulated services; the ECS control plane depends on
    nothing above it (it reaches AWS through ports it is handed)."""
    upward = [f"{a}:{line} imports {b} ({LAYERS[_layer_of(a)][0]} -> {LAYERS[_layer_of(b)][0]})"
              for a, b, line in _sandbox_edges() if _layer_of(b) > _layer_of(a)]
    assert upward == []


def test_layers_form_no_circle():
    """Between layers the imports go one way only: no two layers import each other."""
    pairs = {(_layer_of(a), _layer_of(b)) for a, b, _ in _sandbox_edges()
             if _layer_of(a) != _layer_of(b)}
    circles = sorted(f"{LAYERS[x][0]} <-> {LAYERS[y][0]}" for x, y in pairs
                     if (y, x) in pairs and x < y)
    assert circles == []


def test_ecs_and_traffic_reach_moto_only_through_ports():
    """moto is the emulated services' business (sandbox/aws): the control plane and the data
    plane use the ports sandbox/aws/ports.py implements."""
    direct = [f"{rel}:{line} imports {name}" for rel, name, line in _imports()
              if rel not in THIRD_PARTY_ALLOWED
              and any(name == p or name.startswith(p + ".")
                      for p in FORBIDDEN_THIRD_PARTY.get(LAYERS[_layer_of(rel)][0], ()))]
    assert direct == []


def test_scenario_and_process_talk_to_the_sandbox_over_http_only():
    """scenario.py and process.py are used by code outside the sandbox (boto3 only)."""
    inside = [f"{a}:{line} imports {b}" for a, b, line in _sandbox_edges()
              if a in HTTP_ONLY and b not in HTTP_ONLY]
    assert inside == []
