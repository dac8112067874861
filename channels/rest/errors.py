"""One mapping from errors to JSON bodies `{code, message}`: never a stack trace.

`CompanionError` codes pick the HTTP status; validation errors are 422 with the first problem
in a sentence; anything unexpected is logged and answered 500 with a generic sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from agent.domain import CompanionError
from channels.rest.auth import ApiRefusal

log = logging.getLogger("channels.rest")

_NOT_FOUND = {"ticket_unknown", "alert_unknown", "unknown_symbol", "position_unknown",
              "order_unknown", "paper_no_data", "event_unknown"}
_UNAVAILABLE = {"disconnected", "terminal_error", "connect_failed", "bridge_unreachable",
                "no_price", "not_available", "no_model", "no_model_answered", "no_news_source",
                "not_started"}
_CONFLICT = {"too_many_alerts", "ticket_pending", "risk_denied"}


def status_for(code: str) -> int:
    """The HTTP status of a domain error code."""
    if code in _NOT_FOUND:
        return 404
    if code in _UNAVAILABLE:
        return 503
    if code in _CONFLICT or code.startswith("ticket_"):
        return 409  # expired, used, claimed, rejected, stale, tampered: refused, nothing sent
    return 400


def error_body(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def json_error(status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CompanionError)
    if isinstance(exc, ApiRefusal):
        return json_error(exc.status, exc.code, exc.message, exc.headers)
    return json_error(status_for(exc.code), exc.code, exc.message)


def validation_sentence(problems: Sequence[Any]) -> str:
    """The first problem of a validation error (pydantic's `errors()`) in one sentence:
    where, then what (`volume: Input should be greater than 0.`)."""
    first = problems[0] if problems else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"{where}: {first.get('msg', 'invalid value')}."


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return json_error(422, "invalid_request", validation_sentence(exc.errors()))


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    return json_error(exc.status_code, code, message, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path,
              exc_info=exc)
    return json_error(500, "internal_error", "Something went wrong on our side; the error was "
                      "logged. Check the state (tickets, positions) before retrying.")


def install(app: FastAPI) -> None:
    """Register the mapping once for the whole app."""
    app.add_exception_handler(CompanionError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
