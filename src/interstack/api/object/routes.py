"""The Swift route table: every object storage path served, in one place."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from interstack.api.faults import FaultFormats, swift_fault
from interstack.api.object import accounts, containers, info, objects
from interstack.api.object.middleware import TransIdMiddleware
from interstack.api.regional import register_faults
from interstack.api.routing import Route, add_routes
from interstack.services.catalog import PROJECT_ID, ServiceSpec

SERVICE = ServiceSpec(type="object-store", name="swift", path=f"object/v1/AUTH_{PROJECT_ID}")

ACCOUNT = "/v1/{account}"
CONTAINER = "/v1/{account}/{container}"
OBJECT = "/v1/{account}/{container}/{name:path}"

ROUTES: list[Route] = [
    Route("GET", "/info", info.show_info),
    # account (``/account/`` is the account too, as in Swift)
    *(
        route
        for path in (ACCOUNT, ACCOUNT + "/")
        for route in (
            Route("GET", path, accounts.show_account),
            Route("HEAD", path, accounts.head_account, status=204),
            Route("POST", path, accounts.post_account, status=204),
        )
    ),
    # container (``/container/`` is the container too)
    *(
        route
        for path in (CONTAINER, CONTAINER + "/")
        for route in (
            Route("GET", path, containers.list_objects),
            Route("HEAD", path, containers.head_container, status=204),
            Route("PUT", path, containers.create_container, status=201),
            Route("POST", path, containers.post_container, status=204),
            Route("DELETE", path, containers.delete_container, status=204),
        )
    ),
    # object
    Route("GET", OBJECT, objects.get_object),
    Route("HEAD", OBJECT, objects.head_object),
    Route("PUT", OBJECT, objects.put_object, status=201),
    Route("POST", OBJECT, objects.post_object, status=202),
    Route("DELETE", OBJECT, objects.delete_object, status=204),
    Route("COPY", OBJECT, objects.copy_object, status=201),
]

#: swiftclient looks for ``/info`` at the root of the storage URL's host
ROOT_ROUTES: list[Route] = [Route("GET", "/info", info.show_info)]


def add_to(router: APIRouter) -> None:
    add_routes(router, ROUTES, prefix="/{region}/object")
    add_routes(router, ROOT_ROUTES)


def register(formats: FaultFormats, regions: list[str]) -> None:
    """Swift's plain HTML faults under every region's ``/object`` and at ``/info``."""
    register_faults(formats, regions, SERVICE, swift_fault)
    formats.register("/info", swift_fault)


def mount(app: FastAPI, formats: FaultFormats, regions: list[str]) -> None:
    """Serve Swift on ``app``: its routes, its fault format, ``X-Trans-Id`` on every answer."""
    app.add_middleware(TransIdMiddleware)
    register(formats, regions)
    add_to(app.router)
