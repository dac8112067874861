"""Dependencies every route declares: the service, and the scope it needs (auth + rate limit).

All `async def`: FastAPI runs plain `def` dependencies on its thread pool, a hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.access import Scope
from agent.service import CompanionService

_bearer = HTTPBearer(auto_error=False, description="COMPANION_API_TOKEN (trading) or "
                     "COMPANION_API_TOKEN_READ (read-only).")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


async def read_scope(request: Request, _: Credentials) -> Scope:
    return request.app.state.gate.admit(request, Scope.READ)


async def trade_scope(request: Request, _: Credentials) -> Scope:
    return request.app.state.gate.admit(request, Scope.TRADE)


async def _service(request: Request) -> CompanionService:
    return request.app.state.service


Read = Depends(read_scope)
Trade = Depends(trade_scope)
Service = Annotated[CompanionService, Depends(_service)]
Symbol = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9._#-]{1,19}$",
                             description="Symbol as the broker spells it, e.g. EURUSD.")]
