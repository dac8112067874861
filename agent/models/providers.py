"""Providers: a LangChain chat model for a detected model, and a TTL response cache.

`ChatOllama` for Ollama, `ChatOpenAI` for OpenAI and every OpenAI-compatible server. Clients
never retry on their own (`max_retries=0`): the selector's fallback chain decides what happens
after an error. A compatible server always gets its own key or a placeholder, never the OpenAI
key (`ChatOpenAI` would otherwise read `OPENAI_API_KEY` and send it to a third party).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from agent.config import ModelSettings, secret
from agent.domain import CompanionError
from agent.models.detector import ModelInfo

#: Sent to local compatible servers that need no key (the OpenAI client insists on one).
PLACEHOLDER_KEY = "not-needed"
DEFAULT_CALL_TIMEOUT_S: float = ModelSettings.model_fields["call_timeout_s"].default


def chat_model(info: ModelInfo, *, callbacks: Sequence[Any] | None = None,
               temperature: float = 0.0, timeout: float | None = None,
               cache: BaseCache | None = None) -> BaseChatModel:
    """A chat model talking to `info`'s server; `cache` only for read-only replies without tools."""
    timeout = timeout if timeout is not None else DEFAULT_CALL_TIMEOUT_S
    common: dict[str, Any] = {"model": info.name, "temperature": temperature,
                              "callbacks": list(callbacks) if callbacks else None,
                              "cache": cache if cache is not None else False}
    if info.provider == "ollama":
        return ChatOllama(base_url=info.base_url, client_kwargs={"timeout": timeout}, **common)
    client = ChatOpenAI if info.provider == "openai" else CompatibleChatOpenAI
    return client(base_url=info.base_url, api_key=_api_key(info), timeout=timeout,
                  max_retries=0, stream_usage=True,
                  disable_streaming=False if info.streams_tool_calls else "tool_calling",
                  **common)


class CompatibleChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` sending `content: ""` where it would send null (beside tool calls):
    llama.cpp's server (llama-cpp-python) answers HTTP 500 to a null content."""

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        for message in payload.get("messages") or ():
            if message.get("content", "") is None:
                message["content"] = ""
        return payload


def _api_key(info: ModelInfo) -> str:
    if info.provider == "openai":
        key = secret("openai_api_key")
        if key is None:
            raise CompanionError("model_key_missing",
                                 "OpenAI needs an API key: set OPENAI_API_KEY.")
        return key.get_secret_value()
    if info.api_key_env:
        return os.environ.get(info.api_key_env) or PLACEHOLDER_KEY
    return PLACEHOLDER_KEY


class TTLCache(BaseCache):
    """An in-memory LangChain response cache whose entries expire after `ttl_s` seconds.

    For repeated identical read-only queries only (the caller decides by passing it).
    The clock is injectable; at most `max_entries` are kept (the oldest go first).
    """

    def __init__(self, ttl_s: float = 60.0, *, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, RETURN_VAL_TYPE]] = {}
        self._lock = threading.Lock()

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The cached generations, or None when absent or expired."""
        key = (prompt, llm_string)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store generations for `ttl_s` seconds."""
        with self._lock:
            self._entries.pop((prompt, llm_string), None)
            self._entries[(prompt, llm_string)] = (self._clock() + self.ttl_s, return_val)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._entries.clear()

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        return self.lookup(prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        self.update(prompt, llm_string, return_val)

    async def aclear(self, **kwargs: Any) -> None:
        self.clear()
