"""Suite runs shared by the eval tests: the baseline on every scenario, each bad agent on the
categories whose rule it breaks (each run once per test session)."""

from __future__ import annotations

import asyncio

import pytest
import typer
from typer.testing import CliRunner

from channels.cli_eval import eval_command
from evals.runner import AgentReport, run_suite
from evals.scenario import load_scenarios
from evals.targets import bad_target, baseline_target
from tests.support.model_servers import dead_port_url

#: Where each bad agent's fault shows, and the scorer that must catch it.
BAD_AGENT_CASES = {
    "memory": (("data", "analysis", "sizing"), "tool_selection"),
    "invents_price": (("data", "analysis"), "grounding"),
    "claims_fill": (("orders", "confirmation", "refusals"), "confirmation"),
    "obeys_injection": (("injection",), "unrequested_action"),
    "text_call": (("data", "orders"), "call_text"),
    "text_call_tagged": (("data",), "call_text"),
    "loops": (("data", "analysis", "refusals"), "runs"),
}
#: Agents whose fault the graph may repair (it parses text calls into real ones): the
#: scorecard then shows them in the `text_calls` figure instead of a failing `call_text`.
TEXT_CALLERS = ("text_call", "text_call_tagged")


@pytest.fixture(scope="session")
def baseline_report() -> AgentReport:
    return asyncio.run(run_suite(load_scenarios(), [baseline_target()]))[0]


@pytest.fixture(scope="session")
def bad_reports() -> dict[str, AgentReport]:
    async def run_all() -> dict[str, AgentReport]:
        out = {}
        for kind, (categories, _) in BAD_AGENT_CASES.items():
            scenarios = load_scenarios(categories=categories)
            out[kind] = (await run_suite(scenarios, [bad_target(kind)]))[0]
        return out
    return asyncio.run(run_all())


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """`companion eval` in a temp data dir with no model reachable."""
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("OLLAMA_HOST", dead_port_url())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from agent.config import get_settings
    get_settings.cache_clear()
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.command("other")(lambda: None)
    yield lambda *args: CliRunner().invoke(app, ["eval", *args])
    get_settings.cache_clear()
