"""Dependencies shared by every service's routes: the services container and the caller."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from interstack.errors import Unauthorized
from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.identity.auth import context_of


# Dependencies are ``async`` so that FastAPI does not send each one through its thread pool;
# anything that may block (the store) is sent there explicitly.
async def get_services(request: Request) -> Services:
    return services_of(request)


def services_of(request: Request) -> Services:
    """The gateway's services, which the app factory left in the app's state."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def require_caller(request: Request) -> RequestContext:
    """The validated caller of this request; 401 without a valid ``X-Auth-Token``."""
    token = request.headers.get("x-auth-token")
    if not token:
        raise Unauthorized("The request you have made requires authentication.")
    services = services_of(request)
    cached = services.auth.cached(token)
    if cached is not None:
        caller = context_of(cached)
    else:
        caller = await run_in_threadpool(services.auth.context, token)
    # the id the response carries, so that records (instance actions) can be found by it
    return replace(caller, request_id=getattr(request.state, "request_id", ""))


Caller = Annotated[RequestContext, Depends(require_caller)]
