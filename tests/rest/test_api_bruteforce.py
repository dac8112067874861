"""Guessing the API's tokens (issue #15 items 1 and 7): a token too short to resist guessing is
refused at start; wrong tokens lock the client out before any token is compared, so a guesser
cannot halt trading; a rotating X-Forwarded-For does not make a loopback peer a new client."""

from __future__ import annotations

import logging
import string

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from agent.access import AuthThrottle, free_port
from agent.config import get_settings
from agent.domain import CompanionError
from channels.rest.auth import ApiTokens
from tests.rest.conftest import BASE, READ, TRADE, LiveApi, auth

HALT = {"reason": "a guesser"}


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("variable", "other"), [
    ("COMPANION_API_TOKEN", "COMPANION_API_TOKEN_READ"),
    ("COMPANION_API_TOKEN_READ", "COMPANION_API_TOKEN")])
def test_token_when_shorter_than_16_characters_then_refused_naming_the_variable(
        monkeypatch, variable, other):
    monkeypatch.setenv(variable, "tok9")
    monkeypatch.setenv(other, TRADE if other == "COMPANION_API_TOKEN" else READ)
    with pytest.raises(CompanionError) as refused:
        ApiTokens.from_env()
    assert refused.value.code == "api_weak_token"
    assert refused.value.message.startswith(f"{variable} is too short")
    assert "tok9" not in refused.value.message


def test_api_command_when_tokens_are_one_character_then_exits_1_with_one_sentence(
        tmp_path, monkeypatch):
    for name, value in (("COMPANION_DATA_DIR", str(tmp_path)), ("COMPANION_PAPER__SPEED", "0"),
                        ("COMPANION_CONFIG", str(tmp_path / "none.toml")),
                        ("COMPANION_API_TOKEN", "t"), ("COMPANION_API_TOKEN_READ", "r")):
        monkeypatch.setenv(name, value)
    def never(*args, **kwargs):
        raise AssertionError("the API started with one-character tokens")
    monkeypatch.setattr("channels.rest.server.api_server", never)
    get_settings.cache_clear()
    try:
        from channels.cli import app

        result = CliRunner().invoke(app, ["api", "--port", str(free_port())])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "COMPANION_API_TOKEN is too short" in result.output
    assert "at least 16 characters" in result.output


async def test_wrong_tokens_when_guessed_then_locked_out_and_even_the_trade_token_cannot_halt(
        api_factory, tokens, caplog):
    caplog.set_level(logging.WARNING, logger="agent.access")
    guesses = [c * 28 for c in string.ascii_lowercase]
    async with api_factory(tokens) as (companion, _, client):
        answers = [await client.post("/v1/risk/halt", json=HALT, headers=auth(g))
                   for g in guesses]
        right = await client.post("/v1/risk/halt", json=HALT, headers=auth(TRADE))
        read = await client.get("/v1/positions", headers=auth(READ))
        state = companion.desk.risk_state.current().trading_state.value
    codes = [a.status_code for a in answers]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert right.status_code == 429 and right.json()["code"] == "auth_locked"
    assert read.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 300
    assert state == "ACTIVE"
    assert "REST API: 10 failed attempts from 127.0.0.1" in caplog.text
    assert not any(g in caplog.text for g in (*guesses, TRADE, READ))


async def test_lockout_when_over_then_trade_token_works_and_other_clients_never_locked(
        api_factory, tokens):
    clock = Seconds()
    throttle = AuthThrottle(max_failures=3, window_s=60, lockout_s=120, clock=clock)
    async with api_factory(tokens, throttle=throttle) as (companion, app, client):
        wrong = [await client.get("/v1/positions", headers=auth("x" * 20)) for _ in range(4)]
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 5)),
                                  base_url=BASE)
        async with other:
            elsewhere = await other.get("/v1/positions", headers=auth(READ))
        clock.now += 121
        halted = await client.post("/v1/risk/halt", json=HALT, headers=auth(TRADE))
        state = companion.desk.risk_state.current().trading_state.value
    assert [w.status_code for w in wrong] == [401, 401, 401, 429]
    assert elsewhere.status_code == 200
    assert halted.status_code == 200 and state == "HALTED"


async def test_read_token_when_interleaved_with_guesses_then_does_not_reset_the_count(
        api_factory, tokens):
    throttle = AuthThrottle(max_failures=3, window_s=60, lockout_s=120)
    async with api_factory(tokens, throttle=throttle) as (_, _, client):
        codes = []
        for _ in range(3):
            codes.append((await client.get("/v1/positions", headers=auth(READ))).status_code)
            codes.append((await client.post("/v1/risk/halt", json=HALT,
                                             headers=auth("y" * 20))).status_code)
        after = await client.post("/v1/risk/halt", json=HALT, headers=auth(TRADE))
    assert codes == [200, 401, 200, 401, 200, 401]
    assert after.status_code == 429


async def test_tokens_of_16_characters_then_accepted(api_factory):
    tokens = ApiTokens(trade=SecretStr("t" * 16), read=SecretStr("r" * 16))
    async with api_factory(tokens) as (_, _, client):
        answer = await client.get("/v1/positions", headers=auth("r" * 16))
    assert answer.status_code == 200


@pytest.mark.slow
def test_rate_limit_when_forwarded_for_rotates_from_loopback_then_still_one_client(settings):
    with LiveApi(settings, ApiTokens(), rate_per_minute=3) as live, \
            httpx.Client(base_url=live.url) as http:
        codes = [http.get("/v1/positions", headers={"x-forwarded-for": f"203.0.113.{i}"})
                 .status_code for i in range(1, 6)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.slow
def test_wrong_tokens_when_forwarded_for_rotates_then_locked_out_all_the_same(settings, tokens):
    with LiveApi(settings, tokens) as live, httpx.Client(base_url=live.url) as http:
        codes = [http.post("/v1/risk/halt", json=HALT, headers={
            **auth(f"guess-{i:02d}-0123456789abcdef"), "x-forwarded-for": f"198.51.100.{i}"})
            .status_code for i in range(12)]
        right = http.post("/v1/risk/halt", json=HALT, headers={
            **auth(TRADE), "x-forwarded-for": "198.51.100.99"})
        state = live.companion.desk.risk_state.current().trading_state.value
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert right.status_code == 429 and state == "ACTIVE"


@pytest.mark.slow
def test_forwarded_for_when_proxy_is_trusted_then_each_client_has_its_own_limit(settings):
    with LiveApi(settings, ApiTokens(), rate_per_minute=1,
                 trusted_proxies=("127.0.0.1",)) as live, httpx.Client(base_url=live.url) as http:
        codes = [http.get("/v1/positions", headers={"x-forwarded-for": f"203.0.113.{i}"})
                 .status_code for i in (1, 2, 1)]
    assert codes == [200, 200, 429]
