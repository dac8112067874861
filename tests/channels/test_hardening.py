"""Issue 15 on the `companion` command: what the trader sees when asking for the impossible."""

from __future__ import annotations

import json

from tests.channels.test_cli import as_json, cli  # noqa: F401 - the fixture


def test_size_when_risk_150_percent_then_the_cap_is_said(cli):  # noqa: F811
    quote = as_json(cli("quote", "EURUSD", "--json"))
    sl = f"{quote['bid'] - 0.0040:.5f}"
    data = as_json(cli("size", "EURUSD", "--risk", "150%", "--sl", sl, "--json"))
    assert data["risk_pct"] <= 1.0 and [c["code"] for c in data["caps"]] == ["risk_per_trade"]
    shown = cli("size", "EURUSD", "--risk", "150%", "--sl", sl)
    assert shown.exit_code == 0 and data["caps"][0]["message"] in " ".join(shown.stdout.split())


def test_size_when_stop_at_the_bid_then_refused_with_a_sentence_and_exit_1(cli):  # noqa: F811
    quote = as_json(cli("quote", "EURUSD", "--json"))
    result = cli("size", "EURUSD", "--risk", "1%", "--sl", f"{quote['bid']:.5f}", "--side", "buy",
                 "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert data["volume"] == 0 and data["code"] == "stop_inside_spread"
    shown = cli("size", "EURUSD", "--risk", "1%", "--sl", f"{quote['bid']:.5f}", "--side", "buy")
    assert shown.exit_code == 1
    assert " ".join(shown.stdout.split()) == f"No size fits: {data['reason']}"


async def test_chat_size_when_risk_150_percent_then_the_reply_states_the_cap(companion):
    """Telegram and the web page show the graph's reply text as it is."""
    bid = companion.desk.quote("EURUSD").bid
    reply = await companion.service.send("t-size", f"/size EURUSD 150% sl {bid - 0.004:.5f}")
    data = reply.data[0]["data"]
    assert [c["code"] for c in data["caps"]] == ["risk_per_trade"]
    assert data["caps"][0]["message"] in reply.text


async def test_chat_size_when_stop_at_the_bid_then_no_size_and_the_reason(companion):
    bid = companion.desk.quote("EURUSD").bid
    reply = await companion.service.send("t-size", f"/size EURUSD 1% sl {bid:.5f} buy")
    data = reply.data[0]["data"]
    assert data["volume"] == 0 and data["code"] == "stop_inside_spread"
    assert reply.text == f"No size fits: {data['reason']}"
