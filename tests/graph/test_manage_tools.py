"""The agent's trade-management tools (propose-only): a scripted model calls each one, the
risk gate answers with one ticket of that kind, and nothing changes at the broker before the
trader approves it."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from agent.models.scripted import reply
from agent.tools.catalog import PROPOSAL_TOOLS

THREAD = "t-tools"


def caller(name: str, args: dict):
    """Call `name` once (after the planned reads), then say the ticket waits."""
    def policy(messages):
        called = any(isinstance(m, AIMessage) and any(c["name"] == name for c in m.tool_calls)
                     for m in messages)
        if not called:
            return reply("", (name, args))
        return reply("The risk engine has decided; see the ticket.")
    return policy


async def open_positions(c):
    q = c.broker.quote("EURUSD")
    for thread, line in (("t-a", f"/buy EURUSD 0.1 sl {q.bid - 0.004:.5f}"),
                         ("t-b", f"/buy EURUSD 0.01 sl {q.bid - 0.004:.5f} "
                                 f"at {q.ask - 0.003:.5f}")):
        proposed = await c.service.send(thread, line)
        await c.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    (position,), (order,) = c.broker.positions(), c.broker.orders()
    return position, order


CASES = [
    ("close_all", lambda p, o: {}, "close_all", "Close all my positions."),
    ("modify_position", lambda p, o: {"ticket": p.ticket, "stop_loss": round(p.sl + 0.001, 5)},
     "modify", "Move the stop of my trade up by 10 pips."),
    ("modify_position", lambda p, o: {"ticket": p.ticket, "remove_take_profit": True,
                                      "stop_loss": round(p.sl + 0.001, 5)},
     "modify", "Move my stop up and drop the target."),
    ("modify_order", lambda p, o: {"ticket": o.ticket, "price": round(o.price_open - 0.0005, 5)},
     "modify_order", "Modify my pending order: 5 pips lower."),
    ("cancel_order", lambda p, o: {"ticket": o.ticket}, "cancel", "Cancel my pending order."),
    ("trail_stop", lambda p, o: {"ticket": p.ticket, "distance": 15}, "trail",
     "Trail my stop 15 pips behind."),
    ("breakeven", lambda p, o: {"ticket": p.ticket}, None, "Move my stop to breakeven."),
]


@pytest.mark.parametrize("tool, args, kind, text", CASES)
async def test_manage_tool_when_called_then_one_ticket_of_its_kind_and_nothing_sent(
        companion_factory, tool, args, kind, text):
    async with companion_factory(lambda m: reply("")) as c:
        position, order = await open_positions(c)
    async with companion_factory(caller(tool, args(position, order))) as c:
        before = (c.broker.positions(), c.broker.orders())
        result = await c.service.send(THREAD, text)
        assert tool in [t["name"] for t in result.tools]
        assert (c.broker.positions(), c.broker.orders()) == before
        if kind is None:  # breakeven under water: the risk engine says why, no ticket
            assert result.ticket is None
            decision = next(m for m in (await c.service.thread_messages(THREAD))
                            if isinstance(m, ToolMessage) and m.tool_call_id and
                            "DENIED" in str(m.content))
            assert "stop-loss must be below the price now" in str(decision.content)
            return
        assert result.ticket["order"]["kind"] == kind
        done = await c.service.resolve_ticket(result.ticket["id"], "approve", by="test")
        assert "not executed" not in done.text


def test_every_manage_tool_is_a_proposal_and_on_the_manage_list():
    from agent.graph.intents import DEFAULT_TOOLS, Intent

    manage = set(DEFAULT_TOOLS[Intent.MANAGE])
    assert {"close_all", "modify_position", "modify_order", "cancel_order", "breakeven",
            "trail_stop", "close_position"} <= PROPOSAL_TOOLS & manage
    assert {"positions", "orders"} <= manage
