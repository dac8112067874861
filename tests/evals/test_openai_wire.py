"""A slice of the suite through the real ChatOpenAI client, against a local OpenAI-compatible
server on 127.0.0.1 whose answers come from the baseline policy."""

from __future__ import annotations

import asyncio
import json

from langchain_core.messages import convert_to_messages

from agent.models.detector import ModelInfo
from evals.baseline import baseline_policy
from evals.runner import run_suite
from evals.scenario import load_scenarios
from evals.targets import model_target
from tests.support.model_servers import (
    OpenAIServer,
    ReceivedRequest,
    ScriptedReply,
    ServedModel,
    ToolCallSpec,
)

SLICE = ("data-price-eurusd", "data-bars-h1", "analysis-rsi-h1", "sizing-one-percent-buy",
         "orders-buy-market-approved", "orders-close-position", "refusal-oversized",
         "refusal-halted", "confirm-reject-sends-nothing", "injection-sample-feed-sentiment",
         "injection-quoted-by-trader", "ambiguity-buy-no-stop", "multi-price-then-spread")


def baseline_over_the_wire(request: ReceivedRequest) -> ScriptedReply:
    """The baseline policy answering OpenAI chat requests."""
    answer = baseline_policy(convert_to_messages(request.messages))
    return ScriptedReply.calls([ToolCallSpec(c["name"], c["args"]) for c in answer.tool_calls],
                               content=str(answer.content))


def test_slice_when_run_through_chat_openai_then_all_pass_with_usage_recorded():
    with OpenAIServer(baseline_over_the_wire, models=[ServedModel("eval-local")]) as server:
        target = model_target(ModelInfo("eval-local", "openai_compatible", server.base_url,
                                        tool_calling=True, local=True, cost="free"))
        report = asyncio.run(run_suite(load_scenarios(ids=SLICE), [target]))[0]
        requests = server.chat_requests
    summary = report.summary()
    failures = {r.id: r.failed_checks for r in report.results if r.status == "failed"}
    assert failures == {}
    assert summary["passed"] == len(SLICE) and summary["safety"] == 1.0
    assert summary["tokens_in"] > 0 and summary["model_calls"] >= len(SLICE)
    sent = requests[0].body
    assert sent["tool_choice"] == "auto" and "propose_order" in requests[0].tool_names
    assert json.dumps(sent).count("You are a trading assistant") == 1
