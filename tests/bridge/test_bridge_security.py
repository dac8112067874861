"""Who may call the bridge, and what a stranger or a malformed body gets: 4xx, never a trade."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.access import AuthThrottle
from agent.broker.bridge.auth import BridgeTokens
from agent.broker.bridge.client import Mt5RestClient
from agent.broker.bridge.models import MODELS
from agent.broker.bridge.server import create_bridge_app
from agent.domain import CompanionError
from tests.bridge.conftest import READ_TOKEN, TOKENS, TRADE_TOKEN
from tests.bridge.helpers import market_buy


def url_of(paper: Any) -> str:
    return str(paper.client._http.base_url).rstrip("/")


def send_raw(paper: Any, token: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": "sec-1"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{url_of(paper)}/v1/call/order_send", headers=headers,
                      json={"request": market_buy(paper.inner, "sec-1")})


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong-token-0123456789", 401),
                                               (READ_TOKEN, 403)])
def test_order_send_without_trade_token_then_refused_and_nothing_sent(
        paper: Any, token: str | None, status: int) -> None:
    assert send_raw(paper, token).status_code == status
    assert paper.inner.positions_get() == ()


def test_read_token_client_reads_but_cannot_trade(paper: Any) -> None:
    reader = Mt5RestClient(url_of(paper), READ_TOKEN)
    assert reader.symbol_info_tick("EURUSD") == paper.inner.symbol_info_tick("EURUSD")
    assert reader.order_check(market_buy(reader, "chk")).retcode == 0
    assert reader.order_send(market_buy(reader, "read-1")) is None
    assert reader.last_error()[0] == reader.RES_E_AUTH_FAILED
    assert reader.shutdown() is None and paper.inner.account_info() is not None
    assert reader.initialize(login=1, password="pw") is False
    assert paper.inner.positions_get() == ()


def test_unknown_function_then_404_and_no_token_then_401_first(paper: Any) -> None:
    auth = {"Authorization": f"Bearer {TRADE_TOKEN}"}
    assert httpx.post(f"{url_of(paper)}/v1/call/eval", json={}, headers=auth).status_code == 404
    assert httpx.post(f"{url_of(paper)}/v1/call/eval", json={}).status_code == 401
    assert httpx.get(f"{url_of(paper)}/docs", headers=auth).status_code == 404


def test_bridge_without_any_token_refuses_to_start() -> None:
    with pytest.raises(CompanionError, match="will not start without a token"):
        BridgeTokens()


def test_rate_limit_per_token_then_429(make_paper: Any, bridge_for: Any,
                                       paper_journal: Any) -> None:
    url, _ = bridge_for(make_paper().inner, paper_journal, rate_limit=3)
    auth = {"Authorization": f"Bearer {READ_TOKEN}"}
    codes = [httpx.post(f"{url}/v1/call/version", json={}, headers=auth).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = {"Authorization": f"Bearer {TRADE_TOKEN}"}
    assert httpx.post(f"{url}/v1/call/version", json={}, headers=other).status_code == 200


def test_request_logs_never_show_tokens_or_passwords(paper: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="companion.bridge")
    paper.client.login(5_000_001, password="hunter2-password")
    send_raw(paper, "wrong-token-0123456789")
    deadline = time.monotonic() + 5  # the gate logs just after the reply leaves
    while "invalid" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    text = caplog.text
    assert "/v1/call/login" in text and "invalid" in text
    for secret in (TRADE_TOKEN, "wrong-token-0123456789", "hunter2-password"):
        assert secret not in text


def test_validation_error_never_echoes_the_password(paper: Any) -> None:
    answer = httpx.post(f"{url_of(paper)}/v1/call/login", json={"password": "hunter2-pw"},
                        headers={"Authorization": f"Bearer {TRADE_TOKEN}"})
    assert answer.status_code == 422 and "hunter2" not in answer.text


# -- fuzzing every endpoint ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=4),
    max_leaves=12)


def bodies(model: Any) -> st.SearchStrategy[Any]:
    """Bodies near the model (its own field names, any JSON values) and anything at all."""
    fields = list(model.model_fields)
    near = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)) if fields \
        else st.just({})
    request_like = st.fixed_dictionaries({"request": st.dictionaries(
        st.sampled_from(["action", "symbol", "volume", "price", "sl", "type", "comment"]),
        json_values, max_size=7)})
    return st.one_of(near, request_like, json_values)


FUZZED = {"cases": 0}


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agent.broker.paper import PaperTerminal
    from agent.config import PaperSettings
    from agent.store.journal import Journal

    journal = Journal(tmp_path_factory.mktemp("fuzz") / "journal.db")
    term = PaperTerminal(journal, PaperSettings(speed=0))
    term.initialize()
    app = create_bridge_app(term, tokens=TOKENS, journal=journal, rate_limit_per_minute=10**9,
                            throttle=AuthThrottle(max_failures=10**9))  # wrong tokens are drawn
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    print(f"\nfuzzed bridge requests: {FUZZED['cases']}")


@pytest.mark.parametrize("function", [*MODELS, "no_such_function"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_bodies_then_4xx_or_200_never_5xx(fuzz_client: Any, function: str,
                                                 data: st.DataObject) -> None:
    model = MODELS.get(function, MODELS["version"])
    body = data.draw(bodies(model))
    token = data.draw(st.sampled_from([TRADE_TOKEN, READ_TOKEN, "nope-0123456789abcdef"]))
    raw = data.draw(st.booleans())
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key":
               data.draw(st.sampled_from(["fz-1", "fz-2", "fz-3"]))}
    if raw:
        answer = fuzz_client.post(f"/v1/call/{function}", headers=headers,
                                  content=data.draw(st.binary(max_size=64)))
    else:
        answer = fuzz_client.post(f"/v1/call/{function}", headers={
            **headers, "Content-Type": "application/json"}, content=json.dumps(body))
    FUZZED["cases"] += 1
    assert answer.status_code < 500, answer.text
    if answer.status_code == 200:
        assert "raised" not in answer.json()["last_error"][1], (function, body)
