"""`POST /companion/desk`: fresh desk figures for a trading desk element on screen.

The element asks every couple of seconds while it is shown (a closed side panel asks nothing
and is never reopened by an update). Signed-in pages only (Chainlit's session cookie, the same
check as its own routes); read-only: it reads the service and changes nothing.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from channels.web import cards, runtime
from channels.web.desk import desk_props, read_desk

PATH = "/companion/desk"


class DeskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: bool = False


def install(app: Any) -> None:
    """Add the route to Chainlit's FastAPI app (POST: Chainlit's page route is GET only).
    Its annotations are evaluated here, where Chainlit's auth dependency is imported."""
    from chainlit.auth import get_current_user
    from fastapi import Depends
    from fastapi.responses import JSONResponse

    @app.post(PATH)
    async def desk(request: DeskRequest,
                   user: Annotated[Any, Depends(get_current_user)]) -> Any:  # or 401
        try:
            return desk_props(await read_desk(await runtime.service()), phone=request.phone)
        except Exception as exc:
            return JSONResponse({"detail": cards.error_text(exc)}, status_code=503)
