"""The engine's modules stay layers: each imports only modules of a lower floor (issue 20).

Every import in ``plugins/module_utils/_engine/*.py`` (module level, in functions, under
``TYPE_CHECKING``) is read with ``ast``. ``FLOORS`` below is the order, bottom to top, that
``_engine/__init__.py`` describes; a module may import only modules on a floor below its own,
so no two engine modules import each other and the graph has no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "plugins" / "module_utils" / "_engine"

FLOORS: list[tuple[str, ...]] = [
    # plain data, codes, errors and pure helpers: nothing from the engine
    ("errors", "codes", "model", "filling", "deadline", "aws_client", "lock",
     "health", "bounds", "eni_limits", "gc_pause"),   # health as ECS counts it; bounds: the
    # options' ranges; eni_limits: awsvpc task limits per instance type (the sandbox reads it
    # too); gc_pause: the garbage collector paused over a decision's bulk phases
    ("placement_expr", "plan_types", "snapshot", "lease"),   # lease: the DynamoDB lease store
    ("candidates", "fenced"),   # fenced: ECS writes behind the lease's fence check
    ("targets", "breaker"),   # targets per level; breaker: the no-progress breaker (pure)
    ("planner",),         # composes the seams below into a Plan
    ("surge", "report", "surging"),    # surging: the surge's phases under the lease
    ("evictor",),         # the only place that spends moves
    ("executor",),
    ("runner",),
    ("__init__",),
]
NOTHING_FROM_THE_ENGINE = ("filling", "errors", "codes", "model", "bounds", "eni_limits",
                           "gc_pause")


def _floor(module: str) -> int:
    for index, members in enumerate(FLOORS):
        if module in members:
            return index
    raise AssertionError(f"_engine/{module}.py is on no floor: add it to FLOORS in {__file__}")


def _edges() -> list[tuple[str, str, int]]:
    """(importing module, imported engine module, line) for every import inside the engine."""
    modules = {p.stem for p in ENGINE.glob("*.py")}
    edges = []
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    edges.append((path.stem, node.module.split(".")[0], node.lineno))
                else:
                    edges += [(path.stem, a.name, node.lineno) for a in node.names
                              if a.name in modules]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names]
                edges += [(path.stem, name.split("_engine.", 1)[1].split(".")[0], node.lineno)
                          for name in names if "_engine." in name]
    return edges


def test_the_reader_sees_the_engine_imports():
    edges = {(a, b) for a, b, _ in _edges()}
    assert ("planner", "targets") in edges and ("targets", "filling") in edges
    assert ("surge", "candidates") in edges and ("__init__", "planner") in edges


def test_every_engine_module_has_a_floor():
    for path in ENGINE.glob("*.py"):
        _floor(path.stem)


def test_no_engine_module_imports_its_own_floor_or_one_above():
    wrong = [f"_engine/{a}.py:{line} imports {b} (floor {_floor(a)} -> {_floor(b)})"
             for a, b, line in _edges() if _floor(b) >= _floor(a)]
    assert wrong == []


def test_the_bottom_imports_nothing_from_the_engine():
    """The pure filling arithmetic has no engine types; errors, codes and the model are the
    vocabulary everything else is built from."""
    assert [(a, b) for a, b, _ in _edges() if a in NOTHING_FROM_THE_ENGINE] == []
