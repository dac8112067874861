"""The real ChatOllama / ChatOpenAI clients from `chat_model`, over the wire to local servers."""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from agent.domain import CompanionError
from agent.models.detector import ModelInfo
from agent.models.providers import PLACEHOLDER_KEY, TTLCache, chat_model
from tests.support.model_servers import (
    OllamaServer,
    OpenAIServer,
    ReceivedRequest,
    ScriptedReply,
    ServedModel,
)


@tool
def quote(symbol: str) -> str:
    """Current bid/ask of a symbol."""
    return f"{symbol} bid 1.08500 ask 1.08510"


def _info(server: OllamaServer | OpenAIServer, provider: str = "", **traits) -> ModelInfo:
    provider = provider or ("ollama" if isinstance(server, OllamaServer) else "openai_compatible")
    return ModelInfo(name=server.models[0].name, provider=provider, base_url=server.base_url,
                     local=True, cost="free", **traits)


def _answer_after_tool(request: ReceivedRequest) -> ScriptedReply:
    if request.has_tool_result:
        return ScriptedReply.text("EURUSD bid is 1.08500.")
    return ScriptedReply.tool_call("quote", {"symbol": "EURUSD"})


def _run_tool_loop(model: BaseChatModel, question: str) -> list[BaseMessage]:
    bound = model.bind_tools([quote])
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(3):
        answer = bound.invoke(messages)
        messages.append(answer)
        if not answer.tool_calls:
            break
        for call in answer.tool_calls:
            messages.append(ToolMessage(quote.invoke(call["args"]), tool_call_id=call["id"]))
    return messages


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_streamed_text_arrives_in_several_tokens(server_type) -> None:
    with server_type([ScriptedReply.text("EURUSD trades near 1.0850 today.")]) as server:
        chunks = list(chat_model(_info(server)).stream("How is EURUSD?"))

    assert "".join(c.content for c in chunks) == "EURUSD trades near 1.0850 today."
    assert len([c for c in chunks if c.content]) >= 5
    assert server.chat_requests[0].stream is True


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_tool_call_parses_into_ai_message_and_tool_result_gets_text(server_type) -> None:
    with server_type(_answer_after_tool) as server:
        messages = _run_tool_loop(chat_model(_info(server)), "Quote EURUSD")

    first = messages[1]
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("quote", {"symbol": "EURUSD"})]
    assert messages[-1].content == "EURUSD bid is 1.08500."
    assert server.chat_requests[0].tool_names == ["quote"]
    assert server.chat_requests[1].has_tool_result


def test_openai_streamed_tool_call_argument_deltas_aggregate() -> None:
    reply = ScriptedReply.tool_call("quote", {"symbol": "GBPUSD"}, tokens_in=20, tokens_out=7)
    with OpenAIServer([reply]) as server:
        stream = chat_model(_info(server)).bind_tools([quote]).stream("Quote GBPUSD")
        total = None
        for chunk in stream:
            total = chunk if total is None else total + chunk

    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("quote", {"symbol": "GBPUSD"})]
    assert total.usage_metadata["input_tokens"] == 20
    assert total.usage_metadata["output_tokens"] == 7


def test_compatible_server_gets_placeholder_key_never_the_openai_key(openai_key: str) -> None:
    with OpenAIServer([ScriptedReply.text("ok")]) as server:
        chat_model(_info(server)).invoke("hi")

    assert server.chat_requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_compatible_server_gets_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_KEY", "vllm-local-key")
    with OpenAIServer([ScriptedReply.text("ok")], require_key="vllm-local-key") as server:
        answer = chat_model(_info(server, api_key_env="VLLM_KEY")).invoke("hi")

    assert answer.content == "ok"


def test_openai_provider_sends_the_openai_key(openai_key: str) -> None:
    with OpenAIServer([ScriptedReply.text("ok")], require_key=openai_key) as server:
        assert chat_model(_info(server, "openai")).invoke("hi").content == "ok"


def test_openai_provider_without_key_is_a_domain_error() -> None:
    info = ModelInfo(name="gpt-4o-mini", provider="openai", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(CompanionError) as raised:
        chat_model(info)
    assert raised.value.code == "model_key_missing"


def test_rate_limited_call_is_not_retried_by_the_client() -> None:
    with OpenAIServer([ScriptedReply.error(429, "slow down"), ScriptedReply.text("x")]) as server:
        with pytest.raises(Exception, match="slow down"):
            chat_model(_info(server)).invoke("hi")

    assert len(server.chat_requests) == 1


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_silent_server_times_out_within_the_call_timeout(server_type) -> None:
    with server_type([ScriptedReply.never_answer()]) as server:
        started = time.perf_counter()
        with pytest.raises(Exception):  # noqa: B017 - each client has its own timeout type
            chat_model(_info(server), timeout=0.3).invoke("hi")
        assert time.perf_counter() - started < 2.0


async def test_async_invoke_reaches_the_server() -> None:
    with OllamaServer([ScriptedReply.text("async hello")],
                      models=[ServedModel("llama3.2:3b")]) as server:
        answer = await chat_model(_info(server)).ainvoke("hi")
    assert answer.content == "async hello"
    assert server.chat_requests[0].model == "llama3.2:3b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_cache_hit_then_expiry_over_the_wire() -> None:
    clock = FakeClock()
    cache = TTLCache(ttl_s=30, clock=clock)
    with OpenAIServer([ScriptedReply.text("first"), ScriptedReply.text("second")]) as server:
        model = chat_model(_info(server), cache=cache)
        assert model.invoke("price of EURUSD?").content == "first"
        clock.now += 29
        assert model.invoke("price of EURUSD?").content == "first"  # hit
        assert len(server.chat_requests) == 1
        clock.now += 2
        assert model.invoke("price of EURUSD?").content == "second"  # expired
        assert len(server.chat_requests) == 2


def test_ttl_cache_misses_on_a_different_query() -> None:
    cache = TTLCache(ttl_s=30, clock=FakeClock())
    with OpenAIServer([ScriptedReply.text("a"), ScriptedReply.text("b")]) as server:
        model = chat_model(_info(server), cache=cache)
        assert model.invoke("EURUSD?").content == "a"
        assert model.invoke("GBPUSD?").content == "b"


def test_model_without_cache_always_asks() -> None:
    with OpenAIServer([ScriptedReply.text("a"), ScriptedReply.text("b")]) as server:
        model = chat_model(_info(server))
        assert [model.invoke("EURUSD?").content for _ in range(2)] == ["a", "b"]


def test_ttl_cache_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    cache = TTLCache(ttl_s=30, max_entries=2, clock=FakeClock())
    for prompt in ("p1", "p2", "p3"):
        cache.update(prompt, "llm", [])
    assert cache.lookup("p1", "llm") is None
    assert cache.lookup("p3", "llm") == []
