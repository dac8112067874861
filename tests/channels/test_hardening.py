"""Issue 15 on the `companion` command: what the trader sees when asking for the impossible."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.channels.test_cli import as_json, cli  # noqa: F401 - the fixture


def one_sentence(result) -> str:
    """The refusal as the trader reads it: exit 1, one line, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def in_time(call, timeout_s: float = 60):
    """call() in a thread: a command that blocks fails the test instead of hanging it."""
    box = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), "the command blocked"
    return box[0]


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


# -- item 9: `companion data import` of what is not a bar file ----------------------------------

@pytest.mark.parametrize("target", ["missing", "folder", "fifo", "/dev/zero"])
def test_data_import_when_not_a_regular_file_then_one_sentence(cli, tmp_path, target):  # noqa: F811
    if target == "missing":
        path = tmp_path / "EURUSD_H1.csv"
    elif target == "folder":
        path = tmp_path / "EURUSD_H1"
        path.mkdir()
    elif target == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        path = tmp_path / "EURUSD_H1.csv"
        os.mkfifo(path)
    else:
        path = Path(target)
        if not path.exists():
            pytest.skip("no /dev/zero here")
    result = in_time(lambda: cli("data", "import", str(path), "--symbol", "EURUSD",
                                 "--timeframe", "H1"))
    assert str(path) in one_sentence(result)


# -- item 5: the halt survives the loss of the journal; a damaged file is one sentence ---------

def empty_journal(folder: Path) -> None:
    """What `: > journal.db` does (and its WAL with it)."""
    for suffix in ("", "-wal", "-shm"):
        path = folder / f"journal.db{suffix}"
        if path.exists():
            path.write_bytes(b"")


def test_risk_halt_then_journal_emptied_then_still_halted_and_doctor_says_so(cli, tmp_path):  # noqa: F811
    assert cli("risk", "halt", "--reason", "news at 14:30").exit_code == 0
    empty_journal(tmp_path)
    doctor = as_json(cli("doctor", "--json"))
    assert doctor["trading_state"] == "HALTED" and doctor["status"] == "degraded"
    assert "journal had lost it" in doctor["trading_state_file"]
    status = cli("risk", "status")
    assert status.exit_code == 0
    assert "Trading state: HALTED (news at 14:30; restored from risk-state.json" in status.stdout
    quote = as_json(cli("quote", "EURUSD", "--json"))
    order = cli("order", "buy", "EURUSD", "0.1", "--sl", f"{quote['bid'] - 0.004:.5f}")
    assert order.exit_code == 1 and "trading_state" in order.stdout  # denied by the halt


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_journal_then_one_sentence_saying_what_to_do(cli, tmp_path, damage):  # noqa: F811
    assert cli("risk", "halt").exit_code == 0
    journal = tmp_path / "journal.db"
    if damage == "garbage":
        journal.write_bytes(b"not a database, just some bytes\n" * 200)
    else:
        data = journal.read_bytes()
        journal.write_bytes(data[:len(data) // 3])
    line = one_sentence(cli("risk", "status"))
    assert str(journal) in line and "move that file aside" in line


def test_damaged_checkpoint_file_then_one_sentence_saying_what_to_do(cli, tmp_path):  # noqa: F811
    assert cli("chat", "-m", "/price EURUSD").exit_code == 0
    checkpoints = tmp_path / "checkpoints.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{checkpoints}{suffix}").unlink(missing_ok=True)
    checkpoints.write_bytes(b"\x00garbage" * 1000)
    line = one_sentence(cli("chat", "-m", "/price EURUSD"))
    assert str(checkpoints) in line and "conversations start afresh" in line


# -- item 4: a ticket left claimed by a killed process ------------------------------------------

def test_cli_after_a_kill_before_send_then_told_nothing_was_sent_once(cli, tmp_path):  # noqa: F811
    from tests.graph.test_crash_recovery import killed

    ticket_id = killed(SimpleNamespace(data_dir=tmp_path), "before_send")
    first = cli("tickets")
    assert first.exit_code == 0 and f"Ticket {ticket_id} was confirmed, but the companion " \
        "stopped before sending it: nothing was sent." in " ".join(first.output.split())
    again = cli("confirm", ticket_id)
    assert again.output.count("nothing was sent") == 1  # the reply, not a second notice
    assert cli("positions", "--json").stdout.strip() == "[]"
