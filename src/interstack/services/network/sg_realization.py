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
after the changes before it were committed (a rule's DELETE forgets its row in its turn, once
the backend let go of the rule: :meth:`GroupRealization.drop_rule`). A group the backend
lacks is made in its turn too, and recorded before the turn ends: a realization racing it
finds it made and only gives it the rules, so the backend never makes it twice. The turn spans
the backend call: a lock of the process and a row lock, never SQLite's write lock (the rules
are only read; a group's ref, or a rule's deletion, is written at the end), and the row lock
lets rules be written meanwhile (their foreign key takes ``KEY SHARE``), so only realizations
of the group, a rename and its deletion's last step wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import bindparam, delete, select, update
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


#: a group's backend ref and its rules in their listed order, its row locked for its turn
#: (``FOR NO KEY UPDATE`` on PostgreSQL: rules may still be written, their foreign key takes
#: ``KEY SHARE``); built once, read by every realization in its turn
_HELD_WITH_RULES = (
    select(SecurityGroup.native_ref, RuleRow)
    .select_from(SecurityGroup)
    .outerjoin(RuleRow, RuleRow.group_id == SecurityGroup.id)
    .where(SecurityGroup.id == bindparam("group_id"))
    .order_by(RuleRow.created_at, RuleRow.id)
    .with_for_update(key_share=True, of=SecurityGroup)
)
#: the group's row locked first, on PostgreSQL (see :func:`_held_with_rules`)
_LOCK = (
    select(SecurityGroup.id)
    .where(SecurityGroup.id == bindparam("group_id"))
    .with_for_update(key_share=True)
)
#: the backend's group just made, recorded for a group that had none
_RECORD = (
    update(SecurityGroup)
    .where(SecurityGroup.id == bindparam("group_id"), SecurityGroup.native_ref.is_(None))
    .values(native_ref=bindparam("ref"))
)


#: a rule's row, deleted by its DELETE in its group's turn
_DROP = delete(RuleRow).where(RuleRow.id == bindparam("rule_id"))


def _held_with_rules(session: Session, group_id: str) -> tuple[str | None, list[RuleRow]] | None:
    """The group's backend ref and rules, its row locked until the unit of work ends; None if
    the group is gone. On PostgreSQL the row is locked by a statement of its own first: a
    statement that waited for the lock reads the other tables as they were when it began (READ
    COMMITTED), so the rules would miss what the turn before changed in them (a rule's DELETE
    forgets its row in its turn) and give the backend that rule again."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"group_id": group_id})
    found = session.execute(_HELD_WITH_RULES, {"group_id": group_id}).all()
    if not found:
        return None
    return found[0][0], [rule for _ref, rule in found if rule is not None]


def _gone(group_id: str) -> NotFound:
    return NotFound(f"Security group {group_id} does not exist", kind="SecurityGroupNotFound")


def missing_rule(rule_id: str) -> NotFound:
    return NotFound(
        f"Security group rule {rule_id} does not exist", kind="SecurityGroupRuleNotFound"
    )


class GroupRealization:
    """The backend half of ``SecurityGroupService`` (its base): what makes a group real there,
    from the records the service keeps."""

    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions
        self.turns = KeyedTurns("security group")

    def realize(self, region: str, group_id: str, _seen: frozenset[str] = frozenset()) -> NativeRef:
        """Make the backend hold the group with exactly its rules; returns its native ref. 404
        ``SecurityGroupNotFound`` for a group gone (one a rule names, deleted meanwhile)."""
        with self.db.session() as session:
            row = session.get(SecurityGroup, group_id)
        if row is None:
            raise _gone(group_id)
        return self._realize(region, row, _seen)

    def _realize(
        self,
        region: str,
        row: SecurityGroup,
        _seen: frozenset[str] = frozenset(),
        without: str | None = None,
    ) -> NativeRef:
        """:meth:`realize` of the group ``row`` as just read or written, in the group's turn:
        one the backend lacks is made there with its rules as they are in the turn (a
        realization racing this one, waiting for the turn, finds it made and gives it the
        rules again; before, both made it and the group given the older rules last was right
        only if the loser's reset succeeded); one it holds is given its rules as they are in
        its turn, those naming ``without`` left out. 404 if the group is gone by then, unless
        ``without`` (a deletion's step, done for a group gone)."""
        net_driver = driver(self.regions, region)
        group_id = row.id
        seen = _seen | {group_id}
        native = row.native_ref

        def ref_of(other_id: str) -> NativeRef:
            if other_id == group_id:
                return NativeRef(native or "")  # made before any rule naming a group is given
            return self._other_ref(region, other_id, seen)

        with self.turns.turn(group_id):
            if native is None:
                native, whole = self._make(net_driver, row, ref_of)
                if whole:
                    return NativeRef(native)  # made with its rules: setting them again is a repeat
            given = self._set_rules(net_driver, group_id, NativeRef(native), ref_of, without)
        if not given and without is None:  # for a deletion's step, one gone names it no more
            raise _gone(group_id)
        return NativeRef(native)

    def _other_ref(self, region: str, other_id: str, seen: frozenset[str]) -> NativeRef:
        """The backend ref of the group ``other_id`` a rule names, realized first if the
        backend lacks it (unless it is among ``seen``, being realized already)."""
        with self.db.session() as session:
            other = session.get(SecurityGroup, other_id)
            other_ref = other.native_ref if other is not None else None
        if other_ref is None and other_id not in seen:
            return self.realize(region, other_id, seen)
        return NativeRef(other_ref or "")

    def _make(
        self, net_driver: NetworkDriver, row: SecurityGroup, ref_of: Callable[[str], NativeRef]
    ) -> tuple[NativeRef, bool]:
        """In the group's turn: make the group the backend lacks, with its rules as committed
        now (those naming a group follow: its ref, or that of one naming it in turn, exists
        only afterwards), and record it; its ref, and whether it was made with all its rules.
        One a realization before this turn made is only read. The backend's group goes again
        if it cannot be recorded (the group deleted meanwhile: its 404)."""
        group_id = row.id
        made: NativeRef | None = None
        try:
            with self.db.session() as session:
                held = _held_with_rules(session, group_id)
                if held is None:
                    raise _gone(group_id)
                recorded, rules = held
                if recorded is not None:
                    return NativeRef(recorded), False
                spec = SecurityGroupSpec(
                    gateway_id=group_id,
                    name=row.name,
                    project_id=row.project_id,
                    rules=contract_rules([r for r in rules if r.remote_group_id is None], ref_of),
                )
                made = net_driver.create_security_group(spec)
                if rowcount(session.execute(_RECORD, {"group_id": group_id, "ref": made})) != 1:
                    raise _gone(group_id)  # deleted meanwhile (SQLite: no row lock to hold it)
        except BaseException:
            if made is not None:
                self._let_go(net_driver, group_id, made)
            raise
        return made, all(r.remote_group_id is None for r in rules)

    @staticmethod
    def _let_go(net_driver: NetworkDriver, group_id: str, made: NativeRef) -> None:
        """Delete the backend's group ``made`` for ``group_id``, never recorded; a failure is
        logged (the one that brought us here is reported; ``interstack cleanup`` finds it)."""
        try:
            net_driver.delete_security_group(made)
        except Exception:
            log.warning(
                "security group %s: the backend's %s, not recorded, was not deleted",
                group_id,
                made,
                exc_info=True,
            )

    def _set_rules(
        self,
        net_driver: NetworkDriver,
        group_id: str,
        native: NativeRef,
        ref_of: Callable[[str], NativeRef],
        without: str | None = None,
    ) -> bool:
        """In the group's turn: give the backend's group ``native`` the rules of ``group_id``
        as committed now (those naming ``without`` left out); False if the group is gone.
        ``ref_of`` may realize another group the rules name (in that one's turn, taken inside
        this one: a group is recorded as made before its turn gives any rule naming a group,
        so of two realizations each naming the other's group, at most one finds the other
        unmade and waits for it; none waits for the other in turn)."""
        with self.db.session() as session:
            held = _held_with_rules(session, group_id)
            if held is None:
                return False
            rows = held[1]
            if without is not None:
                rows = [r for r in rows if r.remote_group_id != without]
            net_driver.set_security_group_rules(native, contract_rules(rows, ref_of))
        return True

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

    @contextmanager
    def rule_removed_on_failure(self, region: str, group_id: str, rule_id: str) -> Iterator[None]:
        """What fails inside (the realization of the rule ``rule_id`` just written) takes the
        rule along, and its group is then realized again as the store holds it: the backend
        may hold the rule, or part of a change, by then (a call that took effect and answered
        with an error, a change of several calls cut short, a realization at once that read
        the rule) and would be more open than the API says until the group's next change.
        A group the backend does not hold is left (nothing was made); a failure of the second
        realization is logged, the first failure is the one answered."""
        try:
            yield
        except BaseException:
            with self.db.session() as session:
                session.execute(delete(RuleRow).where(RuleRow.id == rule_id))
            self._realize_again(region, group_id, rule_id)
            raise

    def drop_rule(self, region: str, group_id: str, rule_id: str) -> None:
        """A rule's DELETE: in the group's turn the backend is given the group's rules as
        committed now without ``rule_id``, and only then is the rule's row deleted, in the
        unit of work that read them, before the turn ends (the next realization reads the
        rules without it). The backend goes first: a DELETE failing or cut short at any step
        (the backend refused, the gateway killed) leaves the rule shown, the backend no more
        open than the API says, and the DELETE asked again finishes it; the store first
        left, cut short, a rule the backend held and the API no longer showed (a DELETE
        asked again: 404). A group the backend lacks has only the row deleted (it is made
        with its rules as they are then). 404 if the rule is gone by then (a DELETE at once,
        its group's deletion)."""
        net_driver = driver(self.regions, region)
        with self.turns.turn(group_id), self.db.session() as session:
            held = _held_with_rules(session, group_id)
            if held is None or rule_id not in {r.id for r in held[1]}:
                raise missing_rule(rule_id)
            recorded, rules = held
            if recorded is not None:
                native = NativeRef(recorded)
                seen = frozenset({group_id})

                def ref_of(other_id: str) -> NativeRef:
                    if other_id == group_id:
                        return native
                    return self._other_ref(region, other_id, seen)

                kept = [r for r in rules if r.id != rule_id]
                net_driver.set_security_group_rules(native, contract_rules(kept, ref_of))
            if rowcount(session.execute(_DROP, {"rule_id": rule_id})) != 1:
                raise missing_rule(rule_id)  # its group's deletion took it (SQLite: no lock)

    def _realize_again(self, region: str, group_id: str, rule_id: str) -> None:
        """Realize the group as the store holds it, one the backend holds, after a change of
        its rule ``rule_id`` failed; a failure of this realization is logged."""
        try:
            self._realize_without(region, group_id, None)
        except Exception:
            log.warning(
                "region %s: group %s not realized again after a change of its rule %s failed",
                region,
                group_id,
                rule_id,
                exc_info=True,
            )

    def _realize_without(self, region: str, holder_id: str, group_id: str | None) -> None:
        """Realize the group ``holder_id`` without its rules naming ``group_id`` (nothing for a
        group the backend does not hold yet, or one gone)."""
        with self.db.session() as session:
            holder = session.get(SecurityGroup, holder_id)
        if holder is not None and holder.native_ref is not None:
            self._realize(region, holder, without=group_id)

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
