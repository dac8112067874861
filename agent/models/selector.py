"""Model selector: a fallback chain per task, best first, and one way to walk it.

Ranking, in order: the trader's explicit choice; then models the monitor finds failing (error
rate or p95 latency over the policy's limits) go last; then eval scores for the task when the
evals hook gives any (measured beats assumed); then models known to meet the task's
requirements before those whose server did not say; then the task's preferences (local, fast,
large context, capable); then the name, so the order is stable. A model known to lack a
required trait (e.g. tool calling for tool planning) is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from agent.domain import CompanionError
from agent.models.detector import ModelInfo
from agent.models.monitor import ModelStats, describe_error

log = logging.getLogger(__name__)

T = TypeVar("T")


class Task(StrEnum):
    """What a model call is for; each task has its own policy."""

    QUICK_REPLY = "quick_reply"
    TOOL_PLANNING = "tool_planning"
    ANALYSIS = "analysis"
    ALERT_WORDING = "alert_wording"


class Preference(StrEnum):
    """A ranking preference, applied in the order a `TaskPolicy` lists them."""

    LOCAL = "local"  # on this machine / network, free
    FAST = "fast"  # smaller first, then lower measured p50 latency
    LARGE_CONTEXT = "large_context"  # longer context first
    CAPABLE = "capable"  # larger size class first


_SIZE_RANK = {"tiny": 0, "small": 1, "medium": 2, "large": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPolicy:
    """What a task requires of a model, and what it prefers."""

    requires_tool_calling: bool = False
    min_context: int | None = None
    prefer: tuple[Preference, ...] = ()


def _default_tasks() -> dict[Task, TaskPolicy]:
    return {
        Task.QUICK_REPLY: TaskPolicy(prefer=(Preference.LOCAL, Preference.FAST)),
        Task.TOOL_PLANNING: TaskPolicy(requires_tool_calling=True,
                                       prefer=(Preference.CAPABLE, Preference.LOCAL)),
        # analysis and alerts call tools too (analyze, set_alert): the capable models serve them
        Task.ANALYSIS: TaskPolicy(requires_tool_calling=True,
                                  prefer=(Preference.CAPABLE, Preference.LARGE_CONTEXT)),
        Task.ALERT_WORDING: TaskPolicy(requires_tool_calling=True,
                                       prefer=(Preference.CAPABLE, Preference.LOCAL)),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionPolicy:
    """Per-task policies and the limits past which a model is demoted to the end of the chain."""

    tasks: Mapping[Task, TaskPolicy] = field(default_factory=_default_tasks)
    max_error_rate: float = 0.5
    max_p95_latency_ms: float = 30_000.0
    min_calls_to_judge: int = 3

    def for_task(self, task: Task) -> TaskPolicy:
        return self.tasks.get(task, TaskPolicy())


StatsProvider = Callable[[], Iterable[ModelStats]]
ScoresProvider = Callable[[Task], Mapping[str, float]]


class ModelSelector:
    """Chooses the fallback chain of models for a task."""

    def __init__(self, models: Sequence[ModelInfo], *, policy: SelectionPolicy | None = None,
                 stats_provider: StatsProvider | None = None,
                 scores_provider: ScoresProvider | None = None,
                 user_choice: str | None = None) -> None:
        self.models = list(models)
        self.policy = policy or SelectionPolicy()
        self.stats_provider = stats_provider
        self.scores_provider = scores_provider
        self.user_choice = user_choice

    def choose(self, task: Task) -> list[ModelInfo]:
        """Models fit for `task`, best first; empty when none (the agent then serves commands)."""
        task = Task(task)
        rules = self.policy.for_task(task)
        fit = [m for m in self.models if _meets(m, rules)]
        figures = {(s.provider, s.model): s for s in self.stats_provider()} \
            if self.stats_provider else {}
        scores = dict(self.scores_provider(task)) if self.scores_provider else {}

        def rank(model: ModelInfo) -> tuple:
            stats = figures.get((model.provider, model.name))
            score = scores.get(model.name)
            return (
                model.name != self.user_choice and model.key != self.user_choice,
                self._failing(stats),
                score is None, -(score or 0.0),
                _unknown_requirement(model, rules),
                *(_preference_key(p, model, stats) for p in rules.prefer),
                model.name, model.provider,
            )

        return sorted(fit, key=rank)

    def _failing(self, stats: ModelStats | None) -> bool:
        if stats is None or stats.calls < self.policy.min_calls_to_judge:
            return False
        slow = (stats.p95_latency_ms is not None
                and stats.p95_latency_ms > self.policy.max_p95_latency_ms)
        return stats.error_rate > self.policy.max_error_rate or slow


def _meets(model: ModelInfo, rules: TaskPolicy) -> bool:
    if rules.requires_tool_calling and model.tool_calling is False:
        return False
    return not (rules.min_context and model.context_length
                and model.context_length < rules.min_context)


def _unknown_requirement(model: ModelInfo, rules: TaskPolicy) -> bool:
    """True when the model may lack what the task requires (its server did not say)."""
    return bool((rules.requires_tool_calling and model.tool_calling is None)
                or (rules.min_context and model.context_length is None))


def _preference_key(preference: Preference, model: ModelInfo,
                    stats: ModelStats | None) -> tuple[float, ...]:
    size = _SIZE_RANK.get(model.size_class or "", 1.5)  # unknown size: in the middle
    match preference:
        case Preference.LOCAL:
            return (0.0 if model.local else 1.0,)
        case Preference.FAST:
            latency = stats.p50_latency_ms if stats and stats.p50_latency_ms else float("inf")
            return (size, latency)
        case Preference.LARGE_CONTEXT:
            return (-(model.context_length or 0),)
        case Preference.CAPABLE:
            return (-size,)


def is_retryable(error: BaseException) -> bool:
    """Try the next model on any runtime error (HTTP, timeout, parse); not on programming bugs."""
    return isinstance(error, Exception) and not isinstance(
        error, TypeError | AttributeError | NameError | AssertionError)


def invoke_with_fallback(chain: Sequence[ModelInfo], invoke: Callable[[ModelInfo], T], *,
                         is_retryable: Callable[[BaseException], bool] = is_retryable,
                         ) -> tuple[T, ModelInfo]:
    """Call `invoke(model)` down the chain until one answers: (its result, the model)."""
    failures: list[tuple[ModelInfo, BaseException]] = []
    for model in chain:
        try:
            return invoke(model), model
        except BaseException as exc:
            if not is_retryable(exc):
                raise
            _note_failure(model, exc, failures)
    raise _no_model_answered(failures)


async def ainvoke_with_fallback(chain: Sequence[ModelInfo],
                                invoke: Callable[[ModelInfo], Awaitable[T]], *,
                                is_retryable: Callable[[BaseException], bool] = is_retryable,
                                ) -> tuple[T, ModelInfo]:
    """Async `invoke_with_fallback`: awaits `invoke(model)` down the chain."""
    failures: list[tuple[ModelInfo, BaseException]] = []
    for model in chain:
        try:
            return await invoke(model), model
        except BaseException as exc:
            if not is_retryable(exc):
                raise
            _note_failure(model, exc, failures)
    raise _no_model_answered(failures)


def _note_failure(model: ModelInfo, exc: BaseException,
                  failures: list[tuple[ModelInfo, BaseException]]) -> None:
    log.warning("model %s failed, trying the next one: %s", model.key, describe_error(exc))
    failures.append((model, exc))


def _no_model_answered(failures: list[tuple[ModelInfo, BaseException]]) -> CompanionError:
    if not failures:
        return CompanionError("no_model", "No model is available for this; commands still work.")
    tried = ", ".join(f"{m.name} ({type(e).__name__})" for m, e in failures)
    error = CompanionError("no_model_answered", f"No model answered: {tried}.")
    error.__cause__ = failures[-1][1]
    return error
