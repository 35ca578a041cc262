"""A project's network services over a started sim cloud (region ``R``), with a router and a
subnet of its own: the ground of the in-process race tests (tests/store), which run a
competing request from within a cloud call."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from interstack.backends.contract import Backend
from interstack.services.context import RequestContext
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.routers import RouterCreate
from interstack.services.network.service import NetworkServices
from interstack.services.network.subnets import SubnetCreate
from interstack.services.regions import Regions
from interstack.store import Database
from tests.support.image import caller

REGION = "R"


@dataclass(frozen=True)
class Routed:
    """The network services over the cloud, a project's caller, its router and a subnet."""

    services: NetworkServices
    ctx: RequestContext
    router_id: str
    subnet_id: str
    network_id: str


def routed_project(db: Database, cloud: Backend) -> Routed:
    """A new project's network (10.80.0.0/24, no DHCP) and router, over ``cloud``."""
    services = NetworkServices.build(db, Regions({REGION: cloud}))
    ctx = caller(uuid.uuid4().hex)
    network = services.networks.create(ctx, REGION, NetworkCreate(name="n"))
    subnet = services.subnets.create(
        ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.80.0.0/24", enable_dhcp=False)
    )
    router = services.routers.create(ctx, REGION, RouterCreate(name="r"))
    return Routed(services, ctx, router.id, subnet.id, network.id)


def meanwhile(request: Callable[[], object]) -> object:
    """What ``request`` answers (or raises), run as another request: its own thread, and so
    its own connections to the store."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        made = pool.submit(request)
        try:
            return made.result(timeout=60)
        except Exception as exc:  # what the request answered
            return exc
