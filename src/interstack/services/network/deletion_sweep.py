"""Ports and routers whose deletion a stopped gateway cut short, finished at start-up.

A port's or a router's deletion marks it (``deleting``, revision 0007) where it checks that it
may go, then asks the cloud, then forgets it. A gateway stopped in between left it marked:
shown as it was, taken by nothing, and finished only by someone deleting it again. At
start-up (backends started) each such row is finished as a repeated DELETE would finish it:
a port by the path that removes the gateway's own ports (its checks were made when it was
marked), a router by its deletion as the cloud's operator (a marked router took no interface
or floating IP since). Each step may be repeated, so a replica deleting one of them at the
same moment is no harm (as two DELETEs of it are not), and one it finished first is no warning.
A port the cloud refuses stays marked for the next start or DELETE; a router the cloud refuses
is the API's again, unmarked, as a refused DELETE leaves it (:meth:`RouterService.delete`); the
log says so. One query per table and region at each start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy import select

from interstack.errors import InterstackError, NotFound
from interstack.services.context import operator_context
from interstack.services.network.ports import PortService
from interstack.services.network.routers import RouterService
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Port, Router

log = logging.getLogger(__name__)


class DeletionSweep:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        ports: PortService,
        routers: RouterService,
        admin_project_id: str,
    ) -> None:
        self.db = db
        self.regions = regions
        self.ports = ports
        self.routers = routers
        self.admin_project_id = admin_project_id

    def ensure(self) -> None:
        """No port or router of any region is left marked by a deletion cut short."""
        operator = operator_context(self.admin_project_id)
        for region in self.regions.names:
            if "networks" not in self.regions.capabilities(region).names():
                continue
            with self.db.session() as session:
                ports = session.scalars(
                    select(Port.id)
                    .where(Port.region == region, Port.deleting.is_(True))
                    .order_by(Port.id)
                ).all()
                routers = session.scalars(
                    select(Router.id)
                    .where(Router.region == region, Router.deleting.is_(True))
                    .order_by(Router.id)
                ).all()
            for port_id in ports:
                self._finish(Port, port_id, region, partial(self.ports.remove, region, port_id))
            for router_id in routers:
                finish = partial(self.routers.delete, operator, region, router_id)
                self._finish(Router, router_id, region, finish)

    def _finish(
        self, model: type[Port] | type[Router], row_id: str, region: str, finish: Callable[[], None]
    ) -> None:
        kind = "port" if model is Port else "router"
        try:
            finish()
        except NotFound as exc:  # gone: another replica's sweep or DELETE finished it meanwhile
            with self.db.session() as session:
                there = session.scalar(select(model.id).where(model.id == row_id))
            if there is not None:  # a NotFound of something else (the cloud's)
                self._unfinished(kind, row_id, region, exc)
            else:
                log.info(
                    "region %s: the deletion of %s %s was finished meanwhile", region, kind, row_id
                )
        except InterstackError as exc:
            self._unfinished(kind, row_id, region, exc)
        else:
            log.info("region %s: finished the deletion of %s %s cut short", region, kind, row_id)

    @staticmethod
    def _unfinished(kind: str, row_id: str, region: str, exc: InterstackError) -> None:
        log.warning(
            "region %s: the deletion of %s %s cut short is not finished: %s",
            region,
            kind,
            row_id,
            exc.message,
        )
