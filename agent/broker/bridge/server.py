"""The REST bridge: the MetaTrader5 module's named functions over HTTP, and nothing else.

`create_bridge_app(terminal, tokens=..., journal=...)` serves, behind one auth gate:

- `POST /v1/call/<function>` for each function of `API_FUNCTIONS` (a fixed route per name with
  its own request model; no dynamic dispatch on user input, no eval, no file access; the
  terminal's own `path` argument is not accepted);
- `GET /v1/constants`: the module's constants, computed once;
- `GET /v1/health`: terminal state and the bridge's version (read scope).

Calls run one at a time on a single worker thread: the MetaTrader5 module is one IPC channel.
`order_send` needs an idempotency key and is answered from the journal when the key was seen.
A body larger than `max_body_bytes` is refused (413) before it is read. Beyond loopback the
bridge serves TLS only, unless the operator passes `insecure` (`--insecure`).
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from agent.access import AuthThrottle, BodyLimit, RateLimiter, Scope, is_loopback, proxy_options
from agent.broker import mt5_constants as C
from agent.broker.bridge.auth import BridgeTokens, Gate
from agent.broker.bridge.idempotency import Claim, IdempotencyStore
from agent.broker.bridge.models import MODELS, TRADE_FUNCTIONS, Initialize, OrderSend
from agent.broker.bridge.wire import (
    IDEMPOTENCY_HEADER,
    WIRE_VERSION,
    constants_of,
    dumps,
    encode_result,
    request_hash,
)
from agent.domain import CompanionError
from agent.store.journal import Journal

log = logging.getLogger("companion.bridge")

DEFAULT_RATE_LIMIT = 1200
DEFAULT_MAX_BODY_BYTES = 64 * 1024  # an order or a bars request is well under 1 KiB


def bridge_version() -> str:
    try:
        return version("trading-companion")
    except PackageNotFoundError:
        return "dev"


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json",
                    headers=headers)


def create_bridge_app(terminal: Any, *, tokens: BridgeTokens, journal: Journal,
                      rate_limit_per_minute: int = DEFAULT_RATE_LIMIT,
                      now: Callable[[], float] = time.time,
                      health_symbol: str = "EURUSD",
                      max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                      throttle: AuthThrottle | None = None) -> FastAPI:
    """The bridge over `terminal` (the MetaTrader5 module or anything with its API).

    `now` is the clock the last tick's age is measured against (the paper terminal's own clock
    when serving paper); `throttle` counts wrong tokens per client (default: 10 a minute lock
    a client out for 5 minutes). Raises CompanionError if `tokens` is unusable.
    """
    if not isinstance(tokens, BridgeTokens):
        raise CompanionError("bridge_no_token", "The bridge will not start without a token.")
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mt5-bridge")
    functions = {name: getattr(terminal, name) for name in MODELS}  # the whitelist, fixed here
    store = IdempotencyStore(journal)
    constants = dumps(constants_of(terminal))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        worker.shutdown(wait=True)

    app = FastAPI(title="MT5 REST bridge", version=bridge_version(), lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.close = worker.shutdown  # for hosts that mount the app without its lifespan

    async def on_worker(job: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(worker, job, *args)

    def call(name: str, body: BaseModel) -> dict[str, Any]:
        args, kwargs = body.arguments()
        try:
            value = functions[name](*args, **kwargs)
            error = tuple(terminal.last_error())
        except Exception as exc:  # noqa: BLE001  (the module raised: report a failed call)
            log.warning("%s raised %s", name, type(exc).__name__)
            value = None
            error = (C.RES_E_INTERNAL_FAIL, f"The terminal raised {type(exc).__name__} in {name}")
        return {"result": encode_result(name, value), "last_error": list(error)}

    def send_once(body: OrderSend, key: str) -> tuple[dict[str, Any], bool]:
        claim = store.claim(key, request_hash(body.request.as_dict()))
        if claim.claim is Claim.REPLAY:
            return claim.stored, True
        if claim.claim is Claim.CONFLICT:
            raise _Refused(409, "idempotency_conflict", "This idempotency key was already used "
                           "for a different order; nothing was sent.")
        if claim.claim is Claim.IN_DOUBT:
            raise _Refused(409, "in_doubt", "An order with this idempotency key was sent "
                           "earlier but its result was never recorded; nothing was sent again. "
                           "Look the order up by its comment.")
        answer = call("order_send", body)
        if answer["last_error"][0] == C.RES_E_INTERNAL_FAIL and answer["result"] is None:
            return answer, False  # outcome unknown: the key stays pending (in doubt)
        store.record(key, answer)
        return answer, False

    def route(name: str, model: type[BaseModel]) -> Callable[..., Any]:
        async def endpoint(request: Request, body: model) -> Response:  # type: ignore[valid-type]
            try:
                if isinstance(body, Initialize) and body.has_credentials and (
                        request.state.token_scope is not Scope.TRADE):
                    raise _Refused(403, "forbidden", "Logging in to an account needs the trade "
                                   "token.")
                if isinstance(body, OrderSend):
                    key = _idempotency_key(request, body)
                    answer, replayed = await on_worker(send_once, body, key)
                    return _json(answer, headers={"Idempotent-Replayed": str(replayed).lower()})
                return _json(await on_worker(call, name, body))
            except _Refused as refused:
                return _json({"error": refused.code, "message": refused.message},
                             refused.status)

        endpoint.__name__ = name
        return endpoint

    for name, model in MODELS.items():
        app.post(f"/v1/call/{name}", name=name)(route(name, model))

    @app.get("/v1/constants")
    async def get_constants() -> Response:
        return Response(constants, media_type="application/json")

    def health_now(symbol: str) -> dict[str, Any]:
        info = functions["terminal_info"]()
        tick = functions["symbol_info_tick"](symbol)
        tick_time = (tick.time_msc / 1000 if tick.time_msc else tick.time) if tick else None
        return {
            "bridge_version": bridge_version(), "wire_version": WIRE_VERSION,
            "connected": bool(info and info.connected),
            "trade_allowed": bool(info and info.trade_allowed),
            "ping_ms": info.ping_last / 1000 if info else None,
            "build": info.build if info else None, "symbol": symbol,
            "last_tick_time": tick_time,
            "last_tick_age_s": round(now() - tick_time, 3) if tick_time else None,
        }

    @app.get("/v1/health")
    async def health(symbol: str = Query(health_symbol, min_length=1,
                                         max_length=64)) -> Response:
        try:
            return _json(await on_worker(health_now, symbol))
        except Exception as exc:  # noqa: BLE001  (health must answer even then)
            log.warning("health check raised %s", type(exc).__name__)
            return _json({"bridge_version": bridge_version(), "wire_version": WIRE_VERSION,
                          "connected": False, "error": "The terminal did not answer."}, 503)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        fields = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
                  for e in exc.errors()]  # never echo the input: it may hold a password
        return _json({"error": "bad_request", "message": "The request body does not fit this "
                      "function's arguments.", "fields": fields}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return _json({"error": "http_error", "message": str(exc.detail)}, exc.status_code,
                     headers=getattr(exc, "headers", None))

    limiter = RateLimiter(rate_limit_per_minute)
    app.add_middleware(Gate, tokens=tokens, limiter=limiter, trade_functions=TRADE_FUNCTIONS,
                       throttle=throttle or AuthThrottle(what="bridge"))
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, refusal=_too_large)
    return app


def _too_large(limit: int) -> bytes:
    return dumps({"error": "too_large", "message": f"The request body is larger than {limit} "
                  "bytes."})


def _idempotency_key(request: Request, body: OrderSend) -> str:
    header = request.headers.get(IDEMPOTENCY_HEADER)
    if header is not None and body.idempotency_key is not None and header != (
            body.idempotency_key):
        raise _Refused(400, "idempotency_key_mismatch", "The Idempotency-Key header and the "
                       "body's idempotency_key differ.")
    key = header if header is not None else body.idempotency_key
    if not key or len(key) > 64 or not key.isascii() or not key.isprintable() or " " in key:
        raise _Refused(400, "idempotency_key_required", "order_send needs an idempotency key "
                       "(1 to 64 printable ASCII characters) in the Idempotency-Key header or "
                       "the idempotency_key field.")
    return key


# -- serving ------------------------------------------------------------------------------------

def uvicorn_config(app: FastAPI, host: str, port: int, *, certfile: str | None = None,
                   keyfile: str | None = None, insecure: bool = False,
                   trusted_proxies: Sequence[str] = ()) -> uvicorn.Config:
    """The server settings (after `check_transport`, whose warning is logged). Forwarded
    headers name the client only from `trusted_proxies`."""
    warning = check_transport(host, certfile=certfile, keyfile=keyfile, insecure=insecure)
    if warning:
        log.warning("%s", warning)
    return uvicorn.Config(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile,
                          access_log=False, log_level="warning", lifespan="on",
                          **proxy_options(trusted_proxies))


def check_transport(host: str, *, certfile: str | None, keyfile: str | None,
                    insecure: bool) -> str | None:
    """Refuse plain HTTP beyond loopback unless `insecure`; then return the warning to log."""
    if (certfile is None) != (keyfile is None):
        raise CompanionError("bridge_tls", "TLS needs both a certificate and a key file.")
    if certfile is not None or is_loopback(host):
        return None
    if not insecure:
        raise CompanionError("bridge_tls_required", f"The bridge will not listen on {host} "
                             "without TLS (tokens and orders would cross the network in clear "
                             "text): pass --cert and --key, bind it to 127.0.0.1 behind a "
                             "tunnel, or pass --insecure on a network you trust.")
    return (f"The bridge is listening on {host} without TLS (--insecure): tokens and orders "
            "cross the network in clear text.")


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0,
                    **tls: Any) -> Iterator[str]:
    """Run the bridge in a background thread; yields its base URL; stops it on exit."""
    server = uvicorn.Server(uvicorn_config(app, host, port, **tls))
    thread = threading.Thread(target=server.run, name="bridge-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CompanionError("bridge_start", "The bridge server did not start.")
        time.sleep(0.005)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if tls.get("certfile") else "http"
    try:
        yield f"{scheme}://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
