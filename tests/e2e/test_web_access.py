"""Who gets into the web chat (issue #15 items 2 and 3), against the real app in its own process.

Loopback bind (no password): a request relayed by a proxy, a page on another localhost port, or
a socket.io handshake from another origin gets no session and no connection, so nothing can be
asked of the companion and no ticket is minted. Password login: wrong passwords lock the client
out, and then even the right password gets 429 and no session.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import websockets

from agent.access import free_port
from agent.store import Journal
from tests.e2e.conftest import web_app

pytestmark = pytest.mark.slow

PASSWORD = "a-long-web-password-for-tests"
SECRET = "chainlit-signing-key-for-the-access-tests-0123456789"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with web_app(tmp_path_factory.mktemp("web-local"), "--policy", "demo") as app:
        yield app


def session_cookie(answer: httpx.Response) -> bool:
    return "access_token" in answer.headers.get("set-cookie", "")


def tickets(app) -> list[dict]:
    journal = Journal(app.data_dir / "journal.db")
    try:
        return journal.rows("tickets")
    finally:
        journal.close()


def handshake(app, **headers: str) -> httpx.Response:
    """The first request of a socket.io client (engine.io polling open)."""
    return httpx.get(f"{app.url}/ws/socket.io/?EIO=4&transport=polling", headers=headers)


@pytest.mark.parametrize("relay", [{"x-forwarded-for": "203.0.113.7"},
                                   {"forwarded": "for=203.0.113.7;proto=https"},
                                   {"x-real-ip": "203.0.113.7"}])
def test_header_login_when_relayed_by_a_proxy_for_a_remote_client_then_no_session(local, relay):
    host = local.url.removeprefix("http://")
    relayed = httpx.post(f"{local.url}/auth/header", headers={"host": host, **relay})
    direct = httpx.post(f"{local.url}/auth/header", headers={"host": host})
    assert relayed.status_code == 401 and not session_cookie(relayed)
    assert direct.status_code == 200 and session_cookie(direct)  # the trader's own browser


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{other}", "http://localhost:{other}",
                                    "null"])
def test_header_login_when_origin_is_another_page_then_403_and_no_session(local, origin):
    answer = httpx.post(f"{local.url}/auth/header",
                        headers={"origin": origin.format(other=free_port())})
    own = httpx.post(f"{local.url}/auth/header", headers={"origin": local.url})
    assert answer.status_code == 403 and not session_cookie(answer)
    assert own.status_code == 200 and session_cookie(own)


def test_header_login_when_host_is_a_rebound_name_then_403(local):
    answer = httpx.post(f"{local.url}/auth/header", headers={"host": "evil.example:8000"})
    assert answer.status_code == 403 and not session_cookie(answer)


def test_socketio_when_origin_is_another_port_then_refused_even_with_the_trader_cookie(local):
    signed_in = httpx.post(f"{local.url}/auth/header")
    cookie = f"access_token={signed_in.cookies['access_token']}"
    foreign = f"http://127.0.0.1:{free_port()}"
    polling = handshake(local, origin=foreign, cookie=cookie)
    own = handshake(local, origin=local.url, cookie=cookie)

    async def websocket(origin: str) -> int:
        url = local.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"
        try:
            async with websockets.connect(url, origin=origin,
                                          additional_headers={"cookie": cookie}) as ws:
                await ws.recv()
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert polling.status_code == 403 and '"sid"' not in polling.text
    assert "access-control-allow-origin" not in polling.headers
    assert asyncio.run(websocket(foreign)) == 403
    assert own.status_code == 200 and '"sid"' in own.text
    assert asyncio.run(websocket(local.url)) == 101


ATTACK = """<!doctype html><script>
const target = "%s";
window.report = {login: "pending", socket: "pending"};
fetch(target + "/auth/header", {method: "POST", credentials: "include"})
  .then(r => { window.report.login = "answered " + r.status; },
        () => { window.report.login = "blocked"; });
const ws = new WebSocket(target.replace("http", "ws") + "/ws/socket.io/?EIO=4&transport=websocket");
ws.onopen = () => {
  window.report.socket = "open";
  ws.send('40{"sessionId":"attacker","clientType":"webapp"}');
  ws.send('42["client_message",{"message":{"output":"/buy EURUSD 0.1 sl 1.1100 tp 1.1220"}}]');
};
ws.onerror = () => { window.report.socket = "refused"; };
</script>"""


@pytest.fixture
def attacker(local) -> Iterator[str]:
    """A page on another localhost port that tries to sign in to the chat and talk to it."""
    page = (ATTACK % local.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_page_on_another_localhost_port_then_no_session_no_socket_and_no_ticket(
        local, attacker, page):
    page.goto(attacker)
    page.wait_for_function("window.report.login !== 'pending' && "
                           "window.report.socket !== 'pending'")
    report = page.evaluate("window.report")
    cookies = [c["name"] for c in page.context.cookies(local.url)]
    assert report == {"login": "blocked", "socket": "refused"}
    assert "access_token" not in cookies
    assert tickets(local) == []


def test_password_login_when_guessed_then_locked_out_and_right_password_gets_no_session(
        tmp_path):
    env = {"COMPANION_WEB_PASSWORD": PASSWORD, "CHAINLIT_AUTH_SECRET": SECRET}
    with web_app(tmp_path, "--login", "password", env=env) as app:
        guesses = [f"guess-number-{i:03d}" for i in range(12)]
        answers = [httpx.post(f"{app.url}/login", data={"username": "trader", "password": g})
                   for g in guesses]
        right = httpx.post(f"{app.url}/login", data={"username": "trader", "password": PASSWORD})
        header = httpx.post(f"{app.url}/auth/header")
    log = app.log.read_text()
    assert [a.status_code for a in answers] == [401] * 10 + [429, 429]
    assert right.status_code == 429 and not session_cookie(right)
    assert 1 <= int(right.headers["retry-after"]) <= 300
    assert header.status_code >= 400 and not session_cookie(header)
    assert "web login: 10 failed attempts from 127.0.0.1" in log
    assert not any(secret in log for secret in (*guesses, PASSWORD, SECRET))


def test_password_login_when_right_then_session(tmp_path):
    env = {"COMPANION_WEB_PASSWORD": PASSWORD, "CHAINLIT_AUTH_SECRET": SECRET}
    with web_app(tmp_path, "--login", "password", env=env) as app:
        wrong = httpx.post(f"{app.url}/login", data={"username": "trader", "password": "nope"})
        right = httpx.post(f"{app.url}/login", data={"username": "trader", "password": PASSWORD})
    assert wrong.status_code == 401 and not session_cookie(wrong)
    assert right.status_code == 200 and session_cookie(right)
