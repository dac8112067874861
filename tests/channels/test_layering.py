"""No channel reaches below the service (shared/DESIGN.md "The service core", issue #14 item 1).

Every module under channels/ is parsed with `ast` (nothing is imported) and checked:

1. It imports nothing of FORBIDDEN: the broker, the desk, the router and model selector, the
   journal, the ticket book.
2. Every `agent` module it imports is on ALLOWED (deny by default), with the names listed
   where the allowance is narrow:
   - agent.service, agent.service_ops, agent.service_reads: the service core, its result types;
   - agent.app: `open_service`, which assembles the companion and hands out its service only
     (`Companion` and `open_companion`, which hold the parts, are not for channels);
   - agent.domain, agent.config, agent.events, agent.access, agent.logs: domain types,
     settings, event types, auth and throttle helpers, logging;
   - agent.tools.jsonable: plain JSON of the service's dataclasses;
   - agent.wording: the words and numbers every channel shows (prices to the symbol's digits,
     money with its currency, ...), one helper each;
   - agent.graph.render: the words of orders and replies, shared with the graph's replies;
   - agent.monitor: the health monitor a serving process runs (serve, REST /health);
   - agent.tools.commands (parse_command, USAGE, help_text): the slash-command grammar, so a
     text channel reads what the trader typed exactly as the graph does;
   - agent.risk.pnl (MAX_DAYS, Period, DailyReport, ProfitReport) and agent.risk.trails
     (TrailRule): the types of what the service's P/L and trailing-stop methods return;
   - agent.market.indicators (indicator_pack): chart overlays over bars the service returned.
3. It reads no `.desk`, `.journal`, `.selector` or `.companion` of anything, and no `.runtime`,
   `.terminal`, `.router`, `.tickets`, `.graph` or `.commands` of a companion or service (`c`,
   `companion`, `service`, `x.service` ...), also not through `getattr(x, "name")`.

EXCEPTED modules, and why:
- channels/cli_bridge.py: `companion bridge serve` serves the terminal itself, beside it;
- channels/cli_models.py: managing local model servers (agent.models.local, llama_build,
  reference, detector) and reading model-call figures (agent.models.monitor) is not trading;
- channels/mcp/resources.py: publishes the agent's own prompts (agent.graph.prompts,
  agent.graph.intents) as MCP resources.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHANNELS = Path(__file__).resolve().parents[2] / "channels"
FORBIDDEN = ("agent.broker", "agent.tools.desk", "agent.graph.routing", "agent.models.selector",
             "agent.store", "agent.risk.tickets")
#: module -> the names a channel may import from it (None: any name)
ALLOWED: dict[str, frozenset[str] | None] = {
    "agent.service": None, "agent.service_ops": None, "agent.service_reads": None,
    "agent.app": frozenset({"open_service"}),
    "agent.domain": None, "agent.config": None, "agent.events": None, "agent.access": None,
    "agent.logs": None, "agent.tools.jsonable": None, "agent.graph.render": None,
    "agent.wording": None,
    "agent.monitor": frozenset({"HealthMonitor"}),
    "agent.tools.commands": frozenset({"parse_command", "USAGE", "help_text"}),
    "agent.risk.pnl": frozenset({"MAX_DAYS", "Period", "DailyReport", "ProfitReport"}),
    "agent.risk.trails": frozenset({"TrailRule"}),
    "agent.market.indicators": frozenset({"indicator_pack"}),
}
EXCEPTED: dict[str, tuple[str, ...]] = {
    "cli_bridge.py": ("agent.",),
    "cli_models.py": ("agent.models.local", "agent.models.llama_build", "agent.models.reference",
                      "agent.models.detector", "agent.models.monitor"),
    "mcp/resources.py": ("agent.graph.prompts", "agent.graph.intents"),
}
ANY_RECEIVER = frozenset({"desk", "journal", "selector", "companion"})
CORE_RECEIVER = frozenset({"terminal", "router", "tickets", "graph", "commands", "runtime"})
CORE_NAMES = frozenset({"c", "companion", "service"})


def _imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of an `agent` module (`from agent import x` is
    module `agent.x`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names
                      if a.name.split(".")[0] == "agent"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                node.module.split(".")[0] == "agent":
            if node.module == "agent":
                found += [(node.lineno, f"agent.{a.name}", []) for a in node.names]
            else:
                found.append((node.lineno, node.module, [a.name for a in node.names]))
    return found


def _is_core(node: ast.expr) -> bool:
    """`c`, `companion`, `service`, or any `x.companion` / `x.service`."""
    name = node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else None
    return name in CORE_NAMES


def _reach(node: ast.AST) -> str | None:
    """The forbidden attribute this node reads, if any."""
    if isinstance(node, ast.Attribute):
        receiver, attr = node.value, node.attr
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 and \
            isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        receiver, attr = node.args[0], node.args[1].value
    else:
        return None
    if attr in ANY_RECEIVER or (attr in CORE_RECEIVER and _is_core(receiver)):
        return attr
    return None


def violations(source: str, where: str) -> list[str]:
    """Every breach of the rules above in one module's source (`where`: its path under
    channels/, which picks its exceptions)."""
    tree = ast.parse(source)
    excepted = EXCEPTED.get(where, ())
    found = []
    for line, module, names in _imports(tree):
        if module.startswith(excepted):
            continue
        if module.startswith(FORBIDDEN):
            found.append(f"{where}:{line} imports {module} (below the service)")
            continue
        allowed = ALLOWED.get(module, frozenset())
        extra = sorted(set(names) - allowed) if allowed is not None and names else []
        if allowed is not None and (extra or not names):
            what = f"{', '.join(extra)} from {module}" if extra else module
            found.append(f"{where}:{line} imports {what} (not on the channels' allow-list)")
    if where != "cli_bridge.py":
        found += [f"{where}:{node.lineno} reads .{attr} (reaches around the service)"
                  for node in ast.walk(tree) if (attr := _reach(node))]
    return found


def channel_modules() -> list[Path]:
    return sorted(CHANNELS.rglob("*.py"))


def test_channels_when_parsed_then_none_reaches_below_the_service() -> None:
    modules = channel_modules()
    assert len(modules) > 30  # the walk found the channels
    found = [v for path in modules
             for v in violations(path.read_text(), path.relative_to(CHANNELS).as_posix())]
    assert found == []


@pytest.mark.parametrize(("source", "breach"), [
    ("from agent.tools.desk import Desk", "imports agent.tools.desk"),
    ("from agent.store import Journal", "imports agent.store"),
    ("import agent.broker.sender", "imports agent.broker.sender"),
    ("from agent.graph.routing import SelectorRouter", "imports agent.graph.routing"),
    ("from agent.models.selector import ModelSelector", "imports agent.models.selector"),
    ("from agent.risk.tickets import TicketBook", "imports agent.risk.tickets"),
    ("from agent.risk.sizer import size_position", "imports size_position from agent.risk"),
    ("from agent.app import GraphOnDemand", "imports GraphOnDemand from agent.app"),
    ("from agent.app import open_companion", "imports open_companion from agent.app"),
    ("from agent.app import Companion", "imports Companion from agent.app"),
    ("poll = ctx.companion.poll_s", "reads .companion"),
    ("service.runtime.run()", "reads .runtime"),
    ("state = service.graph.aget_state(config)", "reads .graph"),
    ("from agent import runtime", "imports agent.runtime (not on"),
    ("bars = web.companion.desk.bars('EURUSD')", "reads .desk"),
    ("ticket = deps.service.tickets.get(ticket_id)", "reads .tickets"),
    ("deps.journal.kv_set('telegram', 'notify', {})", "reads .journal"),
    ("raw = c.terminal.order_send({})", "reads .terminal"),
    ("s = getattr(companion.router, 'selector', None)", "reads .router"),
    ("s = getattr(router, 'selector', None)", "reads .selector"),
])
def test_a_reach_around_when_written_then_the_check_names_it(source: str, breach: str) -> None:
    found = violations(source, "web/chat.py")
    assert found and all(f.startswith("web/chat.py:1 ") for f in found)
    assert any(breach in f for f in found)


@pytest.mark.parametrize("source", [
    "from agent.service import CompanionService, Reply",
    "from agent.tools.commands import parse_command",
    "from agent.domain import CompanionError",
    "app.include_router(topic.router)",  # a FastAPI router, not the model router
    "up = report.terminal.connected",  # a health report's terminal section
    "open_service(opts.settings, router=opts.router)",
    "emit(data, as_json, render.tickets)",  # the CLI's renderer of the ticket list
])
def test_the_seam_when_used_then_the_check_passes_it(source: str) -> None:
    assert violations(source, "web/chat.py") == []


def test_an_excepted_module_when_it_serves_the_terminal_then_passes() -> None:
    assert violations("from agent.broker.paper import PaperTerminal", "cli_bridge.py") == []
    assert violations("from agent.models.local import LocalModelServer", "cli_models.py") == []
    assert violations("from agent.models.local import LocalModelServer", "cli.py") != []
