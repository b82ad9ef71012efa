"""``model.Task`` and ``plan_types.Move`` are values that are not frozen dataclasses (a frozen
``__init__`` costs about seven times a plain one, and a read builds 100,000 tasks): nothing
may assign to their fields. This keeps the engine, the Lambda and the modules to
``dataclasses.replace``: no attribute store of a Task or Move field name on a plain name
(``task.protected = ...``), and no ``setattr``/``object.__setattr__`` with such a name."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from ansible_collections.taskspread.ecs.plugins.module_utils._engine.model import Task
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.plan_types import Move

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "files" / "rebalancer").rglob("*.py")]
FIELDS = {f.name for cls in (Task, Move) for f in dataclasses.fields(cls)}


def stores(tree: ast.AST):
    """(line, attribute) of every assignment to ``<name>.<field>`` and every
    ``setattr(x, "<field>", ...)`` / ``object.__setattr__(x, "<field>", ...)``."""
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for t in ast.walk(target):
                if (isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store)
                        and isinstance(t.value, ast.Name) and t.value.id != "self"
                        and t.attr in FIELDS):
                    yield node.lineno, t.attr
        if isinstance(node, ast.Call) and len(node.args) >= 2:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                getattr(node.func, "id", "")
            arg = node.args[1]
            if name in ("setattr", "__setattr__") and isinstance(arg, ast.Constant) \
                    and arg.value in FIELDS:
                yield node.lineno, arg.value


def test_no_code_assigns_to_a_task_or_move_field():
    found = [f"{path.relative_to(ROOT)}:{line}: .{attr}"
             for path in SOURCES for line, attr in stores(ast.parse(path.read_text()))]
    assert found == []


def test_the_check_sees_an_assignment():
    tree = ast.parse("task.protected = True\nmove.task_arn += 'x'\n"
                     "object.__setattr__(t, 'az', 'b')\nself.health = 1\n")
    assert [attr for _line, attr in stores(tree)] == ["protected", "task_arn", "az"]


def test_tasks_and_moves_are_values():
    a = Task(arn="t1", service="web", instance_arn="i1")
    assert a == Task(arn="t1", service="web", instance_arn="i1") and len({a, Task(
        arn="t1", service="web", instance_arn="i1")}) == 1
    m = Move("web", "t1", "i1", "a", "i2", "b")
    assert m == Move("web", "t1", "i1", "a", "i2", "b") and hash(m) == hash(
        Move("web", "t1", "i1", "a", "i2", "b"))
    assert dataclasses.replace(a, protected=True).protected is True and a.protected is None
