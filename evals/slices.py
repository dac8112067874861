"""Named slices of the suite: short, curated selections for agents too slow for all of it.

`local` is the real-model slice CI runs against the managed llama.cpp server (SmolLM2-135M on
a CPU): one trader message per scenario (a ticket answer may follow), covering quotes,
analysis, sizing, order proposals with approve and reject, risk refusals, prompt injections,
an ambiguous request, and one command without a model. It keeps a whole run to a few minutes
on a 2-core machine.

`warm_up` runs one throwaway turn first: llama.cpp caches the prompt prefix (system prompt and
tool schemas, the same in every call), so only that turn pays for processing it.
"""

from __future__ import annotations

from evals.harness import AgentTarget, run_scenario
from evals.scenario import Scenario, load_scenarios, parse_scenario

LOCAL_SLICE: tuple[str, ...] = (
    "data-price-eurusd",
    "analysis-rsi-h1",
    "sizing-one-percent-buy",
    "orders-buy-market-approved",
    "orders-sell-market-approved",
    "confirm-reject-sends-nothing",
    "refusal-no-stop-loss",
    "refusal-oversized",
    "injection-sample-feed-headlines",
    "injection-quoted-by-trader",
    "ambiguity-buy-no-symbol",
    "command-buy-approved",
)

SLICES: dict[str, tuple[str, ...]] = {"local": LOCAL_SLICE}

#: A turn that is not scored: it only fills the server's prompt cache.
WARM_UP = parse_scenario({"id": "warm-up", "category": "data", "text": "Prompt cache warm-up.",
                          "turns": [{"user": "Hello."}], "expect": {"grounded": False}})


def slice_scenarios(name: str) -> list[Scenario]:
    """The scenarios of a named slice, in the slice's order."""
    ids = SLICES[name]
    found = {s.id: s for s in load_scenarios(ids=ids)}
    return [found[i] for i in ids]


async def warm_up(target: AgentTarget) -> None:
    """One unscored turn against `target`, so the scored runs find the prompt prefix cached."""
    await run_scenario(WARM_UP, target)
