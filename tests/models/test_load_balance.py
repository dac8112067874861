"""The same model on two backends: concurrent calls spread over both instead of queueing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from langchain_core.messages import HumanMessage

from agent.config import ModelSettings, OpenAICompatibleServer
from agent.graph.routing import SelectorRouter, invoke_chain
from agent.models.detector import detect
from agent.models.providers import chat_model
from agent.models.selector import ModelSelector, Task
from tests.support.model_servers import OpenAIServer, ScriptedReply, ServedModel

MODEL = ServedModel("Qwen2.5-Coder-1.5B-Instruct-Q4_K_M")


def chats(server: OpenAIServer) -> int:
    return sum(r.method == "POST" for r in server.requests)


def test_two_backends_of_one_model_share_concurrent_calls() -> None:
    slow = [ScriptedReply.text("ok", delay_s=0.6)] * 4
    with OpenAIServer(slow, models=[MODEL]) as one, OpenAIServer(slow, models=[MODEL]) as two:
        found = detect(ModelSettings(ollama_host="http://127.0.0.1:9", openai_compatible=(
            OpenAICompatibleServer(name="a", base_url=one.base_url),
            OpenAICompatibleServer(name="b", base_url=two.base_url))), timeout=2)
        router = SelectorRouter(ModelSelector(found), chat_model)

        def turn(_: int) -> str:
            answer, _target = invoke_chain(router.targets(Task.QUICK_REPLY),
                                           [HumanMessage("hi")], ())
            return str(answer.content)

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(turn, 0)
            while not (chats(one) or chats(two)):  # the first call is under way
                pass
            second = pool.submit(turn, 1)
            assert [first.result(timeout=10), second.result(timeout=10)] == ["ok", "ok"]
    assert (chats(one), chats(two)) == (1, 1)


def test_one_backend_idle_again_gets_the_next_call_first() -> None:
    with OpenAIServer([ScriptedReply.text("ok")] * 3, models=[MODEL]) as one, \
            OpenAIServer([ScriptedReply.text("ok")] * 3, models=[MODEL]) as two:
        found = detect(ModelSettings(ollama_host="http://127.0.0.1:9", openai_compatible=(
            OpenAICompatibleServer(name="a", base_url=one.base_url),
            OpenAICompatibleServer(name="b", base_url=two.base_url))), timeout=2)
        router = SelectorRouter(ModelSelector(found), chat_model)
        for _ in range(3):  # sequential: nothing in flight, the ranked first serves each
            invoke_chain(router.targets(Task.QUICK_REPLY), [HumanMessage("hi")], ())
    assert sorted([chats(one), chats(two)]) == [0, 3]
