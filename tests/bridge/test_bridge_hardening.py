"""The bridge against a stranger (issue #15 item 6): an oversized body is refused before it is
read, wrong tokens lock the client out, plain HTTP beyond loopback needs --insecure, the client
warns before its token goes over plain http, and an untrusted certificate reads as such."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from agent.access import AuthThrottle
from agent.broker.bridge.client import Mt5RestClient
from agent.broker.bridge.server import check_transport, create_bridge_app, serve_in_thread
from agent.broker.manager import TerminalManager, open_terminal
from agent.broker.paper import PaperTerminal
from agent.config import BrokerSettings, PaperSettings, Settings
from agent.domain import CompanionError
from channels.cli_bridge import bridge_app
from tests.bridge.conftest import READ_TOKEN, TOKENS, TRADE_TOKEN
from tests.bridge.helpers import market_buy


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_body_when_larger_than_limit_then_413_before_it_is_read_and_nothing_sent(
        paper: Any) -> None:
    url = str(paper.client._http.base_url).rstrip("/")
    order = {"request": market_buy(paper.inner, "big-1"), "padding": "x" * 200_000}
    declared = httpx.post(f"{url}/v1/call/order_send", json=order,
                          headers={**bearer(TRADE_TOKEN), "Idempotency-Key": "big-1"})
    streamed = httpx.post(f"{url}/v1/call/order_send",
                          content=(b"x" * 16_384 for _ in range(16)),
                          headers={**bearer(TRADE_TOKEN), "Idempotency-Key": "big-2",
                                   "Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"
    assert paper.inner.positions_get() == ()


def test_wrong_tokens_when_guessed_then_locked_out_and_even_the_trade_token_cannot_send(
        make_paper: Any, bridge_for: Any, paper_journal: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.access")
    term = make_paper().inner
    url, _ = bridge_for(term, paper_journal, throttle=AuthThrottle(what="bridge"))
    guesses = [f"guess-{i:02d}-0123456789abcdef" for i in range(12)]
    codes = [httpx.post(f"{url}/v1/call/version", json={}, headers=bearer(g)).status_code
             for g in guesses]
    send = httpx.post(f"{url}/v1/call/order_send", json={"request": market_buy(term, "lk-1")},
                      headers={**bearer(TRADE_TOKEN), "Idempotency-Key": "lk-1"})
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert send.status_code == 429 and send.json()["error"] == "auth_locked"
    assert 1 <= int(send.headers["retry-after"]) <= 300
    assert term.positions_get() == ()
    assert "bridge: 10 failed attempts from 127.0.0.1" in caplog.text
    assert not any(secret in caplog.text for secret in (*guesses, TRADE_TOKEN))


def test_plain_http_when_beyond_loopback_then_refused_unless_insecure(
        caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(CompanionError) as refused:
        check_transport("0.0.0.0", certfile=None, keyfile=None, insecure=False)
    assert refused.value.code == "bridge_tls_required" and "--insecure" in refused.value.message
    assert "clear text" in (check_transport("0.0.0.0", certfile=None, keyfile=None,
                                            insecure=True) or "")
    assert check_transport("127.0.0.1", certfile=None, keyfile=None, insecure=False) is None


def test_bridge_serve_when_public_host_without_tls_then_exits_1_with_one_sentence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any) -> None:
        raise AssertionError("the bridge started on 0.0.0.0 without TLS")
    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", TRADE_TOKEN)
    monkeypatch.setattr("uvicorn.Server.run", never)
    result = CliRunner().invoke(bridge_app, ["serve", "--paper", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "will not listen on 0.0.0.0 without TLS" in result.output
    assert TRADE_TOKEN not in result.output


def test_client_when_plain_http_beyond_loopback_then_warns_once_before_sending(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.broker.bridge.client")
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(caplog.text)
        return httpx.Response(200, json={"result": [500, 4000, "01 Jan 2026"],
                                         "last_error": [1, "Success"]})

    client = Mt5RestClient("http://192.0.2.10:8765", TRADE_TOKEN,
                           transport=httpx.MockTransport(answer))
    client.version()
    client.version()
    local = Mt5RestClient("http://127.0.0.1:8765", TRADE_TOKEN,
                          transport=httpx.MockTransport(answer))
    local.version()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "plain http" in warnings[0].getMessage()
    assert "192.0.2.10" in seen[0]  # the warning was out before the first request left
    assert TRADE_TOKEN not in caplog.text


# -- TLS trust ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bridge.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "bridge.pem", folder / "bridge.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_bridge(self_signed: tuple[Path, Path], paper_journal: Any) -> Any:
    term = PaperTerminal(paper_journal, PaperSettings(speed=0))
    term.initialize()
    app = create_bridge_app(term, tokens=TOKENS, journal=paper_journal)
    cert, key = self_signed
    with serve_in_thread(app, certfile=str(cert), keyfile=str(key)) as url:
        yield url
    app.state.close()


def test_tls_when_certificate_untrusted_then_says_so_not_terminal_down(tls_bridge: str) -> None:
    client = Mt5RestClient(tls_bridge, READ_TOKEN, retries=0)
    with pytest.raises(CompanionError) as failed:
        TerminalManager(client, BrokerSettings(), password_provider=lambda: None).connect()
    client.close()
    assert "TLS certificate is not trusted" in failed.value.message
    assert "broker.rest_ca_file" in failed.value.message
    assert "not running" not in failed.value.message


def test_tls_when_ca_file_configured_then_connects(tls_bridge: str, self_signed: Any,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", READ_TOKEN)
    settings = Settings(data_dir=tmp_path, broker=BrokerSettings(
        kind="rest", rest_url=tls_bridge, rest_ca_file=self_signed[0]))
    client = open_terminal(settings, None)  # type: ignore[arg-type]
    try:
        TerminalManager(client, settings.broker, password_provider=lambda: None).connect()
        assert client.symbol_info_tick("EURUSD") is not None
    finally:
        client.close()
