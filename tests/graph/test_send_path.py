"""The one rule, statically: only the execute step can reach the broker's send path.

(That only `OrderSender` calls `order_send` is checked in tests/broker/test_sender_static.py.)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("agent", "channels", "evals") for p in (ROOT / d).rglob("*.py")]


def _calls(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            out.append((name, node.lineno))
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_order_sender_is_built_only_where_the_executor_gets_it():
    builders = {_rel(p) for p in SOURCES for name, _ in _calls(p) if name == "OrderSender"}
    assert builders == {"agent/app.py"}
    app = (ROOT / "agent/app.py").read_text()
    assert app.count("OrderSender(") == 1 and "Executor(desk, tickets, sender" in app


def test_sender_methods_are_called_only_by_the_executor():
    callers = {_rel(p) for p in SOURCES
               if "_sender." in p.read_text() or ".sender." in p.read_text()}
    assert callers == {"agent/graph/execute.py"}


def test_no_tool_or_channel_imports_the_sender():
    for path in SOURCES:
        rel = _rel(path)
        if rel.startswith(("agent/tools/", "channels/", "agent/graph/nodes.py",
                           "agent/service.py", "evals/")):
            assert "agent.broker.sender" not in path.read_text(), rel
