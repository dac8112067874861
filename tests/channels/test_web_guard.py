"""The web chat's door, without a browser: secrets too short to start with, and the guard in
front of Chainlit (over a stand-in app) for relayed, foreign-origin and guessing requests.
The same attacks against the real app: tests/e2e/test_web_access.py."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agent.access import AuthThrottle
from agent.config import Settings, WebSettings
from agent.domain import CompanionError
from channels.web.guard import WebGuard
from channels.web.serve import login_password

PASSWORD = "a-long-web-password"
SECRET = "k" * 48


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def stand_in(scope, receive, send) -> None:
    """Chainlit's answers, roughly: /login checks the password, everything else says 200."""
    body = b""
    if scope["type"] == "http":
        message = await receive()
        body = message.get("body", b"")
    status = 401 if scope["path"] == "/login" and PASSWORD.encode() not in body else 200
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"set-cookie", b"access_token=t")] if status == 200 else []})
    await send({"type": "http.response.body", "body": b"{}"})


def client(guard: WebGuard, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard, client=(peer, 4000)),
                             base_url="http://127.0.0.1:8000")


@pytest.fixture
def local() -> WebGuard:
    return WebGuard(stand_in, throttle=AuthThrottle(), loopback_login=True)


@pytest.mark.parametrize(("variable", "password", "secret"), [
    ("COMPANION_WEB_PASSWORD", "hunter2", SECRET),
    ("CHAINLIT_AUTH_SECRET", PASSWORD, "short-signing-key")])
def test_password_or_signing_key_when_too_short_then_refuses_to_start_naming_it(
        monkeypatch, tmp_path, variable, password, secret):
    monkeypatch.setenv("COMPANION_WEB_PASSWORD", password)
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", secret)
    settings = Settings(data_dir=tmp_path, web=WebSettings(host="0.0.0.0"))
    with pytest.raises(CompanionError) as refused:
        login_password(settings)
    assert refused.value.code == "web_weak_secret"
    assert refused.value.message.startswith(f"{variable} is too short")
    assert password not in refused.value.message and secret not in refused.value.message


def test_login_password_mode_when_on_loopback_then_password_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPANION_WEB_PASSWORD", PASSWORD)
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", SECRET)
    settings = Settings(data_dir=tmp_path, web=WebSettings(login="password"))
    assert login_password(settings) == PASSWORD


def test_local_identity_when_relayed_by_a_proxy_then_refused(monkeypatch):
    from channels.web.serve import WEB_DIR, _local_identity

    monkeypatch.setenv("CHAINLIT_APP_ROOT", str(WEB_DIR))  # before Chainlit is imported

    identify = _local_identity()
    relayed = asyncio.run(identify({"host": "127.0.0.1:8000", "x-forwarded-for": "203.0.113.7"}))
    direct = asyncio.run(identify({"host": "127.0.0.1:8000"}))
    assert relayed is None and direct is not None


@pytest.mark.parametrize(("peer", "headers", "status"), [
    ("127.0.0.1", {}, 200),
    ("127.0.0.1", {"origin": "http://127.0.0.1:8000"}, 200),
    ("127.0.0.1", {"origin": "http://127.0.0.1:5173"}, 403),
    ("127.0.0.1", {"origin": "http://localhost:8000"}, 403),
    ("127.0.0.1", {"x-forwarded-for": "203.0.113.7"}, 401),
    ("127.0.0.1", {"forwarded": "for=203.0.113.7"}, 401),
    ("127.0.0.1", {"x-real-ip": "203.0.113.7"}, 401),
    ("192.168.1.20", {}, 401),
    ("127.0.0.1", {"host": "evil.example:8000"}, 403)])
async def test_header_login_when_not_a_local_browser_then_no_session(local, peer, headers, status):
    async with client(local, peer) as http:
        answer = await http.post("/auth/header", headers=headers)
    assert answer.status_code == status
    assert ("access_token" in answer.headers.get("set-cookie", "")) is (status == 200)


async def test_any_request_when_origin_is_another_port_then_403(local):
    async with client(local) as http:
        answers = [await http.request(method, path, headers={"origin": "http://127.0.0.1:9"})
                   for method, path in (("POST", "/project/action"), ("GET", "/project/threads"),
                                        ("GET", "/ws/socket.io/?EIO=4&transport=polling"))]
    assert [a.status_code for a in answers] == [403, 403, 403]


async def test_password_guesses_when_too_many_then_429_even_for_the_right_one_until_lockout_ends(
        caplog):
    clock = Clock()
    guard = WebGuard(stand_in, loopback_login=False, throttle=AuthThrottle(
        max_failures=3, window_s=60, lockout_s=120, what="web login", clock=clock))
    async with client(guard, "198.51.100.4") as http, client(guard, "198.51.100.5") as other:
        wrong = [await http.post("/login", data={"password": f"guess-{i}"}) for i in range(4)]
        right = await http.post("/login", data={"password": PASSWORD})
        elsewhere = await other.post("/login", data={"password": PASSWORD})
        clock.now += 121
        later = await http.post("/login", data={"password": PASSWORD})
    assert [w.status_code for w in wrong] == [401, 401, 401, 429]
    assert right.status_code == 429 and "access_token" not in right.headers.get("set-cookie", "")
    assert int(right.headers["retry-after"]) == 120
    assert elsewhere.status_code == 200 and later.status_code == 200
    assert "web login: 3 failed attempts from 198.51.100.4" in caplog.text
    assert PASSWORD not in caplog.text and "guess-" not in caplog.text
