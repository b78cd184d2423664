"""The `Gateway` of an app, as a FastAPI dependency (`GatewayDep`).

One `Gateway` per app, over the container's router: it keeps the routers it derives for
gateway model names, and so their circuit breakers, across requests. It is made on first use
and kept on `app.state`; two first requests at once may each make one, and the later simply
replaces the earlier (nothing but a breaker's memory of a few failures is lost).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.deps import ContainerDep
from pipelines.chat import Gateway


async def get_gateway(request: Request, container: ContainerDep) -> Gateway:
    """The app's gateway over `container.llm_router`."""
    gateway = getattr(request.app.state, "chat_gateway", None)
    if not isinstance(gateway, Gateway) or gateway.base is not container.llm_router:
        gateway = Gateway(container.llm_router)
        request.app.state.chat_gateway = gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
