"""Model detector: which models are reachable right now, and what each can do.

Probes every endpoint concurrently with short timeouts: Ollama (`/api/tags`, then `/api/show`
per model for context length and tool calling), OpenAI (`/v1/models`, only when an API key is
set) and each configured OpenAI-compatible server (LM Studio, vLLM, llama.cpp server). A dead
or silent endpoint costs at most `timeout` seconds and never hides the others. API keys go in
request headers only: never in a log line, an error or a `ModelInfo`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from agent.config import ModelSettings, secret
from agent.models.local import MANAGED_NAMES

log = logging.getLogger(__name__)

Provider = Literal["ollama", "openai", "openai_compatible"]
SizeClass = Literal["tiny", "small", "medium", "large"]

#: Parts of OpenAI model names that are not chat-with-tools models (left out of the list).
_OPENAI_NON_CHAT = ("embedding", "whisper", "tts", "dall-e", "davinci", "babbage", "moderation",
                    "image", "sora", "computer-use", "realtime", "audio", "transcribe", "search")
_OPENAI_TOOL_CHAT = ("gpt-3.5-turbo", "gpt-4", "gpt-5", "o1", "o3", "o4")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A reachable model and its traits. `None` means the endpoint did not say."""

    name: str
    provider: Provider
    base_url: str
    tool_calling: bool | None = None
    context_length: int | None = None
    size_class: SizeClass | None = None
    local: bool = False
    cost: Literal["free", "paid"] = "paid"
    api_key_env: str | None = None  # env var holding a compatible server's key (never the key)
    streams_tool_calls: bool = True  # False: ask for whole replies when tools are bound

    @property
    def key(self) -> str:
        """A unique label: provider and name (the same name may be served twice)."""
        return f"{self.provider}:{self.name}"


def detect(settings: ModelSettings, *, timeout: float | None = None) -> list[ModelInfo]:
    """Reachable models (sync). From async code, await `adetect` instead."""
    return asyncio.run(adetect(settings, timeout=timeout))


async def adetect(settings: ModelSettings, *, timeout: float | None = None) -> list[ModelInfo]:
    """Reachable models, probing every endpoint concurrently; each costs at most `timeout`."""
    limit = timeout if timeout is not None else settings.detect_timeout_s
    probes = [_bounded(_probe_ollama(settings.ollama_host, limit), settings.ollama_host, limit)]
    openai_key = secret("openai_api_key")
    if openai_key is not None:
        probes.append(_bounded(
            _probe_openai(settings.openai_base_url, openai_key.get_secret_value(), "openai",
                          None, limit),
            settings.openai_base_url, limit))
    for server in settings.openai_compatible:
        key = os.environ.get(server.api_key_env) if server.api_key_env else None
        probes.append(_bounded(
            _probe_openai(server.base_url, key, "openai_compatible", server.api_key_env, limit,
                          managed_ctx=settings.local.n_ctx if server.name in MANAGED_NAMES
                          else None),
            server.base_url, limit))
    found: list[ModelInfo] = []
    for models in await asyncio.gather(*probes):
        found.extend(models)
    return found


async def _bounded(probe: Any, url: str, limit: float) -> list[ModelInfo]:
    """Run one endpoint's probe; on error or after `limit` seconds, log and return nothing."""
    try:
        async with asyncio.timeout(limit):
            return await probe
    except Exception as exc:  # noqa: BLE001 - whatever an endpoint does, start-up goes on
        log.info("no models at %s (%s)", safe_url(url), type(exc).__name__)
        return []


async def _probe_ollama(host: str, limit: float) -> list[ModelInfo]:
    # the per-model details must be in before the whole probe's limit, or the list is lost too
    details_deadline = time.monotonic() + 0.9 * limit
    base = host.rstrip("/")
    if "://" not in base:
        base = f"http://{base}"
    async with httpx.AsyncClient(timeout=limit) as client:
        response = await client.get(f"{base}/api/tags")
        response.raise_for_status()
        tags = response.json().get("models") or []
        names = [t.get("model") or t.get("name") for t in tags]
        shows = [asyncio.ensure_future(_ollama_show(client, base, name)) for name in names]
        done: set[asyncio.Future[Any]] = set()
        if shows:  # the details are a bonus: whatever is late stays unknown
            done, pending = await asyncio.wait(
                shows, timeout=max(details_deadline - time.monotonic(), 0))
            for show in pending:
                show.cancel()
    local = is_local(base)
    return [_ollama_info(base, name, tag,
                         show.result() if show in done and show.exception() is None else None,
                         local)
            for tag, name, show in zip(tags, names, shows, strict=True)]


async def _ollama_show(client: httpx.AsyncClient, base: str, name: str) -> dict[str, Any] | None:
    response = await client.post(f"{base}/api/show", json={"model": name})
    return response.json() if response.status_code == 200 else None


def _ollama_info(base: str, name: str, tag: dict[str, Any], show: dict[str, Any] | None,
                 local: bool) -> ModelInfo:
    details = (show or {}).get("details") or tag.get("details") or {}
    tool_calling = None
    context = None
    if show is not None:
        capabilities = show.get("capabilities")
        if capabilities is not None:
            tool_calling = "tools" in capabilities
        context = next((int(v) for k, v in (show.get("model_info") or {}).items()
                        if k.endswith(".context_length") and isinstance(v, int)), None)
    return ModelInfo(
        name=name, provider="ollama", base_url=base, tool_calling=tool_calling,
        context_length=context,
        size_class=size_class(details.get("parameter_size")) or size_class(name),
        local=local, cost="free" if local else "paid")


async def _probe_openai(base_url: str, key: str | None, provider: Provider,
                        api_key_env: str | None, limit: float,
                        managed_ctx: int | None = None) -> list[ModelInfo]:
    """`managed_ctx`: the window of our own llama-server (`--jinja`: tool calling through the
    model's template, streamed), which reports the model's training context instead."""
    managed = managed_ctx is not None
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(timeout=limit) as client:
        response = await client.get(f"{base}/models", headers=headers)
    response.raise_for_status()
    local = is_local(base)
    models = []
    for entry in response.json().get("data") or []:
        name = entry["id"]
        if provider == "openai" and any(part in name for part in _OPENAI_NON_CHAT):
            continue
        meta = entry.get("meta") or {}
        context = managed_ctx or (entry.get("max_model_len") or entry.get("context_length")
                                  or meta.get("n_ctx_train"))
        params = meta.get("n_params")
        models.append(ModelInfo(
            name=name, provider=provider, base_url=base,
            tool_calling=True if managed or (provider == "openai"
                                             and name.startswith(_OPENAI_TOOL_CHAT)) else None,
            context_length=int(context) if context else None,
            size_class=(_size_from_count(params) if params else None) or size_class(name),
            local=local, cost="free" if local else "paid", api_key_env=api_key_env))
    return models


_SIZE = re.compile(r"(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([bm])\b", re.IGNORECASE)


def size_class(text: str | None) -> SizeClass | None:
    """Size class from a parameter size ("8.0B", "494M") or a model name ("llama3.1:8b")."""
    if not text:
        return None
    match = _SIZE.search(text.replace("_", "-"))
    if match is None:
        return None
    experts, amount, unit = match.groups()
    count = float(amount) * (1e9 if unit.lower() == "b" else 1e6) * int(experts or 1)
    return _size_from_count(count)


def _size_from_count(count: float) -> SizeClass:
    if count < 1e9:
        return "tiny"
    if count < 8e9:
        return "small"
    if count < 30e9:
        return "medium"
    return "large"


def is_local(url: str) -> bool:
    """True when the URL's host is this machine or a private network address."""
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def safe_url(url: str) -> str:
    """The URL without any user:password part, fit for a log line."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()
    return url
