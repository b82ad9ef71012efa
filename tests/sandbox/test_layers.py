"""The sandbox's layers stay layers: no module imports one above it (issue 11 item 7).

Every ``import`` in every module under ``sandbox/`` is read with ``ast`` (module level, inside
functions and under ``if TYPE_CHECKING:`` alike) and resolved to the sandbox module it names.
A module may import its own layer and the layers below it, never one above; so no two layers
import each other either. The order, bottom to top, is ``LAYERS`` below (README "The sandbox").

Inside ``sandbox/ecs/`` the same holds for its floors (``ECS_FLOORS``: data, the store, the
task mechanics the controllers share, the controllers, the plane, the API), and no controller
imports another. Above all that, no import circle exists anywhere under ``sandbox/`` or
``plugins/`` (issue 20).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sandbox"
PLUGINS = ROOT / "plugins"
COLLECTION = "ansible_collections.taskspread.ecs"   # how the plugins import each other

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
# The floors inside sandbox/ecs, bottom to top (each module's docstring says its floor).
ECS_FLOORS: list[tuple[str, tuple[str, ...]]] = [
    # plain data and pure functions: the models, the placement engine, errors, ports
    ("data", ("sandbox/ecs/__init__.py", "sandbox/ecs/models.py", "sandbox/ecs/errors.py",
              "sandbox/ecs/query.py", "sandbox/ecs/resources.py", "sandbox/ecs/paging.py",
              "sandbox/ecs/ports.py", "sandbox/ecs/placement.py", "sandbox/ecs/revisions.py")),
    # the store: registries, look-ups, ids, events, the controllers' records
    ("state", ("sandbox/ecs/state/",)),
    # what the controllers share: starting, stopping and placing tasks, ENIs, host views
    ("tasks", ("sandbox/ecs/network.py", "sandbox/ecs/hosts.py", "sandbox/ecs/lifecycle.py",
               "sandbox/ecs/provisioning.py", "sandbox/ecs/launch.py")),
    ("controllers", ("sandbox/ecs/controllers/",)),   # never import each other
    ("plane", ("sandbox/ecs/plane.py",)),             # the reconcile pass, in order
    ("api", ("sandbox/ecs/api.py",)),
]
CONTROLLERS = "sandbox/ecs/controllers/"
# Third-party packages a layer must not reach directly (it goes through its ports instead).
# resources.py only reads the instance type table moto ships as data.
FORBIDDEN_THIRD_PARTY = {"ecs": ("moto",), "traffic": ("moto",)}
THIRD_PARTY_ALLOWED = {"sandbox/ecs/resources.py"}
# Used from outside the sandbox (the engine's tests, demo): they talk to it over HTTP only.
HTTP_ONLY = {"sandbox/scenario.py", "sandbox/process.py"}


def _modules(package: Path = PACKAGE, prefix: str = "") -> dict[str, str]:
    """Dotted module name -> path relative to the repository, for every module of ``package``
    (sandbox/ by default; plugins/ with its collection ``prefix``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[prefix + ".".join(parts)] = rel
    return out


def _index_in(table: list[tuple[str, tuple[str, ...]]], rel: str) -> int | None:
    for index, (_, members) in enumerate(table):
        if any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in members):
            return index
    return None


def _layer_of(rel: str) -> int:
    index = _index_in(LAYERS, rel)
    if index is None:
        raise AssertionError(f"{rel} is in no layer: add it to LAYERS in {__file__}")
    return index


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


def _imports(modules: dict[str, str] | None = None) -> list[tuple[str, str, int]]:
    """(importing file, imported dotted name, line) for every import in ``modules`` (those
    of sandbox/ by default)."""
    modules = _modules() if modules is None else modules
    found = []
    for module, rel in modules.items():
        tree = ast.parse((ROOT / rel).read_text(), filename=rel)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _resolve(module, rel, node, modules):
                    found.append((rel, name, node.lineno))
    return found


def _sandbox_edges(modules: dict[str, str] | None = None) -> list[tuple[str, str, int]]:
    """(importing file, imported file, line) between the modules (sandbox's by default)."""
    modules = _modules() if modules is None else modules
    edges = []
    for rel, name, line in _imports(modules):
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


# ------------------------------------------------------------- inside sandbox/ecs
def _ecs_edges() -> list[tuple[str, str, int]]:
    return [(a, b, line) for a, b, line in _sandbox_edges()
            if a.startswith("sandbox/ecs/") and b.startswith("sandbox/ecs/")]


def test_every_ecs_module_has_a_floor():
    """A new module of sandbox/ecs must say which floor it stands on."""
    missing = [rel for rel in _modules().values()
               if rel.startswith("sandbox/ecs/") and _index_in(ECS_FLOORS, rel) is None]
    assert missing == []


def test_no_ecs_module_imports_a_floor_above_its_own():
    """The store imports only data; the shared task mechanics never a controller; the
    controllers never the plane; nothing but the server and the aws adapters the API."""
    upward = [f"{a}:{line} imports {b} ({ECS_FLOORS[_index_in(ECS_FLOORS, a)][0]} -> "
              f"{ECS_FLOORS[_index_in(ECS_FLOORS, b)][0]})"
              for a, b, line in _ecs_edges()
              if _index_in(ECS_FLOORS, b) > _index_in(ECS_FLOORS, a)]
    assert upward == []


def test_no_controller_imports_another():
    """What two controllers share lives below them (launch, provisioning, the store)."""
    across = [f"{a}:{line} imports {b}" for a, b, line in _ecs_edges()
              if a.startswith(CONTROLLERS) and b.startswith(CONTROLLERS)
              and not b.endswith("__init__.py")]
    assert across == []


def test_the_floor_check_sees_the_plane_running_the_controllers():
    """The floor check reads the same edges: the plane imports the scheduler, the scheduler
    the shared ``launch`` and the store, and the store the records."""
    edges = {(a, b) for a, b, _ in _ecs_edges()}
    assert ("sandbox/ecs/plane.py", "sandbox/ecs/controllers/scheduler.py") in edges
    assert ("sandbox/ecs/controllers/scheduler.py", "sandbox/ecs/launch.py") in edges
    assert ("sandbox/ecs/controllers/scheduler.py", "sandbox/ecs/state/store.py") in edges
    assert ("sandbox/ecs/state/store.py", "sandbox/ecs/state/records.py") in edges


# ------------------------------------------------------------------ no circles
def _circles(edges: list[tuple[str, str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _package_edges(modules: dict[str, str]) -> list[tuple[str, str, int]]:
    """Edges between modules, without those to a package's own ``__init__`` (importing
    ``from . import x`` names the package only to reach ``x``)."""
    return [(a, b, line) for a, b, line in _sandbox_edges(modules)
            if not b.endswith("__init__.py")]


def test_the_circle_finder_finds_a_circle():
    """Two modules importing each other, and a third that only imports one of them."""
    edges = [("a.py", "b.py", 1), ("b.py", "a.py", 1), ("c.py", "a.py", 1)]
    assert _circles(edges) == [["a.py", "b.py"]]


def test_no_import_circle_under_sandbox():
    """Any circle, within a layer or a floor too (issue 20: sandbox/ecs was one of 9 files)."""
    assert _circles(_package_edges(_modules())) == []


def test_no_import_circle_under_plugins():
    """The engine, the module_utils and the modules: imports read by their collection name
    (``ansible_collections.taskspread.ecs.plugins...``) and relative ones alike."""
    modules = _modules(PLUGINS, prefix=f"{COLLECTION}.")
    edges = _package_edges(modules)
    assert ("plugins/module_utils/engine.py", "plugins/module_utils/_engine/runner.py") in \
        {(a, b) for a, b, _ in edges}
    assert _circles(edges) == []


def test_no_import_circle_anywhere_else():
    """benchmarks/, the Lambda's files/ and the tests themselves: one import graph, no circle
    (benchmarks/moves.py and surge_sandbox.py used to import each other)."""
    modules: dict[str, str] = {}
    for package in ("benchmarks", "files", "tests"):
        modules.update(_modules(ROOT / package))
    edges = _package_edges(modules)
    assert ("benchmarks/moves.py", "tests/unit/engine/oracle.py") in {(a, b) for a, b, _ in edges}
    assert _circles(edges) == []
