import pytest

from agent.domain import CompanionError
from agent.tools.commands import help_text, is_command, parse_command


def test_buy_with_sl_and_tp_then_all_fields_parsed():
    cmd = parse_command("/buy eurusd 0.10 sl 1.0750 tp 1.0900")
    assert cmd.name == "buy" and cmd.proposes_order
    assert cmd.args == {"symbol": "EURUSD", "side": "buy", "volume": 0.10, "sl": 1.075,
                        "tp": 1.09, "price": None}


def test_sell_without_sl_then_parsed_for_the_risk_engine_to_deny():
    cmd = parse_command("/sell GBPUSD 1")
    assert cmd.args["sl"] is None and cmd.args["side"] == "sell"


def test_telegram_bot_suffix_and_alias_then_understood():
    assert parse_command("/quote@MyBot EURUSD").name == "price"


@pytest.mark.parametrize("text", [
    "/buy EURUSD -1 sl 1.07", "/buy EURUSD nan sl 1.07", "/buy EURUSD inf sl 1.07",
    "/buy EURUSD 0.1 sl", "/buy EURUSD 0.1 sl 1.07 sl 1.08", "/buy EURUSD 0.1 stop 1.07",
    "/buy", "/price", "/price EUR USD", "/bars EURUSD H1 0", "/close abc", "/close -3",
    "/history 0", "/positions now", "/size EURUSD 1%", "/frobnicate", "price EURUSD",
    "/price 12$%",
])
def test_malformed_command_then_clear_error_and_nothing_done(text):
    with pytest.raises(CompanionError) as info:
        parse_command(text)
    assert info.value.code in ("bad_command", "bad_symbol")
    assert info.value.message


def test_size_with_side_and_percent_then_parsed():
    cmd = parse_command("/size EURUSD 1% sl 1.0750 buy")
    assert cmd.args == {"symbol": "EURUSD", "risk_pct": 1.0, "sl": 1.075, "side": "buy"}


def test_close_partial_then_ticket_and_volume():
    assert parse_command("/close 42 0.05").args == {"ticket": 42, "volume": 0.05}


def test_help_lists_every_command_and_detects_commands():
    assert "/buy SYMBOL LOTS" in help_text()
    assert is_command("  /help") and not is_command("how is EURUSD?")


def test_alert_command_with_empty_condition_then_clear_error_not_a_crash(tmp_path):
    from agent.tools.commands import CommandRunner, ParsedCommand

    class NoDesk:  # the condition is refused before the desk is touched
        pass

    class NoAlerts:
        pass

    runner = CommandRunner(NoDesk(), alerts=NoAlerts())
    with pytest.raises(CompanionError) as info:
        runner.run(ParsedCommand("alert", {"symbol": "EURUSD", "condition": "  "}))
    assert info.value.code == "bad_alert"
