"""The agent with the bundled local model as its only model: safe, answering, never crashing.

Tests marked `local_model` start the real llama-server with the default capable model
(Qwen2.5-Coder-1.5B-Instruct) through `LocalModelServer` (the trader's code path) and talk to it
through the detector and `chat_model`. They assert safety (nothing reaches the broker without an
approved, confirmed ticket), that no exception escapes and that the trader gets an answer; the
quality figures are the eval slice's (tests/evals/test_local_model_slice.py).
The unmarked test replays mistakes the real model made, with a scripted model, so that the same
guarantees are checked in every run in milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage, ToolMessage

from agent.app import Companion, open_companion
from agent.config import LocalModelSettings, ModelSettings, PaperSettings, Settings
from agent.graph.routing import ModelRouter, ModelTarget, StaticRouter
from agent.models.detector import ModelInfo, detect
from agent.models.local import LocalModelServer, local_server_entry
from agent.models.providers import chat_model
from agent.models.scripted import ScriptedChatModel, reply

PRICE = "what is the price of EURUSD?"
BUY = "buy 0.1 lots of EURUSD with a stop at 1.0750"
#: Generous: on a loaded 2-core machine the first prompt (system + tool schemas) takes minutes.
CALL_TIMEOUT_S = 600.0


@asynccontextmanager
async def companion_with(router: ModelRouter, data_dir: Path) -> AsyncIterator[Companion]:
    settings = Settings(data_dir=data_dir, paper=PaperSettings(speed=0))
    async with open_companion(settings, router=router) as companion:
        yield companion


def assert_nothing_sent(companion: Companion) -> None:
    assert companion.journal.rows("orders") == []
    assert companion.broker.positions() == []


async def ask_and_refuse_any_ticket(companion: Companion, thread: str, text: str) -> str:
    """Send `text`; reject any ticket the model got proposed; the text the trader saw."""
    first = await companion.service.send(thread, text)
    texts = [first.text]
    if first.ticket is not None:
        assert_nothing_sent(companion)  # proposed and approved by risk, not confirmed: unsent
        rejected = await companion.service.resolve_ticket(first.ticket["id"], "reject", by="test")
        texts.append(rejected.text)
    assert_nothing_sent(companion)
    return "\n".join(texts)


# -- the real model's mistakes, replayed --------------------------------------------------------

def tiny_model_mistakes(messages: list[BaseMessage]):
    """What SmolLM2-135M did here: a made-up symbol, then a nonsense order, then prose."""
    made = sum(1 for m in messages if isinstance(m, ToolMessage))
    if made == 0:
        return reply("", ("quote", {"symbol": "EURUSD_1.0FXTZYDKLNJ"}))
    if made == 1:
        return reply("", ("propose_order", {"symbol": "USD", "side": "LIMIT_SALE",
                                            "volume": 10, "stop_loss": -5}))
    return reply("The price of EURUSD is 1.2345.")


@pytest.mark.parametrize("text", [PRICE, BUY])
async def test_tiny_model_mistakes_replayed_then_answer_and_nothing_sent(
        tmp_path: Path, text: str) -> None:
    router = StaticRouter([ModelTarget("smollm2-replay", ScriptedChatModel(
        policy=tiny_model_mistakes))])
    async with companion_with(router, tmp_path) as companion:
        seen = await ask_and_refuse_any_ticket(companion, "t1", text)
    assert seen.strip()


# -- the real local model ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_model(local_extra: None, models_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelInfo]:
    """The bundled capable model served by the managed server, as the detector reports it."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("local-model"), models=ModelSettings(
        local=LocalModelSettings(models_dir=models_dir)))
    server = LocalModelServer(settings)
    server.start(timeout_s=300)
    try:
        entry = local_server_entry(settings)
        assert entry is not None
        [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9",
                                      openai_compatible=(entry,)), timeout=10)
        yield info
    finally:
        server.stop()


def local_router(info: ModelInfo) -> StaticRouter:
    model = chat_model(info, timeout=CALL_TIMEOUT_S)
    return StaticRouter([ModelTarget(info.name, model, info.provider)])


@pytest.mark.local_model
def test_local_model_is_detected_as_small_local_tool_caller(local_model: ModelInfo) -> None:
    assert (local_model.name, local_model.size_class, local_model.tool_calling,
            local_model.local, local_model.streams_tool_calls) == (
        "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M", "small", True, True, True)


@pytest.mark.local_model
@pytest.mark.parametrize("text", [PRICE, BUY])
async def test_local_model_only_then_answer_no_exception_nothing_sent(
        local_model: ModelInfo, tmp_path: Path, text: str) -> None:
    async with companion_with(local_router(local_model), tmp_path) as companion:
        seen = await ask_and_refuse_any_ticket(companion, "t1", text)
    assert seen.strip(), "the trader got an empty reply"
