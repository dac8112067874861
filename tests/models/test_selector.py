"""Selector ranking, demotion, eval scores, user choice; fallback over the wire."""

from __future__ import annotations

import pytest

from agent.domain import CompanionError
from agent.models.detector import ModelInfo
from agent.models.monitor import ModelCallMonitor, ModelStats
from agent.models.providers import chat_model
from agent.models.selector import (
    ModelSelector,
    SelectionPolicy,
    Task,
    TaskPolicy,
    ainvoke_with_fallback,
    invoke_with_fallback,
)
from agent.store.journal import Journal
from tests.support.model_servers import OllamaServer, OpenAIServer, ScriptedReply, serving

TINY_LOCAL = ModelInfo("smollm2:135m", "ollama", "http://127.0.0.1:11434", tool_calling=False,
                       context_length=8192, size_class="tiny", local=True, cost="free")
SMALL_LOCAL = ModelInfo("qwen2.5:7b", "ollama", "http://127.0.0.1:11434", tool_calling=True,
                        context_length=32768, size_class="small", local=True, cost="free")
UNKNOWN_LOCAL = ModelInfo("SmolLM2-1.7B", "openai_compatible", "http://127.0.0.1:8080/v1",
                          size_class="small", local=True, cost="free")
REMOTE = ModelInfo("gpt-4o", "openai", "https://api.openai.com/v1", tool_calling=True,
                   context_length=128_000, size_class="large", local=False, cost="paid")
ALL = [REMOTE, UNKNOWN_LOCAL, SMALL_LOCAL, TINY_LOCAL]


def _names(chain: list[ModelInfo]) -> list[str]:
    return [m.name for m in chain]


def _stats(model: ModelInfo, *, calls: int = 10, error_rate: float = 0.0,
           p95: float = 500.0) -> ModelStats:
    return ModelStats(model=model.name, provider=model.provider, calls=calls,
                      errors=round(calls * error_rate), error_rate=error_rate,
                      p50_latency_ms=p95 / 2, p95_latency_ms=p95, mean_ttft_ms=None,
                      tool_calls=0, tool_call_validity=None)


def test_tool_planning_drops_models_without_tools_and_puts_unknown_last() -> None:
    chain = ModelSelector(ALL).choose(Task.TOOL_PLANNING)
    assert _names(chain) == ["gpt-4o", "qwen2.5:7b", "SmolLM2-1.7B"]


def test_quick_reply_prefers_local_then_small() -> None:
    chain = ModelSelector(ALL).choose(Task.QUICK_REPLY)
    assert _names(chain) == ["smollm2:135m", "SmolLM2-1.7B", "qwen2.5:7b", "gpt-4o"]


def test_analysis_prefers_the_largest_context() -> None:
    assert ModelSelector(ALL).choose(Task.ANALYSIS)[0] is REMOTE


def test_task_given_as_plain_string_works() -> None:
    assert ModelSelector(ALL).choose("analysis")[0] is REMOTE


def test_failing_model_is_demoted_to_the_end_of_the_chain() -> None:
    selector = ModelSelector(ALL, stats_provider=lambda: [_stats(REMOTE, error_rate=0.8)])
    assert _names(selector.choose(Task.TOOL_PLANNING)) == [
        "qwen2.5:7b", "SmolLM2-1.7B", "gpt-4o"]


def test_slow_model_is_demoted() -> None:
    selector = ModelSelector(ALL, stats_provider=lambda: [_stats(REMOTE, p95=90_000)])
    assert selector.choose(Task.TOOL_PLANNING)[-1] is REMOTE


def test_too_few_calls_to_judge_keeps_the_rank() -> None:
    selector = ModelSelector(ALL, stats_provider=lambda: [_stats(REMOTE, calls=2,
                                                                 error_rate=1.0)])
    assert selector.choose(Task.TOOL_PLANNING)[0] is REMOTE


def test_eval_scores_rank_models_for_the_task() -> None:
    scores = {Task.TOOL_PLANNING: {"SmolLM2-1.7B": 0.9, "qwen2.5:7b": 0.4}}
    selector = ModelSelector(ALL, scores_provider=lambda task: scores.get(task, {}))
    assert _names(selector.choose(Task.TOOL_PLANNING)) == [
        "SmolLM2-1.7B", "qwen2.5:7b", "gpt-4o"]
    assert selector.choose(Task.ANALYSIS)[0] is REMOTE


def test_user_choice_goes_first_even_when_demoted() -> None:
    selector = ModelSelector(ALL, user_choice="qwen2.5:7b",
                             stats_provider=lambda: [_stats(SMALL_LOCAL, error_rate=1.0)])
    assert selector.choose(Task.ANALYSIS)[0] is SMALL_LOCAL
    assert selector.choose(Task.QUICK_REPLY)[0] is SMALL_LOCAL


def test_user_choice_without_tools_is_not_used_for_tool_planning() -> None:
    selector = ModelSelector(ALL, user_choice="smollm2:135m")
    assert TINY_LOCAL not in selector.choose(Task.TOOL_PLANNING)


def test_policy_is_configurable_per_task() -> None:
    policy = SelectionPolicy(tasks={Task.QUICK_REPLY: TaskPolicy(min_context=100_000)})
    assert ModelSelector(ALL, policy=policy).choose(Task.QUICK_REPLY) == [REMOTE, UNKNOWN_LOCAL]


def test_no_models_gives_an_empty_chain() -> None:
    assert ModelSelector([]).choose(Task.QUICK_REPLY) == []


def _live(server: OllamaServer | OpenAIServer) -> ModelInfo:
    provider = "ollama" if isinstance(server, OllamaServer) else "openai_compatible"
    return ModelInfo(server.models[0].name, provider, server.base_url, local=True, cost="free")


def test_first_server_500_then_second_model_answers(journal: Journal) -> None:
    failing = OpenAIServer([ScriptedReply.error(500, "overloaded")])
    healthy = OllamaServer([ScriptedReply.text("EURUSD is at 1.0850.")])
    with serving(failing, healthy):
        chain = [_live(failing), _live(healthy)]

        def ask(info: ModelInfo):
            monitor = ModelCallMonitor(journal, model=info.name, provider=info.provider,
                                       task="quick_reply")
            return chat_model(info, callbacks=[monitor]).invoke("EURUSD?")

        answer, answered_by = invoke_with_fallback(chain, ask)

    assert answer.content == "EURUSD is at 1.0850."
    assert answered_by == chain[1]
    errors = {row["model"]: row["error"] for row in journal.rows("model_calls")}
    assert errors[failing.models[0].name] and errors[healthy.models[0].name] is None


async def test_async_fallback_after_a_silent_server_times_out() -> None:
    silent = OllamaServer([ScriptedReply.never_answer()])
    healthy = OpenAIServer([ScriptedReply.text("fallback answer")])
    with serving(silent, healthy):
        chain = [_live(silent), _live(healthy)]
        answer, answered_by = await ainvoke_with_fallback(
            chain, lambda info: chat_model(info, timeout=0.3).ainvoke("hi"))

    assert (answer.content, answered_by) == ("fallback answer", chain[1])


def test_every_model_failing_is_one_domain_error_naming_them() -> None:
    with serving(OpenAIServer([ScriptedReply.error(500)]),
                 OllamaServer([ScriptedReply.error(503)])) as servers:
        chain = [_live(s) for s in servers]
        with pytest.raises(CompanionError) as raised:
            invoke_with_fallback(chain, lambda info: chat_model(info).invoke("hi"))

    assert raised.value.code == "no_model_answered"
    assert all(m.name in raised.value.message for m in chain)


def test_programming_error_is_not_masked_by_fallback() -> None:
    calls = []

    def broken(info: ModelInfo) -> None:
        calls.append(info)
        raise TypeError("bad call")

    with pytest.raises(TypeError):
        invoke_with_fallback(ALL, broken)
    assert calls == [ALL[0]]


def test_empty_chain_says_no_model() -> None:
    with pytest.raises(CompanionError) as raised:
        invoke_with_fallback([], lambda info: None)
    assert raised.value.code == "no_model"
