"""Security groups and their rules; a ``default`` group per project, created on first use.

The gateway keeps the rules; after every change the backend is told the group's whole rule set
(``set_security_group_rules`` is declarative; :mod:`sg_realization` tells it). The default group
is unique per project and region by a constraint, so concurrent first uses agree on one group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    Filters,
    SeenById,
    check_owner,
    driver,
    new_id,
    now,
    owned,
    owned_by,
    removed_on_failure,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.port_groups import group_in_use, refused_by_foreign_key
from interstack.services.network.records import RuleInfo, SecurityGroupInfo
from interstack.services.network.sg_realization import (
    GroupRealization,
    group_rules,
    missing_rule,
)
from interstack.services.network.sg_rules import (
    RuleCreate,
    rule_info,
    same_rule,
    validate,
)
from interstack.store import insert_rows, rowcount, run_core, table_of
from interstack.store.models import SecurityGroup
from interstack.store.models import SecurityGroupRule as RuleRow

COLUMNS = {
    "id": SecurityGroup.id,
    "name": SecurityGroup.name,
    "description": SecurityGroup.description,
    "project_id": SecurityGroup.project_id,
    "tenant_id": SecurityGroup.project_id,
    "stateful": SecurityGroup.stateful,
    "created_at": SecurityGroup.created_at,
    "updated_at": SecurityGroup.updated_at,
}
RULE_COLUMNS = {
    "id": RuleRow.id,
    "security_group_id": RuleRow.group_id,
    "project_id": RuleRow.project_id,
    "tenant_id": RuleRow.project_id,
    "direction": RuleRow.direction,
    "ethertype": RuleRow.ethertype,
    "protocol": RuleRow.protocol,
    "port_range_min": RuleRow.port_range_min,
    "port_range_max": RuleRow.port_range_max,
    "remote_ip_prefix": RuleRow.remote_ip_prefix,
    "remote_group_id": RuleRow.remote_group_id,
    "description": RuleRow.description,
    "created_at": RuleRow.created_at,
    "updated_at": RuleRow.updated_at,
}
DEFAULT_NAME = "default"


@dataclass(frozen=True)
class GroupCreate:
    name: str
    description: str = ""
    project_id: str | None = None
    stateful: bool = True


def _missing(group_id: str) -> NotFound:
    return NotFound(f"Security group {group_id} does not exist", kind="SecurityGroupNotFound")


#: a group, a rule by id if the caller's project's (any for an admin), by statements built
#: once: a group is read on every rule's create and every group's show and deletion
_SEEN_GROUP = SeenById(SecurityGroup, owned(SecurityGroup.project_id), _missing)
_SEEN_RULE = SeenById(RuleRow, owned(RuleRow.project_id), missing_rule)


def load_group(session: Session, ctx: RequestContext, region: str, group_id: str) -> SecurityGroup:
    """The group if the caller sees it (its project's, any for an admin), else a 404."""
    return _SEEN_GROUP.load(session, ctx, region, group_id)


def group_info(session: Session, row: SecurityGroup) -> SecurityGroupInfo:
    return _info(row, group_rules(session, row.id))


_GROUP_ID: BindParameter[str] = bindparam("group_id")
_RULES = table_of(RuleRow).c
#: the other groups whose rules name a group as their remote group, built once
_HOLDERS_NAMING = (
    select(_RULES.group_id)
    .where(_RULES.remote_group_id == _GROUP_ID, _RULES.group_id != _GROUP_ID)
    .distinct()
    .order_by(_RULES.group_id)
)
# a group's deletion, built once (run_core): the group, its own rules with it (their foreign
# key cascades), then the rules naming it (no foreign key: the other groups' rules)
_DELETE_NAMING_RULES = delete(table_of(RuleRow)).where(_RULES.remote_group_id == _GROUP_ID)
_DELETE_GROUP = delete(table_of(SecurityGroup)).where(table_of(SecurityGroup).c.id == _GROUP_ID)


def _holders_naming(session: Session, group_id: str) -> list[str]:
    """The other groups whose rules name ``group_id`` as their remote group."""
    return list(run_core(session, _HOLDERS_NAMING, {"group_id": group_id}).scalars())


def _info(row: SecurityGroup, rules: Sequence[RuleRow]) -> SecurityGroupInfo:
    return SecurityGroupInfo(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        stateful=row.stateful,
        rules=tuple(rule_info(r) for r in rules),
        stamp=stamp(row),
    )


def _rule_row(group: SecurityGroup, at: Any, **values: Any) -> RuleRow:
    return RuleRow(
        id=new_id(),
        group_id=group.id,
        region=group.region,
        project_id=group.project_id,
        description="",
        created_at=at,
        updated_at=at,
        **values,
    )


class SecurityGroupService(GroupRealization):
    def available(self, region: str) -> bool:
        """Whether the region's backend filters traffic by security groups; without it, ports
        get no groups (asking for some is the backend's 501)."""
        return self.regions.capabilities(region).security_groups

    # -- the default group ---------------------------------------------------------------------

    def ensure_default(self, region: str, project_id: str) -> str:
        """The project's ``default`` group, created with Neutron's default rules if missing."""
        with self.db.session() as session:
            found = default_group(session, region, project_id)
        if found is not None:
            return found
        at = now()
        group_id = new_id()
        try:
            with self.db.session() as session:
                group = SecurityGroup(
                    id=group_id,
                    region=region,
                    project_id=project_id,
                    name=DEFAULT_NAME,
                    description="Default security group",
                    default_for=project_id,
                    stateful=True,
                    tags=[],
                    created_at=at,
                    updated_at=at,
                )
                session.add(group)
                session.flush()
                for ethertype in ("IPv4", "IPv6"):
                    session.add(_rule_row(group, at, direction="egress", ethertype=ethertype))
                    session.add(
                        _rule_row(
                            group,
                            at,
                            direction="ingress",
                            ethertype=ethertype,
                            remote_group_id=group_id,
                        )
                    )
        except IntegrityError:
            return self.ensure_default(region, project_id)  # a concurrent first use won
        self.realize(region, group_id)
        return group_id

    # -- groups --------------------------------------------------------------------------------

    def create(self, ctx: RequestContext, region: str, new: GroupCreate) -> SecurityGroupInfo:
        project_id = tenant_of(ctx, new.project_id)
        if new.name == DEFAULT_NAME:
            raise Conflict(
                "Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists"
            )
        self.ensure_default(region, project_id)
        at = now()
        group_id = new_id()
        with self.db.session() as session:
            quotas.check(session, region, project_id, "security_group")
            group = SecurityGroup(
                id=group_id,
                region=region,
                project_id=project_id,
                name=new.name,
                description=new.description,
                default_for=None,
                stateful=new.stateful,
                tags=[],
                created_at=at,
                updated_at=at,
            )
            rules = [
                _rule_row(group, at, direction="egress", ethertype=ethertype)
                for ethertype in ("IPv4", "IPv6")
            ]
            # the rows as values to read (never in the session): their columns are all set
            insert_rows(session, [group])
            insert_rows(session, rules)
        with removed_on_failure(self.db, SecurityGroup, group_id):
            self._realize(region, group)
        # the group as written (its backend ref is not shown), its rules in their listed order
        rules.sort(key=lambda r: (r.created_at, r.id))
        return _info(group, rules)

    def get(self, ctx: RequestContext, region: str, group_id: str) -> SecurityGroupInfo:
        with self.db.session() as session:
            return group_info(session, load_group(session, ctx, region, group_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[SecurityGroupInfo]:
        if ctx.project_id is not None:
            self.ensure_default(region, ctx.project_id)
        with self.db.session() as session:
            visible = owned_by(ctx, SecurityGroup.project_id)
            rows = visible_page(session, SecurityGroup, region, visible, filters, page, COLUMNS)
            return [group_info(session, r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, group_id: str, values: dict[str, Any]
    ) -> SecurityGroupInfo:
        with self.db.session() as session:
            row = load_group(session, ctx, region, group_id)
            check_owner(ctx, row.project_id, "security group", group_id)
            name = values.get("name")
            if name is not None and name != row.name:
                if row.default_for is not None or name == DEFAULT_NAME:
                    raise Conflict(
                        "Updating the name of the default security group is not allowed.",
                        kind="SecurityGroupCannotUpdateDefault",
                    )
                row.name = name
            if values.get("description") is not None:
                row.description = values["description"]
            row.updated_at = now()
            session.flush()
            return group_info(session, row)

    def delete(self, ctx: RequestContext, region: str, group_id: str) -> None:
        """Delete the group and, as Neutron's foreign key cascades, the rules of other groups
        that name it; a port using it is 409 ``SecurityGroupInUse`` — one given the group
        after the check too: the database refuses to delete a group a port's row names.

        The backend goes first, the store last: the groups whose rules name it are realized
        without those rules (EC2 refuses to delete a group another group's permission names),
        then the group is deleted there, then its row and the rules naming it in one unit of
        work. A DELETE cut short at any step (a backend call failed, the gateway stopped)
        leaves both in the store, and asked again it repeats each step (each may be repeated:
        a group already gone is done) and finishes. The store first would leave, after such a
        failure, the group and the references to it on the backend with no row to finish
        from (404 for ever). A DELETE that fails realizes the groups naming it again as the
        store holds them, so that they enforce the rules the API shows; meanwhile they
        enforced fewer, never more.
        """
        with self.db.session() as session:
            native = self._deletable(session, ctx, region, group_id).native_ref
            holders = _holders_naming(session, group_id)
        gone = False
        try:
            for holder in holders:
                self._realize_without(region, holder, group_id)
            if native:
                driver(self.regions, region).delete_security_group(NativeRef(native))
                gone = True
            # the row as checked above (its project, whether it is a default group, do not
            # change); a port's use committed since: the database refuses, by the port's
            # foreign key; a concurrent deletion's: gone, 404 as a read would answer
            with self.db.session() as session:
                late = [h for h in _holders_naming(session, group_id) if h not in holders]
                params = {"group_id": group_id}
                # the group's row before the rules naming it, the order of every other path
                # (a realization, a rule's DELETE: the group's row, then rule rows); the
                # rules first could deadlock on PostgreSQL with a realization of this group
                # waiting for the turn of a group whose rule's DELETE waits for those rules
                try:
                    deleted = run_core(session, _DELETE_GROUP, params)
                except IntegrityError as exc:
                    if not refused_by_foreign_key(exc):
                        raise
                    raise _in_use(group_id) from exc
                if rowcount(deleted) != 1:
                    raise _missing(group_id)
                run_core(session, _DELETE_NAMING_RULES, params)
        except BaseException:
            if gone:  # made anew at its next use (below: by a group naming it)
                with self.db.session() as session:
                    forget = update(SecurityGroup).where(SecurityGroup.id == group_id)
                    session.execute(forget.values(native_ref=None))
            with self.db.session() as session:  # and those whose rules came to name it meanwhile
                naming = _holders_naming(session, group_id)
            self._realize_each(
                region, [*holders, *(h for h in naming if h not in holders)], group_id
            )
            raise
        self._realize_each(region, late, group_id)  # rules naming it made meanwhile

    def _deletable(
        self, session: Session, ctx: RequestContext, region: str, group_id: str
    ) -> SecurityGroup:
        """The group ``ctx`` may delete now: no port uses it."""
        row = load_group(session, ctx, region, group_id)
        check_owner(ctx, row.project_id, "security group", group_id)
        if row.default_for is not None and not ctx.is_admin:
            raise Conflict(
                "Insufficient rights for removing default security group.",
                kind="SecurityGroupCannotRemoveDefault",
            )
        if group_in_use(session, group_id):
            raise _in_use(group_id)
        return row

    # -- rules ---------------------------------------------------------------------------------

    def create_rule(self, ctx: RequestContext, region: str, new: RuleCreate) -> RuleInfo:
        rule = validate(new)
        with self.db.session() as session:
            group = load_group(session, ctx, region, new.security_group_id)
            check_owner(ctx, group.project_id, "security group", group.id)
            tenant_of(ctx, new.project_id or group.project_id)
            if new.remote_group_id is not None:
                load_group(session, ctx, region, new.remote_group_id)
            for existing in group_rules(session, group.id):
                if same_rule(existing, rule, new.remote_group_id):
                    raise Conflict(
                        f"Security group rule already exists. Rule id is {existing.id}.",
                        kind="SecurityGroupRuleExists",
                    )
            quotas.check(session, region, group.project_id, "security_group_rule")
            row = _rule_row(
                group,
                now(),
                direction=rule.direction,
                ethertype=rule.ethertype,
                protocol=rule.protocol,
                port_range_min=rule.port_range_min,
                port_range_max=rule.port_range_max,
                remote_ip_prefix=rule.remote_ip_prefix,
                remote_group_id=new.remote_group_id,
            )
            row.description = new.description
            insert_rows(session, [row])
            created = rule_info(row)
        with self.rule_removed_on_failure(region, group.id, created.id):
            # the group as loaded above (its backend ref is written once, by its create); the
            # backend is given its rules as read in its realization's turn
            self._realize(region, group)
        return created

    def _load_rule(
        self, session: Session, ctx: RequestContext, region: str, rule_id: str
    ) -> RuleRow:
        return _SEEN_RULE.load(session, ctx, region, rule_id)

    def get_rule(self, ctx: RequestContext, region: str, rule_id: str) -> RuleInfo:
        with self.db.session() as session:
            return rule_info(self._load_rule(session, ctx, region, rule_id))

    def list_rules(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[RuleInfo]:
        with self.db.session() as session:
            visible = owned_by(ctx, RuleRow.project_id)
            rows = visible_page(session, RuleRow, region, visible, filters, page, RULE_COLUMNS)
            return [rule_info(r) for r in rows]

    def delete_rule(self, ctx: RequestContext, region: str, rule_id: str) -> None:
        with self.db.session() as session:
            row = self._load_rule(session, ctx, region, rule_id)
            check_owner(ctx, row.project_id, "security group rule", rule_id)
            group_id = row.group_id
        self.drop_rule(region, group_id, rule_id)


def _in_use(group_id: str) -> Conflict:
    return Conflict(f"Security Group {group_id} in use.", kind="SecurityGroupInUse")


_GROUPS = table_of(SecurityGroup).c
#: the project's ``default`` group, built once: read on every port's and server's create
_DEFAULT_GROUP = select(_GROUPS.id).where(
    _GROUPS.region == bindparam("region"), _GROUPS.default_for == bindparam("project_id")
)
#: a group of the project by id or name, with its backend ref, built once
_GROUP_REF = select(_GROUPS.id, _GROUPS.native_ref).where(
    _GROUPS.region == bindparam("region"),
    _GROUPS.project_id == bindparam("project_id"),
    (_GROUPS.id == bindparam("item")) | (_GROUPS.name == bindparam("item")),
)


def default_group(session: Session, region: str, project_id: str) -> str | None:
    """The id of the project's ``default`` group, if it was made."""
    found: str | None = run_core(
        session, _DEFAULT_GROUP, {"region": region, "project_id": project_id}
    ).scalar()
    return found


def validate_groups(
    session: Session, region: str, project_id: str, wanted: Sequence[str]
) -> list[str]:
    """Ids of the groups a port of ``project_id`` asks for, by id or name (404 if unknown)."""
    return list(validated_group_refs(session, region, project_id, wanted))


def validated_group_refs(
    session: Session, region: str, project_id: str, wanted: Sequence[str]
) -> dict[str, str | None]:
    """As :func:`validate_groups`, each id with the group's backend ref (None: not made
    there yet), read with it."""
    out: dict[str, str | None] = {}
    for item in wanted:
        found = run_core(
            session, _GROUP_REF, {"region": region, "project_id": project_id, "item": item}
        ).all()
        if not found:
            raise NotFound(f"Security group {item} does not exist", kind="SecurityGroupNotFound")
        if len(found) > 1:
            raise BadRequest(f"Multiple security groups are named {item}; use an id.")
        out.setdefault(found[0].id, found[0].native_ref)
    return out
