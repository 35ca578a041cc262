"""User messages: why an operation the API answered 2xx failed later (Cinder's ``messages``).

A failed task writes one (:meth:`UserMessages.record`, in the transaction that puts its
resource into error or back where it was); the owner's project reads, lists and deletes them.
Another project's message is a 404; an admin lists every project's with ``all_tenants``.
A message lives the settings' ``message_ttl`` (Cinder's, by default :data:`MESSAGE_TTL_SECONDS`):
past that it is neither shown nor listed, and a task of each region (:data:`PURGE`) deletes the
expired ones every ``message_reap_interval`` (Cinder's, by default :data:`MESSAGE_REAP_SECONDS`),
as Cinder's scheduler does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.errors import NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page, paginate
from interstack.services.tasks import (
    Clock,
    RetryAfter,
    Task,
    TaskHandler,
    TaskQueue,
    TaskStatus,
    utcnow,
)
from interstack.services.volume.common import visible
from interstack.services.volume.listing import DEFAULT_SORT, page_limit
from interstack.services.volume.message_events import MessageEvent, user_message
from interstack.services.volume.records import UserMessage
from interstack.store import Database, rowcount
from interstack.store.models import Task as TaskRow
from interstack.store.models import VolumeMessage as MessageRow

log = logging.getLogger(__name__)

#: Cinder's default ``message_ttl``: 30 days
MESSAGE_TTL_SECONDS = 30 * 24 * 3600
#: Cinder's default ``message_reap_interval``: a day
MESSAGE_REAP_SECONDS = 24 * 3600
#: the task kind that deletes a region's expired messages, again every reap interval
PURGE = "volume.messages.purge"
#: the purge task's resource id (one per region)
PURGE_RESOURCE = "volume-messages"

#: the columns a list filters on exactly (Cinder's resource filters of ``message``)
FILTER_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "event_id": MessageRow.event_id,
    "message_level": MessageRow.message_level,
    "request_id": MessageRow.request_id,
    "resource_type": MessageRow.resource_type,
    "resource_uuid": MessageRow.resource_uuid,
}
#: the columns a list sorts by (Cinder's message columns, ``guaranteed_until`` is ``expires_at``)
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    **FILTER_COLUMNS,
    "id": MessageRow.id,
    "created_at": MessageRow.created_at,
    "expires_at": MessageRow.expires_at,
    "project_id": MessageRow.project_id,
}


@dataclass(frozen=True)
class MessageFilters:
    """A list's filters: exact values and, from 3.34, substrings (Cinder's ``key~``)."""

    exact: Mapping[str, str] = field(default_factory=dict)
    like: Mapping[str, str] = field(default_factory=dict)
    all_tenants: bool = False
    project_id: str | None = None


def started_by(ctx: RequestContext) -> dict[str, str]:
    """What a task's payload keeps of the request that made it, for a message it may write."""
    return {"request_id": ctx.request_id} if ctx.request_id else {}


def message_not_found(message_id: str) -> NotFound:
    return NotFound(f"Message {message_id} could not be found.")


def _record(row: MessageRow) -> UserMessage:
    return UserMessage(
        id=row.id,
        project_id=row.project_id,
        event_id=row.event_id,
        user_message=user_message(row.action_id, row.detail_id),
        message_level=row.message_level,
        resource_type=row.resource_type,
        resource_uuid=row.resource_uuid,
        request_id=row.request_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _like(value: str) -> str:
    """``value`` as a LIKE pattern matching it anywhere, its own wildcards taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class UserMessages:
    """Writes, reads, lists, deletes and purges the user messages of every region."""

    def __init__(
        self,
        db: Database,
        tasks: TaskQueue,
        regions: Sequence[str],
        ttl_seconds: float = MESSAGE_TTL_SECONDS,
        reap_seconds: float = MESSAGE_REAP_SECONDS,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.tasks = tasks
        #: the regions whose messages a purge task of their own deletes
        self.regions = tuple(regions)
        self.ttl = timedelta(seconds=ttl_seconds)
        self.reap_seconds = float(reap_seconds)
        self.clock = clock

    def record(
        self,
        session: Session,
        event: MessageEvent,
        *,
        region: str,
        project_id: str,
        resource_uuid: str | None,
        request_id: str | None,
        level: str = "ERROR",
    ) -> None:
        """Write a message in the caller's transaction (with the resource's error state)."""
        now = self.clock()
        session.add(
            MessageRow(
                id=str(uuid.uuid4()),
                region=region,
                project_id=project_id,
                request_id=request_id or None,
                resource_type=str(event.resource_type),
                resource_uuid=resource_uuid,
                event_id=event.event_id,
                action_id=event.action.id,
                detail_id=event.detail.id,
                message_level=level,
                created_at=now,
                expires_at=now + self.ttl,
            )
        )
        log.info(
            "volume message %s for %s %s (request %s)",
            event.event_id,
            event.resource_type,
            resource_uuid,
            request_id,
        )

    def record_for_task(
        self,
        session: Session,
        event: MessageEvent,
        task: Task,
        project_id: str,
        resource_uuid: str | None = None,
    ) -> None:
        """A message about a task's resource (or ``resource_uuid``: an attachment's task
        reports on its volume), naming the request that started the task."""
        request_id = task.payload.get("request_id")
        self.record(
            session,
            event,
            region=task.region,
            project_id=project_id,
            resource_uuid=resource_uuid or task.resource_id,
            request_id=str(request_id) if request_id else None,
        )

    # -- reads -------------------------------------------------------------------------------

    def _visible(
        self, session: Session, ctx: RequestContext, region: str, message_id: str
    ) -> MessageRow:
        row = session.get(MessageRow, message_id)
        if (
            row is None
            or row.region != region
            or row.expires_at <= self.clock()
            or not visible(ctx, row.project_id)
        ):
            raise message_not_found(message_id)
        return row

    def get(self, ctx: RequestContext, region: str, message_id: str) -> UserMessage:
        with self.db.session() as session:
            return _record(self._visible(session, ctx, region, message_id))

    def delete(self, ctx: RequestContext, region: str, message_id: str) -> None:
        with self.db.session() as session:
            session.delete(self._visible(session, ctx, region, message_id))

    def list(
        self,
        ctx: RequestContext,
        region: str,
        filters: MessageFilters,
        page: Page,
        offset: int = 0,
    ) -> list[UserMessage]:
        """One page of the messages the caller may list, newest first unless sorted."""
        stmt = select(MessageRow).where(
            MessageRow.region == region, MessageRow.expires_at > self.clock()
        )
        if not ctx.is_admin or not (filters.all_tenants or filters.project_id):
            stmt = stmt.where(MessageRow.project_id == (ctx.project_id or ""))
        if filters.project_id:  # an admin's choice; a project's own, or nothing
            stmt = stmt.where(MessageRow.project_id == filters.project_id)
        for name, value in filters.exact.items():
            stmt = stmt.where(FILTER_COLUMNS[name] == value)
        for name, value in filters.like.items():
            stmt = stmt.where(FILTER_COLUMNS[name].like(_like(value), escape="\\"))
        with self.db.session() as session:
            marker = None
            if page.marker is not None:  # another project's message is no marker of the caller's
                marker = session.get(MessageRow, page.marker)
                if marker is None or marker.region != region or not visible(ctx, marker.project_id):
                    raise NotFound(f"Marker {page.marker} could not be found.")
            paged = Page(limit=page_limit(page), marker=page.marker, sort=page.sort)
            stmt = paginate(stmt, paged, SORT_COLUMNS, MessageRow.id, marker, DEFAULT_SORT)
            if offset:
                stmt = stmt.offset(offset)
            return [_record(row) for row in session.scalars(stmt)]

    # -- expiry ------------------------------------------------------------------------------

    def purge(self, region: str) -> int:
        """Delete the region's expired messages; how many."""
        with self.db.session() as session:
            gone = rowcount(
                session.execute(
                    delete(MessageRow).where(
                        MessageRow.region == region, MessageRow.expires_at <= self.clock()
                    )
                )
            )
        if gone:
            log.info("region %s: %d expired volume messages purged", region, gone)
        return gone

    def handlers(self) -> dict[str, TaskHandler]:
        return {PURGE: TaskHandler(self._purge_step)}

    def _purge_step(self, task: Task) -> RetryAfter:
        """Purge, then again after the reap interval: the task never ends."""
        self.purge(task.region)
        return RetryAfter(self.reap_seconds)

    def ensure_purging(self) -> None:
        """Each region's purge task, made if it has none waiting or running (its first run a
        reap interval from now: nothing has expired on a new install)."""
        with self.db.session() as session:
            purging = set(
                session.scalars(
                    select(TaskRow.region)
                    .where(
                        TaskRow.kind == PURGE,
                        TaskRow.status.in_([TaskStatus.PENDING, TaskStatus.RUNNING]),
                    )
                    .group_by(TaskRow.region)
                )
            )
            for region in self.regions:
                if region not in purging:
                    self.tasks.enqueue(
                        PURGE,
                        region,
                        PURGE_RESOURCE,
                        delay_seconds=self.reap_seconds,
                        session=session,
                    )
