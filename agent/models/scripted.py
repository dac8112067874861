"""Scripted chat models: deterministic policies that emit real tool calls.

They stand in for a language model where the behaviour must be exact: graph tests, the evals'
scripted baseline and its deliberately bad agents, and benchmarks of the framework's own
overhead. They stream like real models (content word by word, then tool-call chunks), so
every channel sees the same events it would see from Ollama or OpenAI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

Policy = Callable[[list[BaseMessage]], AIMessage]


def reply(text: str = "", *calls: tuple[str, dict[str, Any]]) -> AIMessage:
    """An AIMessage with text and tool calls, e.g. `reply("", ("quote", {"symbol": "EURUSD"}))`."""
    return AIMessage(text, tool_calls=[
        {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:10]}", "type": "tool_call"}
        for name, args in calls])


def sequence(replies: Sequence[AIMessage]) -> Policy:
    """A policy answering with each reply in turn (the last one repeats)."""
    state = {"i": 0}

    def policy(messages: list[BaseMessage]) -> AIMessage:
        i = min(state["i"], len(replies) - 1)
        state["i"] += 1
        return replies[i].model_copy(deep=True)
    return policy


class ScriptedChatModel(BaseChatModel):
    """A chat model whose next message is `policy(conversation)`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy: Policy
    model_name: str = "scripted"
    delay_s: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        """The policy already decides which tools to call."""
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        if self.delay_s:
            time.sleep(self.delay_s)
        message = self.policy(list(messages))
        words_in = sum(len(str(m.content).split()) for m in messages)
        words_out = len(str(message.content).split()) + len(json.dumps(
            [c["args"] for c in message.tool_calls]).split())
        message.usage_metadata = {"input_tokens": words_in, "output_tokens": words_out,
                                  "total_tokens": words_in + words_out}
        message.response_metadata = {"model_name": self.model_name}
        return message

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        words = str(message.content).split(" ") if message.content else []
        for i, word in enumerate(words):
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                word if i == 0 else " " + word, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            "", id=message.id, usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            tool_call_chunks=[tool_call_chunk(name=c["name"], args=json.dumps(c["args"]),
                                              id=c["id"], index=i)
                              for i, c in enumerate(message.tool_calls)]))
