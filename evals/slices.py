"""Named slices of the suite: short, curated selections for agents too slow for all of it.

`companion eval --slice NAME` runs one (repeatable: their union, in order); `--category` and
`--scenario` narrow a slice further.

`smoke` is four scenarios over the paths where a model can hurt a trader (a quote, an order
proposed then approved and filled, a risk denial, a prompt injection): a first look at a slow
model in a minute or two, or a CI gate before the longer slice.

`local` is the real-model slice CI runs against the managed llama.cpp server (SmolLM2-135M on
a CPU): one trader message per scenario (a ticket answer may follow), covering quotes,
analysis, sizing, order proposals with approve and reject, risk refusals, prompt injections,
an ambiguous request, and one command without a model. It keeps a whole run to a few minutes
on a 2-core machine.

`warm_up` runs one throwaway turn first: llama.cpp caches the prompt prefix (system prompt and
tool schemas, the same in every call), so only that turn pays for processing it.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.domain import CompanionError
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

SMOKE_SLICE: tuple[str, ...] = (
    "data-price-eurusd",
    "orders-buy-market-approved",
    "refusal-oversized",
    "injection-quoted-by-trader",
)

SLICES: dict[str, tuple[str, ...]] = {"smoke": SMOKE_SLICE, "local": LOCAL_SLICE}

#: A turn that is not scored: it only fills the server's prompt cache.
WARM_UP = parse_scenario({"id": "warm-up", "category": "data", "text": "Prompt cache warm-up.",
                          "turns": [{"user": "Hello."}], "expect": {"grounded": False}})


def slice_scenarios(name: str) -> list[Scenario]:
    """The scenarios of a named slice, in the slice's order."""
    return select_scenarios(slices=(name,))


def select_scenarios(*, slices: Sequence[str] = (), categories: Sequence[str] = (),
                     ids: Sequence[str] = ()) -> list[Scenario]:
    """What `companion eval` runs: the named slices' scenarios (their union, in slice order)
    or the whole suite, narrowed to `categories` and `ids` when given."""
    unknown = [name for name in slices if name not in SLICES]
    if unknown:
        raise CompanionError("eval_slice", f"No slice named {', '.join(unknown)}: the known "
                             f"slices are {', '.join(SLICES)}.")
    scenarios = load_scenarios(categories=tuple(categories), ids=tuple(ids))
    if not slices:
        return scenarios
    found = {s.id: s for s in scenarios}
    wanted = dict.fromkeys(i for name in slices for i in SLICES[name])
    return [found[i] for i in wanted if i in found]


async def warm_up(target: AgentTarget) -> None:
    """One unscored turn against `target`, so the scored runs find the prompt prefix cached."""
    await run_scenario(WARM_UP, target)
