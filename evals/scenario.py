"""Scenarios: data files under `evals/scenarios/` (YAML), loaded into typed, frozen objects.

A scenario fixes the market state (paper bar, account, limits, trading state), drives one or
more turns, and says what a well-behaved agent does. Numbers the answer must contain are never
typed in: a `fact` names a tool call, evaluated on the scenario's own desk just before its turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from agent.domain import CompanionError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
CATEGORIES = ("data", "analysis", "sizing", "orders", "refusals", "confirmation", "alerts",
              "injection", "ambiguity", "multi_turn", "command")
MatchMode = Literal["strict", "unordered", "subset", "superset"]


@dataclass(frozen=True, slots=True)
class Fact:
    """A number the answer must contain: `tool(args)` evaluated live, then `path` into its JSON."""

    tool: str
    path: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Turn:
    """One step: a trader message, a ticket answer, a paper-clock step or a wall-clock jump."""

    user: str | None = None
    resolve: Literal["approve", "reject"] | None = None
    step_bars: int = 0
    advance_s: float = 0.0
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True, slots=True)
class Setup:
    """The market and account state before the first turn."""

    bar_step: int = 0  # paper bars stepped from the clock's start (bar 500, 2017-05-18 05:00)
    limits: dict[str, Any] = field(default_factory=dict)  # RiskLimits overrides
    halted: bool = False
    day_start_equity: float | None = None  # equity the trading day started at
    positions: tuple[dict[str, Any], ...] = ()  # opened on the terminal before the run
    headlines: str | None = None  # feed file under evals/scenarios/feeds/


@dataclass(frozen=True, slots=True)
class Expect:
    """What a well-behaved agent does. Every field left empty is not checked."""

    tools: tuple[dict[str, Any], ...] | None = None  # [{name, args?}] reference trajectory
    match: MatchMode = "strict"
    forbid_tools: tuple[str, ...] = ()
    ticket: bool | None = None  # a ticket was minted during the run
    sent: int | None = None  # orders sent to the broker during the run
    denied: tuple[str, ...] = ()  # risk codes the gate must have denied
    answer_contains: tuple[str, ...] = ()  # case-insensitive phrases in the last answer
    asks: bool = False  # the last answer is a question to the trader
    grounded: bool = True


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    category: str
    text: str
    turns: tuple[Turn, ...]
    setup: Setup = Setup()
    expect: Expect = Expect()
    model: bool = True  # False: run with no model at all (command mode)
    requires_tools: tuple[str, ...] = ()  # skipped while the catalog lacks one of them


def load_scenarios(directory: Path = SCENARIO_DIR, *, categories: tuple[str, ...] = (),
                   ids: tuple[str, ...] = ()) -> list[Scenario]:
    """Every scenario of the data files, optionally only some categories or ids."""
    found: list[Scenario] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            found.append(parse_scenario(raw))
    seen: set[str] = set()
    for s in found:
        if s.id in seen:
            raise CompanionError("eval_duplicate", f"Scenario id {s.id} is used twice.")
        seen.add(s.id)
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise CompanionError("eval_category", f"Unknown categories: {', '.join(sorted(unknown))}"
                             f" (known: {', '.join(CATEGORIES)}).")
    return [s for s in found if (not categories or s.category in categories)
            and (not ids or s.id in ids)]


def parse_scenario(raw: dict[str, Any]) -> Scenario:
    """A scenario from its data-file form; unknown keys are refused."""
    try:
        if raw["category"] not in CATEGORIES:
            raise ValueError(f"category {raw['category']}")
        setup = dict(raw.get("setup") or {})
        setup["positions"] = tuple(setup.get("positions") or ())
        expect = dict(raw.get("expect") or {})
        for key in ("forbid_tools", "denied", "answer_contains"):
            expect[key] = tuple(expect.get(key) or ())
        if expect.get("tools") is not None:
            expect["tools"] = tuple(t if isinstance(t, dict) else {"name": t}
                                    for t in expect["tools"])
        turns = tuple(Turn(**{**t, "facts": tuple(Fact(**f) for f in t.get("facts") or ())})
                      for t in raw["turns"])
        return Scenario(id=raw["id"], category=raw["category"], text=raw.get("text", ""),
                        turns=turns, setup=Setup(**setup), expect=Expect(**expect),
                        model=raw.get("model", True),
                        requires_tools=tuple(raw.get("requires_tools") or ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise CompanionError("eval_scenario",
                             f"Scenario {raw.get('id', '?')} is malformed: {exc}.") from exc
