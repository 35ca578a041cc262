"""A port's security groups: rows of ``port_security_groups``, one per group, in the port's
order. The rows' foreign keys are what makes a group in use undeletable (the database refuses
the group's deletion, whatever a check read before), so nothing else keeps a port's groups."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.store import run_core, table_of
from interstack.store.models import PortSecurityGroup


def groups_of(session: Session, port_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each port's group ids in its order (every port named, those without groups too)."""
    found: dict[str, list[str]] = {p: [] for p in port_ids}
    if not port_ids:
        return found
    rows = session.execute(
        select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
        .where(PortSecurityGroup.port_id.in_(port_ids))
        .order_by(PortSecurityGroup.port_id, PortSecurityGroup.position)
    )
    for port_id, group_id in rows:
        found[port_id].append(group_id)
    return found


def add_groups(session: Session, port_id: str, group_ids: Sequence[str]) -> None:
    """Give a port that has none the groups ``group_ids``, in that order (one statement)."""
    if group_ids:
        session.execute(
            insert(PortSecurityGroup),
            [
                {"port_id": port_id, "security_group_id": g, "position": n}
                for n, g in enumerate(dict.fromkeys(group_ids))
            ],
        )


def set_groups(session: Session, port_id: str, group_ids: Sequence[str]) -> None:
    """Make ``group_ids`` the port's groups, in that order."""
    session.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port_id))
    add_groups(session, port_id, group_ids)


def has_groups(session: Session, port_id: str) -> bool:
    return bool(session.scalar(select(exists().where(PortSecurityGroup.port_id == port_id))))


#: whether a port uses a group, built once (read through the rows' index on the group)
_GROUP_IN_USE = select(
    exists().where(table_of(PortSecurityGroup).c.security_group_id == bindparam("group_id"))
)


def group_in_use(session: Session, group_id: str) -> bool:
    """Whether a port uses the group (read through the rows' index on the group)."""
    return bool(run_core(session, _GROUP_IN_USE, {"group_id": group_id}).scalar())


def refused_by_foreign_key(exc: IntegrityError) -> bool:
    """Whether the database refused a statement by a foreign key (a row it names is gone, or
    one that names it is not) — not by a unique key or a NOT NULL. PostgreSQL says so by its
    SQLSTATE 23503, SQLite by its message (its extended code is not raised to Python)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23503":
        return True
    return "FOREIGN KEY constraint failed" in str(orig)
