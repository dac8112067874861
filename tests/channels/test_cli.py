"""The `companion` command on the paper terminal: output, --json, exit codes, y/N."""

from __future__ import annotations

import pytest

from tests.channels.conftest import as_json, cli  # noqa: F401 - the fixture, imported from here


def test_doctor_json_then_paper_broker_account_and_no_models(cli):
    data = as_json(cli("doctor", "--json"))
    assert data["broker"] == "paper" and "EURUSD" in data["symbols"]
    assert data["models"] == [] and data["trading_state"] == "ACTIVE"


def test_quote_json_then_bid_below_ask_and_spread_in_points(cli):
    q = as_json(cli("quote", "eurusd", "--json"))
    assert q["symbol"] == "EURUSD" and q["bid"] < q["ask"]
    assert q["spread_points"] == pytest.approx((q["ask"] - q["bid"]) / 0.00001, abs=0.1)


def test_bars_then_table_and_json_have_n_rows(cli):
    assert len(as_json(cli("bars", "EURUSD", "H1", "-n", "5", "--json"))["bars"]) == 5
    table = cli("bars", "EURUSD", "H1", "-n", "3")
    assert table.exit_code == 0 and "EURUSD H1" in table.stdout


def test_analyze_then_facts_with_numbers(cli):
    data = as_json(cli("analyze", "EURUSD", "H1", "--json"))
    assert data["trend"] and any("RSI" in fact for fact in data["facts"])


def test_size_then_lots_never_risk_more_than_asked(cli):
    quote = as_json(cli("quote", "EURUSD", "--json"))
    data = as_json(cli("size", "EURUSD", "--risk", "1%", "--sl",
                       f"{quote['bid'] - 0.0040:.5f}", "--json"))
    assert data["volume"] > 0 and data["risk_pct"] <= 1.0


def test_unknown_symbol_then_one_sentence_and_exit_1(cli):
    result = cli("quote", "NOPE")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_bad_risk_then_one_sentence_and_exit_1(cli):
    result = cli("size", "EURUSD", "--risk", "lots", "--sl", "1.1")
    assert result.exit_code == 1 and "is not a risk" in result.output


def test_order_when_trader_answers_y_then_filled_and_position_listed(cli):
    quote = as_json(cli("quote", "EURUSD", "--json"))
    sl, tp = f"{quote['bid'] - 0.0040:.5f}", f"{quote['ask'] + 0.0080:.5f}"
    result = cli("order", "buy", "EURUSD", "0.1", "--sl", sl, "--tp", tp, input="y\n")
    assert result.exit_code == 0, result.output
    assert "Risk rules" in result.stdout and "Filled" in result.stdout
    positions = as_json(cli("positions", "--json"))
    assert len(positions) == 1 and positions[0]["volume"] == 0.1


def test_order_when_trader_answers_n_then_nothing_sent(cli):
    quote = as_json(cli("quote", "EURUSD", "--json"))
    result = cli("order", "buy", "EURUSD", "0.1", "--sl", f"{quote['bid'] - 0.004:.5f}",
                 input="n\n")
    assert result.exit_code == 1 and "nothing was sent" in result.stdout
    assert as_json(cli("positions", "--json")) == []


def test_order_without_stop_when_denied_then_verdicts_shown_and_exit_1(cli):
    result = cli("order", "buy", "EURUSD", "0.1")
    assert result.exit_code == 1
    assert "DENIED" in result.stdout and "stop_loss_required" in result.stdout


def test_order_json_then_ticket_pending_until_confirm_from_another_command(cli):
    quote = as_json(cli("quote", "EURUSD", "--json"))
    reply = as_json(cli("order", "sell", "EURUSD", "0.1", "--sl",
                        f"{quote['ask'] + 0.004:.5f}", "--json"))
    ticket = reply["ticket"]["id"]
    assert [t["id"] for t in as_json(cli("tickets", "--json"))] == [ticket]
    done = cli("confirm", ticket)
    assert done.exit_code == 0 and "Filled" in done.stdout
    again = cli("confirm", ticket)
    assert again.exit_code == 1 and "no longer waiting" in again.output


def test_risk_halt_then_orders_denied_and_resume_restores(cli):
    assert as_json(cli("risk", "halt", "--reason", "news", "--json"))["trading_state"] == "HALTED"
    assert as_json(cli("risk", "status", "--json"))["state"]["trading_state"] == "HALTED"
    denied = cli("order", "buy", "EURUSD", "0.1", "--sl", "1.1000")
    assert denied.exit_code == 1 and "trading_state" in denied.stdout
    assert as_json(cli("risk", "resume", "--json"))["trading_state"] == "ACTIVE"


def test_paper_step_then_clock_moves_by_bars(cli):
    before = as_json(cli("paper", "status", "--json"))
    after = as_json(cli("paper", "step", "3", "--json"))
    assert after["time"] > before["time"] and after["bars_left"] == before["bars_left"] - 3


def test_chat_message_without_model_then_command_answered(cli):
    reply = as_json(cli("chat", "-m", "/price EURUSD", "--json"))
    assert reply["messages"][0].startswith("EURUSD: bid ")


def test_data_import_then_symbol_listed_after_restart(cli, tmp_path):
    export = tmp_path / "GBPUSD_H1.csv"
    rows = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for i in range(300):
        day, hour = 1 + i // 24, i % 24
        rows.append(f"2017.05.{day:02d}\t{hour:02d}:00:00\t1.29\t1.2910\t1.2890\t1.2905\t100\t0\t12")
    export.write_text("\n".join(rows) + "\n")
    report = as_json(cli("data", "import", str(export), "--json"))
    assert report["symbol"] == "GBPUSD" and report["bars"] == 300
    assert "GBPUSD" in as_json(cli("doctor", "--json"))["symbols"]
