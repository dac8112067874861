"""Static check: `OrderSender` is the only code in the project that calls `order_send`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {Path("agent/broker/sender.py")}


def order_send_calls(path: Path) -> list[int]:
    """Line numbers in `path` that call `order_send` (directly, as a method, or via getattr)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        named = (isinstance(func, ast.Attribute) and func.attr == "order_send") or (
            isinstance(func, ast.Name) and func.id == "order_send")
        via_getattr = (isinstance(func, ast.Name) and func.id == "getattr"
                       and any(isinstance(a, ast.Constant) and a.value == "order_send"
                               for a in node.args))
        if named or via_getattr:
            lines.append(node.lineno)
    return lines


def test_only_the_sender_calls_order_send():
    offenders = {}
    for folder in ("agent", "channels", "evals"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel not in ALLOWED and (calls := order_send_calls(path)):
                offenders[str(rel)] = calls
    assert offenders == {}, f"order_send called outside OrderSender: {offenders}"


def test_the_sender_does_call_order_send():
    assert order_send_calls(ROOT / "agent/broker/sender.py")
