"""Which agents an eval runs against: the scripted baseline, the bad agents, and real models.

A real model is named as the detector reports it (`qwen2.5:7b`, `provider:name`), by the name
of a configured OpenAI-compatible server (`local` is the managed llama.cpp server), or given
directly with a base URL. Concurrency follows what the server allows: local servers answer one
request at a time, remote APIs several.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.config import Settings
from agent.domain import CompanionError
from agent.models.detector import ModelInfo, adetect, is_local
from agent.models.local import local_server_entry
from agent.models.providers import chat_model
from agent.models.scripted import ScriptedChatModel
from evals.bad_agents import BAD_AGENTS, Policy
from evals.baseline import baseline_policy
from evals.harness import AgentTarget

BASELINE = "baseline"


def scripted_target(name: str, policy: Policy, concurrency: int = 4) -> AgentTarget:
    return AgentTarget(name, "scripted", lambda callbacks: ScriptedChatModel(
        policy=policy, model_name=name, callbacks=callbacks), concurrency)


def baseline_target() -> AgentTarget:
    return scripted_target(BASELINE, baseline_policy)


def bad_target(kind: str) -> AgentTarget:
    if kind not in BAD_AGENTS:
        raise CompanionError("eval_agent", f"No bad agent '{kind}' (known: "
                             f"{', '.join(BAD_AGENTS)}).")
    return scripted_target(f"bad:{kind}", BAD_AGENTS[kind])


def model_target(info: ModelInfo, *, timeout_s: float | None = None) -> AgentTarget:
    return AgentTarget(info.name, info.provider,
                       lambda callbacks: chat_model(info, callbacks=callbacks, timeout=timeout_s),
                       1 if info.local else 4)


async def resolve_targets(settings: Settings, names: Sequence[str] = (), *,
                          base_url: str | None = None) -> list[AgentTarget]:
    """Targets for `companion eval --model ...`; none named: the baseline and every model found.

    With `base_url`, each name that is not scripted is a model served there (OpenAI API).
    """
    scripted = [n for n in names if n == BASELINE or n.startswith("bad:")]
    wanted = [n for n in names if n not in scripted]
    targets = [baseline_target() if n == BASELINE else bad_target(n[4:]) for n in scripted]
    if base_url:
        return targets + [model_target(ModelInfo(n, "openai_compatible", base_url.rstrip("/"),
                                                 local=is_local(base_url),
                                                 cost="free" if is_local(base_url) else "paid"),
                                       timeout_s=settings.models.call_timeout_s)
                          for n in wanted]
    if names and not wanted:
        return targets
    servers = dict((s.name, s.base_url.rstrip("/")) for s in settings.models.openai_compatible)
    local = local_server_entry(settings)
    model_settings = settings.models
    if local is not None and local.name not in servers:
        servers[local.name] = local.base_url.rstrip("/")
        model_settings = model_settings.model_copy(
            update={"openai_compatible": (*model_settings.openai_compatible, local)})
    found = await adetect(model_settings)
    if not names:
        return [baseline_target()] + [model_target(m, timeout_s=model_settings.call_timeout_s)
                                      for m in found]
    for name in wanted:
        hits = [m for m in found if name in (m.name, m.key) or servers.get(name) == m.base_url]
        if not hits:
            known = ", ".join(sorted({m.name for m in found} | set(servers))) or "none found"
            raise CompanionError("eval_model", f"No reachable model '{name}' (reachable: "
                                 f"{known}). Start it, or give --base-url.")
        targets += [model_target(m, timeout_s=model_settings.call_timeout_s) for m in hits]
    return targets
