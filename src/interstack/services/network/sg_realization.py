"""How a security group is made real on the backend: the gateway keeps the rules, and after
every change the backend is told the group's whole rule set (``set_security_group_rules`` is
declarative). Kept apart from :mod:`security_groups`, which changes the records: every change
there, and a port's first use of a group, ends here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, SecurityGroupSpec
from interstack.errors import NotFound
from interstack.services.network.common import driver
from interstack.services.network.sg_rules import contract_rules
from interstack.services.regions import Regions
from interstack.store import Database, rowcount
from interstack.store.models import SecurityGroup
from interstack.store.models import SecurityGroupRule as RuleRow

log = logging.getLogger(__name__)


def group_rules(session: Session, group_id: str) -> list[RuleRow]:
    """The group's rules in their listed order."""
    return list(
        session.scalars(
            select(RuleRow)
            .where(RuleRow.group_id == group_id)
            .order_by(RuleRow.created_at, RuleRow.id)
        )
    )


class GroupRealization:
    """The backend half of ``SecurityGroupService`` (its base): what makes a group real there,
    from the records the service keeps."""

    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def realize(self, region: str, group_id: str, _seen: frozenset[str] = frozenset()) -> NativeRef:
        """Make the backend hold the group with exactly its rules; returns its native ref."""
        with self.db.session() as session:  # the group and its rules, read together
            row = session.get_one(SecurityGroup, group_id)
            rows = group_rules(session, group_id)
        return self._realize(region, row, rows, _seen)

    def _realize(
        self,
        region: str,
        row: SecurityGroup,
        rows: Sequence[RuleRow],
        _seen: frozenset[str] = frozenset(),
    ) -> NativeRef:
        """:meth:`realize` of the group ``row`` with its rules ``rows``, both as just read or
        written."""
        net_driver = driver(self.regions, region)
        group_id, native, name, project = row.id, row.native_ref, row.name, row.project_id
        seen = _seen | {group_id}

        def ref_of(other_id: str) -> NativeRef:
            if other_id == group_id:
                return NativeRef(native or "")  # set before any rule naming a group is made
            with self.db.session() as session:
                other = session.get(SecurityGroup, other_id)
                other_ref = other.native_ref if other is not None else None
            if other_ref is None and other_id not in seen:
                return self.realize(region, other_id, seen)
            return NativeRef(other_ref or "")

        if native is None:
            # a group is made with its rules (one backend change less); those naming a group
            # (this one, or one naming it in turn: its ref exists only afterwards) follow
            naming_groups = any(r.remote_group_id is not None for r in rows)
            plain = [r for r in rows if r.remote_group_id is None]
            made = net_driver.create_security_group(
                SecurityGroupSpec(
                    gateway_id=group_id,
                    name=name,
                    project_id=project,
                    rules=contract_rules(plain, ref_of),
                )
            )
            native, first = self._record_made(region, group_id, made)
            if first and not naming_groups:
                return NativeRef(native)  # made with its rules: setting them again is a repeat
            with self.db.session() as session:  # as they are now that the group exists
                rows = group_rules(session, group_id)
        net_driver.set_security_group_rules(NativeRef(native), contract_rules(rows, ref_of))
        return NativeRef(native)

    def _record_made(self, region: str, group_id: str, made: NativeRef) -> tuple[NativeRef, bool]:
        """Record the backend group just made for a group that had none, and whether this
        realization was the first to: another one racing it (two rule requests) may have
        recorded its own meanwhile. That one is then the group (a backend that made a second,
        as one without unique group names may, deletes this one; EC2 refuses the name twice
        and its driver answers with the same group), and its rules are set again as they are
        now (this realization's were read before the other's rule). The group's 404 if it was
        deleted meanwhile: what the backend made goes too."""
        with self.db.session() as session:
            first = session.execute(
                update(SecurityGroup)
                .where(SecurityGroup.id == group_id, SecurityGroup.native_ref.is_(None))
                .values(native_ref=made)
            )
            if rowcount(first) == 1:
                return made, True
            recorded = session.scalar(
                select(SecurityGroup.native_ref).where(SecurityGroup.id == group_id)
            )
        if recorded != made:
            driver(self.regions, region).delete_security_group(made)
        if recorded is None:
            raise NotFound(
                f"Security group {group_id} does not exist", kind="SecurityGroupNotFound"
            )
        return NativeRef(recorded), False

    def refs(self, region: str, group_ids: Sequence[str]) -> tuple[NativeRef, ...]:
        """Native refs of groups a port uses, realizing any not yet realized."""
        with self.db.session() as session:
            known = {
                g.id: g.native_ref
                for g in session.scalars(
                    select(SecurityGroup).where(SecurityGroup.id.in_(group_ids))
                )
            }
        return tuple(
            NativeRef(native) if (native := known.get(g)) else self.realize(region, g)
            for g in group_ids
        )

    def _realize_without(self, region: str, holder_id: str, group_id: str) -> None:
        """Realize the group ``holder_id`` without its rules naming ``group_id`` (nothing for a
        group the backend does not hold yet)."""
        with self.db.session() as session:
            holder = session.get(SecurityGroup, holder_id)
            rules = [r for r in group_rules(session, holder_id) if r.remote_group_id != group_id]
        if holder is not None and holder.native_ref is not None:
            self._realize(region, holder, rules)

    def _realize_each(self, region: str, holders: Sequence[str], group_id: str) -> None:
        """Realize each group as the store holds it, after the DELETE of ``group_id``; one
        that fails is logged: the DELETE's own outcome is the one to answer."""
        for holder in holders:
            try:
                self.realize(region, holder)
            except Exception:
                log.warning(
                    "region %s: group %s not realized after the DELETE of %s",
                    region,
                    holder,
                    group_id,
                    exc_info=True,
                )
