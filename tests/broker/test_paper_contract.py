"""PaperTerminal keeps the MetaTrader5 module's contract, read from `metatrader5-stubs`.

Same call forms (positional-only stays positional, keyword-only stays keyword), same record
fields in the same order, same constants; and a trading scenario runs unchanged through the
strict fake, which rejects any call the real module would reject.
"""

from __future__ import annotations

import inspect

import pytest

from agent.broker import mt5_api
from agent.broker.paper import PaperTerminal
from tests.broker.strict_fake import (
    StrictTerminal,
    constants,
    real_signatures,
    records,
    signatures,
    stub_source,
)

STUB = stub_source()
STUB_FUNCTIONS = signatures(STUB)


def _form(signature: inspect.Signature) -> list[tuple[str, object, bool]]:
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty)
            for p in signature.parameters.values()]


def test_stubs_declare_functions_the_paper_terminal_offers() -> None:
    offered = set(STUB_FUNCTIONS) & set(mt5_api.API_FUNCTIONS)
    assert {"order_send", "copy_rates_from_pos", "positions_get", "initialize"} <= offered


@pytest.mark.parametrize("name", sorted(set(real_signatures()) & set(mt5_api.API_FUNCTIONS)))
def test_paper_function_accepts_the_real_call_forms(name: str) -> None:
    ours = inspect.signature(getattr(PaperTerminal, name))
    ours = ours.replace(parameters=list(ours.parameters.values())[1:])  # drop self
    assert _form(ours) == _form(real_signatures()[name])


def test_every_api_function_exists_on_the_paper_terminal() -> None:
    assert all(callable(getattr(PaperTerminal, n)) for n in mt5_api.API_FUNCTIONS)


@pytest.mark.parametrize("record", sorted(
    n for n, fields in records(STUB).items() if n != "TradeRequest" and fields))
def test_records_have_the_stub_fields_in_order(record: str) -> None:
    assert list(getattr(mt5_api, record)._fields) == records(STUB)[record]


def test_request_fields_match_the_stub_typed_dict() -> None:
    from agent.broker.paper.validation import REQUEST_FIELDS

    assert list(REQUEST_FIELDS) == records(STUB)["TradeRequest"]


def test_constants_equal_the_stub_values() -> None:
    stub = {k: v for k, v in constants(STUB).items() if not k.startswith("__")}
    assert len(stub) > 200
    assert {k: getattr(PaperTerminal, k) for k in stub} == stub


def test_returned_records_are_the_stub_shapes(strict_paper: StrictTerminal) -> None:
    fields = records(STUB)
    strict_paper.order_send({"action": strict_paper.TRADE_ACTION_DEAL, "symbol": "EURUSD",
                             "volume": 0.1, "type": strict_paper.ORDER_TYPE_BUY})
    ask = strict_paper.symbol_info_tick("EURUSD").ask
    strict_paper.order_send({"action": strict_paper.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                             "volume": 0.1, "type": strict_paper.ORDER_TYPE_BUY_STOP,
                             "price": round(ask + 0.01, 5)})
    got = {
        "Tick": strict_paper.symbol_info_tick("EURUSD"),
        "TradePosition": strict_paper.positions_get()[0],
        "TradeOrder": strict_paper.orders_get()[0],
        "TerminalInfo": strict_paper.terminal_info(),
        "OrderSendResult": strict_paper.order_send({
            "action": strict_paper.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
            "type": strict_paper.ORDER_TYPE_SELL}),
    }
    for name, record in got.items():
        assert list(record._fields) == fields[name], name
    rates = strict_paper.copy_rates_from_pos("EURUSD", strict_paper.TIMEFRAME_H1, 0, 10)
    assert rates.dtype.names == mt5_api.RATES_DTYPE.names


def test_scenario_runs_unchanged_through_the_strict_fake(strict_paper: StrictTerminal) -> None:
    mt5 = strict_paper
    assert mt5.initialize()
    tick = mt5.symbol_info_tick("EURUSD")
    margin = mt5.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, tick.ask)
    request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
               "type": mt5.ORDER_TYPE_BUY, "price": tick.ask, "deviation": 10,
               "sl": round(tick.bid - 0.002, 5), "magic": 250001, "comment": "cmp-1",
               "type_filling": mt5.ORDER_FILLING_IOC, "type_time": mt5.ORDER_TIME_GTC}
    assert mt5.order_check(request).retcode == 0
    sent = mt5.order_send(request)
    assert sent.retcode == mt5.TRADE_RETCODE_DONE and margin > 0
    assert mt5.positions_get(symbol="EURUSD")[0].comment == "cmp-1"
    assert mt5.history_deals_get(position=sent.order)[0].comment == "cmp-1"
    assert mt5.history_orders_get(ticket=sent.order)[0].comment == "cmp-1"
    assert [c[0] for c in mt5.calls][:3] == ["initialize", "symbol_info_tick",
                                             "order_calc_margin"]


@pytest.mark.parametrize(("name", "args", "kwargs"), [
    ("copy_rates_from_pos", (), {"symbol": "EURUSD", "timeframe": 16385, "start_pos": 0,
                                  "count": 10}),
    ("positions_get", ("EURUSD",), {}),
    ("order_calc_margin", (0, "EURUSD"), {"volume": 0.1, "price": 1.1}),
    ("initialize", ("path", 123), {}),
    ("history_deals_get", (), {"date_from": 0, "date_to": 1}),
])
def test_strict_fake_rejects_calls_the_real_module_rejects(strict_paper: StrictTerminal,
                                                           name: str, args, kwargs) -> None:
    with pytest.raises(TypeError):
        getattr(strict_paper, name)(*args, **kwargs)
    with pytest.raises(TypeError):  # and the paper terminal rejects them the same way
        getattr(strict_paper._inner, name)(*args, **kwargs)
    assert strict_paper.calls == []


def test_strict_fake_answers_from_scripted_responses_without_a_terminal() -> None:
    fake = StrictTerminal(responses={"positions_total": 3, "last_error": lambda: (1, "Success")})
    assert fake.positions_total() == 3 and fake.last_error() == (1, "Success")
    assert fake.TRADE_RETCODE_DONE == 10009
    with pytest.raises(AttributeError):
        fake.buy("EURUSD")
