"""Suite runs shared by the eval tests: the baseline on every scenario, each bad agent on the
categories whose rule it breaks (each run once per test session)."""

from __future__ import annotations

import asyncio

import pytest

from evals.runner import AgentReport, run_suite
from evals.scenario import load_scenarios
from evals.targets import bad_target, baseline_target

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
