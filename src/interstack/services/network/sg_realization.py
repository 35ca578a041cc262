"""How a security group is made real on the backend: the gateway keeps the rules, and after
every change the backend is told the group's whole rule set (``set_security_group_rules`` is
declarative). Kept apart from :mod:`security_groups`, which changes the records: every change
there, and a port's first use of a group, ends here.

The rule set given to the backend is the newest committed one: two changes of one group
realized at once would otherwise each read the rules, and the older set, given last, revoke the
newer rule on the backend (and the backend's own change, EC2's describe then authorize and
revoke, is no single step either). The group's realizations therefore take turns (the group's
:class:`~interstack.services.turns.KeyedTurns` turn in the process; on PostgreSQL the group's
row locked ``FOR NO KEY UPDATE`` too, for the replicas) and each reads the rules in its turn,
after the changes before it were committed. The turn spans the backend call: a lock of the
process and a row lock, never SQLite's write lock (the rules are only read), and the row lock
lets rules be written meanwhile (their foreign key takes ``KEY SHARE``), so only realizations
of the group, a rename and its deletion's last step wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, NetworkDriver, SecurityGroupSpec
from interstack.errors import NotFound
from interstack.services.network.common import driver
from interstack.services.network.sg_rules import contract_rules
from interstack.services.regions import Regions
from interstack.services.turns import KeyedTurns
from interstack.store import Database, rowcount
from interstack.store.models import SecurityGroup
from interstack.store.models import SecurityGroupRule as RuleRow

log = logging.getLogger(__name__)


#: a group's rules, built once: read on every rule's create and every group's realization
_GROUP_RULES = (
    select(RuleRow)
    .where(RuleRow.group_id == bindparam("group_id"))
    .order_by(RuleRow.created_at, RuleRow.id)
)


def group_rules(session: Session, group_id: str) -> list[RuleRow]:
    """The group's rules in their listed order."""
    return list(session.scalars(_GROUP_RULES, {"group_id": group_id}))


class GroupRealization:
    """The backend half of ``SecurityGroupService`` (its base): what makes a group real there,
    from the records the service keeps."""

    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions
        self.turns = KeyedTurns("security group")

    def realize(self, region: str, group_id: str, _seen: frozenset[str] = frozenset()) -> NativeRef:
        """Make the backend hold the group with exactly its rules; returns its native ref."""
        with self.db.session() as session:  # the group and, to make it, its rules
            row = session.get_one(SecurityGroup, group_id)
            rows = group_rules(session, group_id) if row.native_ref is None else []
        return self._realize(region, row, rows, _seen)

    def _realize(
        self,
        region: str,
        row: SecurityGroup,
        rows: Sequence[RuleRow],
        _seen: frozenset[str] = frozenset(),
        without: str | None = None,
    ) -> NativeRef:
        """:meth:`realize` of the group ``row`` with its rules ``rows``, both as just read or
        written (``rows`` makes a group the backend lacks; one it holds is given the rules as
        they are in its turn, those naming ``without`` left out). 404 if the group is gone
        by then, unless ``without`` (a deletion's step, done for a group gone)."""
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
        given = self._set_rules(net_driver, group_id, NativeRef(native), ref_of, without)
        if not given and without is None:  # for a deletion's step, one gone names it no more
            raise NotFound(
                f"Security group {group_id} does not exist", kind="SecurityGroupNotFound"
            )
        return NativeRef(native)

    def _set_rules(
        self,
        net_driver: NetworkDriver,
        group_id: str,
        native: NativeRef,
        ref_of: Callable[[str], NativeRef],
        without: str | None = None,
    ) -> bool:
        """Give the backend's group ``native`` the rules of ``group_id`` as committed when its
        turn comes (those naming ``without`` left out); False if the group is gone by then.
        ``ref_of`` may realize another group the rules name (in that one's turn, taken inside
        this one: the group waited for is one the backend did not hold, and a group in its
        turn is held, so no two realizations wait for each other)."""
        with self.turns.turn(group_id), self.db.session() as session:
            held = session.scalar(
                select(SecurityGroup.id)
                .where(SecurityGroup.id == group_id)
                .with_for_update(key_share=True)
            )
            if held is None:
                return False
            rows = group_rules(session, group_id)
            if without is not None:
                rows = [r for r in rows if r.remote_group_id != without]
            net_driver.set_security_group_rules(native, contract_rules(rows, ref_of))
        return True

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
        group the backend does not hold yet, or one gone)."""
        with self.db.session() as session:
            holder = session.get(SecurityGroup, holder_id)
        if holder is not None and holder.native_ref is not None:
            self._realize(region, holder, (), without=group_id)

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
