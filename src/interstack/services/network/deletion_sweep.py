"""Ports and routers whose deletion a stopped gateway cut short, finished by the task runner.

A port's or a router's deletion marks it (``deleting``, revision 0007) where it checks that it
may go, then asks the cloud, then forgets it. A gateway stopped in between left it marked:
shown as it was, taken by nothing, and finished only by someone deleting it again. At
start-up each such row gets a task (one query per table and region, none for a row that has
one pending or running), and the task runner finishes it as a repeated DELETE would: a port
by the path that removes the gateway's own ports (its checks were made when it was marked), a
router by its deletion as the cloud's operator (a marked router took no interface or floating
IP since). Start-up asks no cloud, so a cloud that hangs or raises what the gateway does not
map delays or stops nothing but its task (before, the sweep ran inline at start-up).

Each step may be repeated, so a replica deleting one of them at the same moment is no harm
(as two DELETEs of it are not), and one finished first (gone, or no longer marked) is done,
no warning. A port the cloud refuses stays marked: its task is retried as other tasks are (a
cloud unavailable: later, a bounded number of times), and one given up on is left to the next
start or a DELETE; a router the cloud refuses is the API's again, unmarked, as a refused
DELETE leaves it (:meth:`RouterService.delete`). The log says so.
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
from interstack.services.tasks import Task, TaskHandler, TaskQueue
from interstack.store import Database
from interstack.store.models import Port, Router

log = logging.getLogger(__name__)

#: the task kinds finishing a port's and a router's deletion cut short
PORT = "network.finish_port_deletion"
ROUTER = "network.finish_router_deletion"
_KINDS: dict[str, tuple[type[Port] | type[Router], str]] = {
    PORT: (Port, "port"),
    ROUTER: (Router, "router"),
}


class DeletionSweep:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        ports: PortService,
        routers: RouterService,
        admin_project_id: str,
        tasks: TaskQueue,
    ) -> None:
        self.db = db
        self.regions = regions
        self.ports = ports
        self.routers = routers
        self.admin_project_id = admin_project_id
        self.tasks = tasks

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            PORT: TaskHandler(self._finish_port, self._given_up),
            ROUTER: TaskHandler(self._finish_router, self._given_up),
        }

    def ensure(self) -> None:
        """Every port and router of any region left marked by a deletion cut short has a task
        to finish it (one only, two replicas starting at once too: :meth:`TaskQueue.enqueue_once`);
        no cloud is asked here."""
        for region in self.regions.names:
            if "networks" not in self.regions.capabilities(region).names():
                continue
            with self.db.session() as session:
                for kind, (model, _name) in _KINDS.items():
                    marked = session.scalars(
                        select(model.id)
                        .where(model.region == region, model.deleting.is_(True))
                        .order_by(model.id)
                    ).all()
                    self.tasks.enqueue_once(session, kind, region, marked)

    def _finish_port(self, task: Task) -> None:
        finish = partial(self.ports.remove, task.region, task.resource_id)
        self._finish(task, finish, retried=True)

    def _finish_router(self, task: Task) -> None:
        operator = operator_context(self.admin_project_id)
        finish = partial(self.routers.delete, operator, task.region, task.resource_id)
        self._finish(task, finish, retried=False)

    def _finish(self, task: Task, finish: Callable[[], None], *, retried: bool) -> None:
        """One step: finish the deletion if the row is still marked. A refusal is warned of;
        ``retried``: raised for the runner to retry or fail (a port stays marked), else done
        (a router refused is the API's again)."""
        model, kind = _KINDS[task.kind]
        if not self._marked(model, task.resource_id):
            return  # finished meanwhile, or the API's again
        try:
            finish()
        except NotFound as exc:  # gone: another replica's sweep or DELETE finished it meanwhile
            if self._marked(model, task.resource_id) is None:
                log.info(
                    "region %s: the deletion of %s %s was finished meanwhile",
                    task.region,
                    kind,
                    task.resource_id,
                )
                return
            self._unfinished(task, kind, exc)  # a NotFound of something else (the cloud's)
            if retried:
                raise
        except InterstackError as exc:
            self._unfinished(task, kind, exc)
            if retried:
                raise
        else:
            log.info(
                "region %s: finished the deletion of %s %s cut short",
                task.region,
                kind,
                task.resource_id,
            )

    def _marked(self, model: type[Port] | type[Router], row_id: str) -> bool | None:
        """Whether the row is marked by its deletion; None if it is gone."""
        with self.db.session() as session:
            return session.scalar(select(model.deleting).where(model.id == row_id))

    @staticmethod
    def _unfinished(task: Task, kind: str, exc: InterstackError) -> None:
        log.warning(
            "region %s: the deletion of %s %s cut short is not finished: %s",
            task.region,
            kind,
            task.resource_id,
            exc.message,
        )

    @staticmethod
    def _given_up(task: Task, error: str) -> None:
        _model, kind = _KINDS[task.kind]
        log.warning(
            "region %s: the deletion of %s %s cut short was given up (%s); it stays marked "
            "until the next start or a DELETE",
            task.region,
            kind,
            task.resource_id,
            error,
        )
